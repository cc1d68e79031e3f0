"""`evals run` and `evals compare` as a user runs them, on real git and real SQLite.

Most go through click's CliRunner in this process (the same group, so the same exit codes); a real subprocess
where a process is killed, and for the smoke tests of exit 0 and 1 through the console script.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.support.cli import EVALS, cli, evals, exited
from tests.support.git import GitRepo
from tests.support.repos import COUNTRIES, QA_V1, count_rows, qa_repo, results_db, write_suite
from tests.support.votes import vote

N = len(COUNTRIES)


def test_run_prints_a_table_and_rerun_is_cached(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    first = evals("run", cwd=repo.root)
    assert first.returncode == 0, first.stderr
    assert "exact_match" in first.stdout and "[" in first.stdout  # mean with its interval
    assert f"{2 * N} generated, 0 from cache" in " ".join(first.stdout.split())
    again = cli("run", "--json", "--repo", str(repo.root))
    exited(again, 0)
    doc = json.loads(again.stdout)
    (suite,) = doc["suites"]
    assert suite["generated"] == 0 and suite["cached"] == 2 * N
    head = repo.rev_parse("HEAD")[:7]
    arm = next(a for a in suite["arms"] if a["version"] == head)
    assert arm["metrics"]["exact_match"]["mean"] == pytest.approx(0.5)


def test_threshold_failure_exits_1_and_says_where(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo", thresholds={"exact_match": 0.9})
    out = evals("run", cwd=repo.root)
    assert out.returncode == 1
    text = " ".join(out.stdout.split())
    assert "FAIL qa:" in text and "exact_match" in text and "below the threshold 0.9" in text


def test_worktree_edit_is_its_own_version(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    repo.write("prompts/qa.prompt", QA_V1)  # uncommitted: back to v1's text
    doc = json.loads(cli("run", "--json", "--repo", str(repo.root)).stdout)
    versions = [a["version"] for a in doc["suites"][0]["arms"]]
    assert versions[0] == "worktree" and doc["suites"][0]["arms"][0]["dirty"] is True
    assert doc["suites"][0]["arms"][0]["metrics"]["exact_match"]["mean"] == 1.0


def test_baseline_gate_fails_on_a_significant_regression(tmp_path: Path) -> None:
    countries = {f"Land{i}": f"City{i}" for i in range(12)}
    cases = [{"id": c, "vars": {"country": c}, "reference": city} for c, city in countries.items()]
    responses = {f"Capital of {c}?": city for c, city in countries.items()}
    responses.update({f"capital city of {c}.": "no idea" for c in countries})
    repo = qa_repo(tmp_path / "repo", responses=responses)
    repo.write("evals/cases/qa.jsonl", "\n".join(json.dumps(c) for c in cases) + "\n")
    write_suite(repo, model={"backend": "fake", "responses": responses})
    repo.git("commit", "-qam", "more cases")  # suite and cases changed, prompt is v2 at HEAD
    junit, md = tmp_path / "out" / "junit.xml", tmp_path / "out" / "pr.md"
    out = cli("run", "--repo", str(repo.root), "--baseline", "HEAD~2", "--junit-xml", str(junit), "--markdown", str(md))
    exited(out, 1)
    text = " ".join(out.stdout.split())
    assert "significant" in text or "worse" in text
    assert "exact_match" in text and "p=" in text
    xml = junit.read_text()
    assert "<failure" in xml and "no regression in exact_match" in xml
    summary = md.read_text()
    assert "quality gate failed" in summary and "worse" in summary


def test_baseline_skips_suites_that_did_not_change(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    out = cli("run", "--repo", str(repo.root), "--baseline", "HEAD", "--json")
    exited(out, 0)
    (suite,) = json.loads(out.stdout)["suites"]
    assert suite["skipped"] == "unchanged since HEAD"
    assert count_rows(results_db(repo), "generations") == 0


def test_compare_reports_paired_statistics(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    out = cli("compare", "qa", "HEAD~1", "HEAD:plain", "--json", "--repo", str(repo.root))
    exited(out, 0)
    doc = json.loads(out.stdout)
    (row,) = doc["metrics"]
    assert row["mean_a"] == 1.0 and row["mean_b"] == 0.5
    assert row["losses"] == N // 2 and row["wins"] == 0
    assert row["p_value"] == pytest.approx(0.25)  # exact McNemar, 0 vs 3 discordant pairs: 2 * 0.5**3
    assert row["verdict"] == "no significant difference"
    assert doc["cases"][0]["disagreement"] > 0


def test_killed_run_resumes_without_duplicates(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    suite = yaml.safe_load((repo.root / "evals/qa.yaml").read_text())
    suite["model"]["delay_s"] = 0.25
    (repo.root / "evals/qa.yaml").write_text(yaml.safe_dump(suite))
    db = results_db(repo)
    proc = subprocess.Popen([EVALS, "run"], cwd=repo.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180  # a loaded machine can take a minute to start the interpreter
    while count_rows(db, "generations") < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = count_rows(db, "generations")
    assert 3 <= stored < 2 * N
    out = cli("run", "--json", "--repo", str(repo.root))
    exited(out, 0)
    (summary,) = json.loads(out.stdout)["suites"]
    assert summary["generated"] == 2 * N - stored and summary["cached"] == stored
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*), count(DISTINCT key) FROM generations").fetchone() == (2 * N, 2 * N)


# --- bad input: one sentence naming the place, the right exit code, nothing written ----------------


def _bad(tmp_path: Path, edit: Callable[[GitRepo], object], *args: str, code: int = 2) -> str:
    """Run once, ``edit`` the repository, run again: exit ``code``, no traceback, nothing more stored; its stderr."""
    repo = qa_repo(tmp_path / "repo")
    exited(cli("run", "--repo", str(repo.root)), 0)  # something already stored, which must survive
    before = count_rows(results_db(repo), "runs"), count_rows(results_db(repo), "generations")
    assert before == (1, 2 * N)
    edit(repo)
    err = exited(cli("run", "--repo", str(repo.root), *args), code)
    assert (count_rows(results_db(repo), "runs"), count_rows(results_db(repo), "generations")) == before
    return err


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    def edit(repo: GitRepo) -> None:
        repo.write("evals/qa.yaml", "prompt: qa\ncases: cases/qa.jsonl\nmetrics: [exact_match\nvariants: [plain]\n")

    assert "evals/qa.yaml:" in _bad(tmp_path, edit)


def test_unknown_metric_suggests_the_near_name(tmp_path: Path) -> None:
    err = _bad(tmp_path, lambda repo: write_suite(repo, metrics=["exact_match", "rouge_L"]))
    assert "evals/qa.yaml:" in err and "metrics[1]" in err and "did you mean" in err


def test_python_object_tag_is_refused(tmp_path: Path) -> None:
    def edit(repo: GitRepo) -> None:
        repo.write("evals/qa.yaml", "prompt: !!python/object/apply:os.system ['echo pwned']\ncases: []\n")

    err = _bad(tmp_path, edit)
    assert "evals/qa.yaml:1" in err and "not allowed" in err


def test_missing_variable_names_prompt_variable_and_case(tmp_path: Path) -> None:
    def edit(repo: GitRepo) -> None:
        repo.write("evals/cases/qa.jsonl", json.dumps({"id": "c1", "vars": {"nation": "France"}, "reference": "Paris"}))

    err = _bad(tmp_path, edit)
    assert "country" in err and "c1" in err and "qa" in err


def test_missing_case_file(tmp_path: Path) -> None:
    assert "cases/nope.jsonl" in _bad(tmp_path, lambda repo: write_suite(repo, cases="cases/nope.jsonl"))


def test_unknown_prompt(tmp_path: Path) -> None:
    err = _bad(tmp_path, lambda repo: write_suite(repo, prompt="qaa"))
    assert "qaa" in err and "did you mean" in err


def test_unknown_revision(tmp_path: Path) -> None:
    assert "no-such-branch" in _bad(tmp_path, lambda repo: None, "--rev", "no-such-branch")


def test_revision_that_looks_like_an_option_is_refused(tmp_path: Path) -> None:
    assert "--output=/tmp/x" in _bad(tmp_path, lambda repo: None, "--rev", "--output=/tmp/x")


def test_model_path_that_does_not_exist_exits_3(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    out = cli("run", "--repo", str(repo.root), "--backend", "transformers", "--model", str(tmp_path / "no-model"))
    assert "no-model" in exited(out, 3)
    assert count_rows(results_db(repo), "generations") == 0


def test_help_on_every_command() -> None:
    from click import Group

    from promptarena.cli import main

    def walk(cmd, path):
        assert cmd.help, f"{path} has no help text"
        for param in cmd.params:
            if getattr(param, "param_type_name", "") == "option" and param.name not in ("help", "version"):
                assert param.help, f"{path} {param.opts} has no help"
        if isinstance(cmd, Group):
            for name, sub in cmd.commands.items():
                walk(sub, f"{path} {name}")

    walk(main, "evals")


def test_thumbs_up_share_is_shown_and_gated(tmp_path: Path) -> None:
    from promptarena.gitstore import PromptStore
    from promptarena.store import ResultsStore

    repo = qa_repo(tmp_path / "repo", thresholds={"thumbs_up": 0.5})
    first = cli("run", "--repo", str(repo.root))
    exited(first, 0)
    header = next(line for line in first.stdout.splitlines() if "exact_match" in line)
    assert "thumbs_up" not in header and "all gates passed" in first.stdout  # no votes yet: not gated
    head = PromptStore(repo.root).resolve("qa@HEAD")
    with ResultsStore(results_db(repo)) as results:
        for case_id, up in [("france", True), ("japan", False), ("italy", False)]:
            vote(results, head.blob, case_id, "x", up)
    out = cli("run", "--repo", str(repo.root))
    exited(out, 1)
    assert "thumbs_up" in next(line for line in out.stdout.splitlines() if "exact_match" in line)
    gate = f"FAIL qa: {repo.rev_parse('HEAD')[:7]}:plain thumbs_up >= 0.5: 0.333 below the threshold 0.5"
    assert gate in " ".join(out.stdout.split())


def test_run_in_a_shallow_clone_says_history_is_cut(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.root}", str(shallow)], check=True)
    out = cli("run", "--json", "--repo", str(shallow))
    err = exited(out, 0)
    assert "shallow" in err and "git fetch --unshallow" in err
    (suite,) = json.loads(out.stdout)["suites"]
    assert [a["version"] for a in suite["arms"]] == [repo.rev_parse("HEAD")[:7]]
