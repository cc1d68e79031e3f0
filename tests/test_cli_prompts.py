"""`evals prompts ...` through click's CliRunner, and once through the real console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pytest
from click.testing import CliRunner

from promptarena.cli import main
from promptarena.cli.prompts import prompts
from tests.support.cli import exited

if TYPE_CHECKING:
    from tests.support.git import GitRepo

V1 = "---\nvariables: [q]\n---\nsystem:\nBe short.\n\nuser:\n{{ q }}\n"
V2 = "---\nvariables: [q]\n---\nsystem:\nBe very short.\n\nuser:\n{{ q }}\n"


@pytest.fixture
def repo(git_repo: GitRepo) -> GitRepo:
    git_repo.write("prompts/qa.prompt", V1)
    git_repo.write("prompts/summary.prompt", V1)
    git_repo.commit("Add qa and summary", author="Ann <ann@example.com>")
    git_repo.write("prompts/qa.prompt", V2)
    git_repo.commit("Make qa shorter", author="Bob <bob@example.com>")
    return git_repo


def invoke(repo: GitRepo, *args: str) -> click.testing.Result:
    return CliRunner().invoke(main, ["prompts", "--repo", str(repo.root), *args])


def test_every_command_and_option_has_help() -> None:
    assert prompts.help
    for name, command in prompts.commands.items():
        assert command.help, f"`evals prompts {name}` has no help"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"`evals prompts {name} {param.opts[0]}` has no help"
    for param in prompts.params:
        assert getattr(param, "help", None)


def test_list_table_and_json(repo: GitRepo) -> None:
    repo.write("prompts/summary.prompt", V2)
    result = invoke(repo, "list")
    assert result.exit_code == 0, result.output
    assert "qa" in result.output and "summary" in result.output and "modified" in result.output
    data = json.loads(invoke(repo, "list", "--json").output)
    rows = {row["name"]: row for row in data["prompts"]}
    assert rows["qa"]["versions"] == 2 and rows["qa"]["dirty"] is False
    assert rows["qa"]["latest_commit"] == repo.rev_parse("HEAD")
    assert rows["summary"]["versions"] == 1 and rows["summary"]["dirty"] is True
    assert data["shallow"] is False


def test_repo_option_also_works_after_the_command(repo: GitRepo) -> None:
    result = CliRunner().invoke(main, ["prompts", "list", "--json", "--repo", str(repo.root)])
    assert [row["name"] for row in json.loads(result.output)["prompts"]] == ["qa", "summary"]


def test_log_table_and_json(repo: GitRepo) -> None:
    result = invoke(repo, "log", "qa")
    assert result.exit_code == 0, result.output
    assert "Make qa shorter" in result.output and "Bob" in result.output
    assert repo.rev_parse("HEAD~1")[:7] in result.output
    data = json.loads(invoke(repo, "log", "qa", "--json").output)
    assert [v["message"] for v in data["versions"]] == ["Make qa shorter", "Add qa and summary"]
    assert data["worktree"] is None
    repo.write("prompts/qa.prompt", V1)
    data = json.loads(invoke(repo, "log", "qa", "--json", "-n", "1").output)
    assert data["worktree"]["dirty"] is True and len(data["versions"]) == 1


def test_log_notes_the_shallow_cut(repo: GitRepo, tmp_path: Path) -> None:
    clone = repo.clone(tmp_path / "shallow", "--depth", "1")
    result = invoke(clone, "log", "qa")
    assert result.exit_code == 0
    assert "history is cut at the shallow boundary" in result.output
    assert "git fetch --unshallow" in result.output
    assert json.loads(invoke(clone, "log", "qa", "--json").output)["shallow"] is True


def test_show_prints_the_text_of_a_version(repo: GitRepo) -> None:
    assert invoke(repo, "show", "qa@HEAD~1").output == V1
    assert invoke(repo, "show", "qa").output == V2
    repo.write("prompts/qa.prompt", "edited")
    assert invoke(repo, "show", "qa@worktree").output == "edited\n"


def test_diff_defaults_to_the_worktree(repo: GitRepo) -> None:
    result = invoke(repo, "diff", "qa@HEAD~1", "qa@HEAD")
    assert result.exit_code == 0
    assert f"--- qa@{repo.rev_parse('HEAD~1')[:7]}" in result.output
    assert "-Be short." in result.output and "+Be very short." in result.output
    repo.write("prompts/qa.prompt", V2.replace("very", "extremely"))
    result = invoke(repo, "diff", "qa@HEAD")
    assert "+++ qa@worktree" in result.output and "+Be extremely short." in result.output
    colored = invoke(repo, "diff", "qa@HEAD", "--color")
    assert "\x1b[32m+Be extremely short.\x1b[0m" in colored.output
    same = invoke(repo, "diff", "qa@HEAD", "qa@HEAD")
    assert same.exit_code == 0 and same.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "qaa@HEAD"), "unknown prompt 'qaa' (did you mean qa?)"),
        (("show", "qa@--output=x"), "starts with '-'"),
        (("show", "qa@nope"), "unknown revision 'nope'"),
        (("log", "sumary"), "did you mean summary?"),
        (("diff", "qa@HEAD~5"), "unknown revision 'HEAD~5'"),
    ],
)
def test_errors_exit_2_with_one_sentence(repo: GitRepo, args: tuple[str, ...], message: str) -> None:
    assert message in exited(invoke(repo, *args), 2)


def test_not_a_repository_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["prompts", "--repo", str(tmp_path), "list"])
    assert result.exit_code == 2 and "not inside a git repository" in result.output


def test_the_console_script_in_a_real_subprocess(repo: GitRepo) -> None:
    evals = Path(sys.executable).with_name("evals")
    listed = subprocess.run(
        [str(evals), "prompts", "list", "--json"], cwd=repo.root, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert [row["name"] for row in json.loads(listed.stdout)["prompts"]] == ["qa", "summary"]
    failed = subprocess.run(
        [str(evals), "prompts", "show", "nosuch"], cwd=repo.root, capture_output=True, text=True, timeout=60
    )
    assert failed.returncode == 2
    assert "unknown prompt 'nosuch'" in failed.stderr
    assert "Traceback" not in failed.stderr
