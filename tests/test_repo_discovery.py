"""Every command finds the repository's top folder from any path inside it, as git does; paths the user types
stay relative to the current folder; a path outside any repository is exit 2; the results never show in git."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import evals
from tests.support.git import GitRepo
from tests.support.repos import qa_repo

NO_DB = {"PROMPTARENA_DB": ""}  # the default database, inside the repository


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """Two committed versions of prompts/qa.prompt, a fake-backed suite, and a folder two levels down."""
    repo = qa_repo(tmp_path / "repo")
    repo.write("docs/notes/README.md", "notes\n")
    repo.commit("notes")
    return repo


def run_json(*args: str, cwd: Path) -> dict:
    out = evals(*args, "--json", cwd=cwd, env=NO_DB)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_run_from_a_subfolder_uses_the_repository_and_keeps_git_status_clean(repo: GitRepo) -> None:
    report = run_json("run", cwd=repo.root / "docs" / "notes")
    results = repo.root / ".promptarena"
    assert Path(report["db"]).resolve() == (results / "results.db").resolve()
    assert [s["suite"] for s in report["suites"]] == ["qa"]
    assert not (repo.root / "docs" / "notes" / ".promptarena").exists()
    assert (results / ".gitignore").read_text() == "*\n"
    assert repo.git("status", "--porcelain", "--untracked-files=all") == ""


def test_paths_typed_by_the_user_stay_relative_to_the_current_folder(repo: GitRepo) -> None:
    evals_dir = repo.root / "evals"
    report = run_json("run", "qa.yaml", "--db", "mine.db", cwd=evals_dir)
    assert report["db"] == "mine.db"
    assert (evals_dir / "mine.db").is_file()
    report = run_json("run", "../../evals/qa.yaml", cwd=repo.root / "docs" / "notes")
    assert [s["suite"] for s in report["suites"]] == ["qa"]
    assert (repo.root / ".promptarena" / "results.db").is_file()
    out = evals("run", "evals/qa.yaml", cwd=evals_dir, env=NO_DB)
    assert out.returncode == 2 and "evals/qa.yaml: no such suite file" in out.stderr


def test_prompts_commands_work_from_a_subfolder(repo: GitRepo) -> None:
    sub = repo.root / "evals"
    listing = evals("prompts", "list", "--json", cwd=sub)
    assert listing.returncode == 0, listing.stderr
    assert [p["name"] for p in json.loads(listing.stdout)["prompts"]] == ["qa"]
    log = evals("prompts", "log", "qa", "--json", cwd=sub)
    assert log.returncode == 0 and len(json.loads(log.stdout)["versions"]) == 2
    show = evals("prompts", "show", "qa@HEAD~2", cwd=sub)
    assert show.returncode == 0 and "Capital of {{ country }}?" in show.stdout
    diff = evals("prompts", "diff", "qa@HEAD~2", "qa@HEAD", cwd=sub)
    assert diff.returncode == 0 and "+Name the capital city of {{ country }}." in diff.stdout


def test_runs_compare_and_db_work_from_a_subfolder(repo: GitRepo) -> None:
    sub = repo.root / "docs"
    run_json("run", cwd=repo.root)
    comparison = run_json("compare", "qa", "HEAD~2", "HEAD", cwd=sub)
    assert comparison["suite"] == "qa" and len(comparison["cases"]) == 6
    runs = run_json("runs", cwd=sub)
    assert Path(runs["db"]).resolve() == (repo.root / ".promptarena" / "results.db").resolve()
    assert {r["suite"] for r in runs["runs"]} == {"qa"}
    out = evals("db", "export", "--table", "runs", "--out", "exported", cwd=sub, env=NO_DB)
    assert out.returncode == 0, out.stderr
    assert (sub / "exported" / "runs.jsonl").read_text().count("\n") == len(runs["runs"])


def test_repo_option_may_name_any_folder_inside_the_repository(repo: GitRepo, tmp_path: Path) -> None:
    inside = str(repo.root / "docs" / "notes")
    report = run_json("run", "--repo", inside, cwd=tmp_path)
    assert Path(report["db"]).resolve() == (repo.root / ".promptarena" / "results.db").resolve()
    listing = evals("prompts", "--repo", inside, "list", "--json", cwd=tmp_path)
    assert [p["name"] for p in json.loads(listing.stdout)["prompts"]] == ["qa"]
    assert run_json("runs", "--repo", inside, cwd=tmp_path)["runs"]


def test_the_workbench_finds_the_repository_from_a_subfolder(repo: GitRepo) -> None:
    from promptarena.views import Workspace

    ws = Workspace.from_env(str(repo.root / "docs" / "notes"), None)
    assert ws.workdir == ws.repo == repo.root.resolve()
    with ws.prompts() as store:
        assert store.list_prompts() == ["qa"]


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["prompts", "list"],
        ["runs"],
        ["compare", "qa", "HEAD~1", "HEAD"],
        ["db", "export"],
        ["ui"],
    ],
    ids=lambda c: " ".join(c),
)
def test_a_folder_outside_any_repository_is_exit_2_with_the_fix(tmp_path: Path, command: list[str]) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    out = evals(*command, cwd=plain, env=NO_DB)
    assert out.returncode == 2, out.stderr
    message = " ".join(out.stderr.split())
    assert f"{str(plain)!r} is not inside a git repository" in message
    assert "git init" in message and "--repo" in message
    assert "Traceback" not in out.stderr
    assert not (plain / ".promptarena").exists()
