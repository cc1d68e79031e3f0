"""`evals run` and `evals compare` as a user runs them: real subprocesses, real git, real SQLite."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import COUNTRIES, EVALS, QA_V1, evals, qa_repo, write_suite

N = len(COUNTRIES)


def _db(repo) -> Path:
    return repo.root / ".promptarena" / "results.db"


def _rows(db: Path, table: str) -> int:
    try:
        # read-only: a poll must not create an empty file where the run is about to make its database
        return sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:  # no database yet, or not migrated yet
        return 0


def test_run_prints_a_table_and_rerun_is_cached(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    first = evals("run", cwd=repo.root)
    assert first.returncode == 0, first.stderr
    assert "exact_match" in first.stdout and "[" in first.stdout  # mean with its interval
    assert f"{2 * N} generated, 0 from cache" in " ".join(first.stdout.split())
    again = evals("run", "--json", cwd=repo.root)
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
    doc = json.loads(evals("run", "--json", cwd=repo.root).stdout)
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
    out = evals("run", "--baseline", "HEAD~2", "--junit-xml", str(junit), "--markdown", str(md), cwd=repo.root)
    assert out.returncode == 1, out.stdout + out.stderr
    text = " ".join(out.stdout.split())
    assert "significant" in text or "worse" in text
    assert "exact_match" in text and "p=" in text
    xml = junit.read_text()
    assert "<failure" in xml and "no regression in exact_match" in xml
    summary = md.read_text()
    assert "quality gate failed" in summary and "worse" in summary


def test_baseline_skips_suites_that_did_not_change(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    out = evals("run", "--baseline", "HEAD", "--json", cwd=repo.root)
    assert out.returncode == 0, out.stderr
    (suite,) = json.loads(out.stdout)["suites"]
    assert suite["skipped"] == "unchanged since HEAD"
    assert _rows(_db(repo), "generations") == 0


def test_compare_reports_paired_statistics(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    out = evals("compare", "qa", "HEAD~1", "HEAD:plain", "--json", cwd=repo.root)
    assert out.returncode == 0, out.stderr
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
    db = _db(repo)
    proc = subprocess.Popen([EVALS, "run"], cwd=repo.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _rows(db, "generations") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = _rows(db, "generations")
    assert 3 <= stored < 2 * N
    out = evals("run", "--json", cwd=repo.root)
    assert out.returncode == 0, out.stderr
    (summary,) = json.loads(out.stdout)["suites"]
    assert summary["generated"] == 2 * N - stored and summary["cached"] == stored
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*), count(DISTINCT key) FROM generations").fetchone() == (2 * N, 2 * N)


# --- bad input: one sentence naming the place, the right exit code, nothing written ----------------


def _bad(tmp_path: Path, edit, *args: str) -> subprocess.CompletedProcess:
    repo = qa_repo(tmp_path / "repo")
    evals("run", cwd=repo.root)  # something already stored, which must survive
    before = _rows(_db(repo), "runs"), _rows(_db(repo), "generations")
    edit(repo)
    out = evals("run", *args, cwd=repo.root)
    assert "Traceback" not in out.stderr
    assert (_rows(_db(repo), "runs"), _rows(_db(repo), "generations")) == before
    return out


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    def edit(repo):
        repo.write("evals/qa.yaml", "prompt: qa\ncases: cases/qa.jsonl\nmetrics: [exact_match\nvariants: [plain]\n")

    out = _bad(tmp_path, edit)
    assert out.returncode == 2
    assert "evals/qa.yaml:" in out.stderr


def test_unknown_metric_suggests_the_near_name(tmp_path: Path) -> None:
    out = _bad(tmp_path, lambda repo: write_suite(repo, metrics=["exact_match", "rouge_L"]))
    assert out.returncode == 2
    assert "evals/qa.yaml:" in out.stderr and "metrics[1]" in out.stderr and "did you mean" in out.stderr


def test_python_object_tag_is_refused(tmp_path: Path) -> None:
    def edit(repo):
        repo.write("evals/qa.yaml", "prompt: !!python/object/apply:os.system ['echo pwned']\ncases: []\n")

    out = _bad(tmp_path, edit)
    assert out.returncode == 2 and "evals/qa.yaml:1" in out.stderr and "not allowed" in out.stderr


def test_missing_variable_names_prompt_variable_and_case(tmp_path: Path) -> None:
    def edit(repo):
        repo.write("evals/cases/qa.jsonl", json.dumps({"id": "c1", "vars": {"nation": "France"}, "reference": "Paris"}))

    out = _bad(tmp_path, edit)
    assert out.returncode == 2
    assert "country" in out.stderr and "c1" in out.stderr and "qa" in out.stderr


def test_missing_case_file(tmp_path: Path) -> None:
    out = _bad(tmp_path, lambda repo: write_suite(repo, cases="cases/nope.jsonl"))
    assert out.returncode == 2 and "cases/nope.jsonl" in out.stderr


def test_unknown_prompt(tmp_path: Path) -> None:
    out = _bad(tmp_path, lambda repo: write_suite(repo, prompt="qaa"))
    assert out.returncode == 2 and "qaa" in out.stderr and "did you mean" in out.stderr


def test_unknown_revision(tmp_path: Path) -> None:
    out = _bad(tmp_path, lambda repo: None, "--rev", "no-such-branch")
    assert out.returncode == 2 and "no-such-branch" in out.stderr


def test_revision_that_looks_like_an_option_is_refused(tmp_path: Path) -> None:
    out = _bad(tmp_path, lambda repo: None, "--rev", "--output=/tmp/x")
    assert out.returncode == 2 and "--output=/tmp/x" in out.stderr


def test_model_path_that_does_not_exist_exits_3(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    out = evals("run", "--backend", "transformers", "--model", str(tmp_path / "no-model"), cwd=repo.root)
    assert out.returncode == 3, out.stderr
    assert "no-model" in out.stderr and "Traceback" not in out.stderr
    assert _rows(_db(repo), "generations") == 0


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
    from promptarena import feedback
    from promptarena.gitstore import PromptStore
    from promptarena.store import ResultsStore

    repo = qa_repo(tmp_path / "repo", thresholds={"thumbs_up": 0.5})
    first = evals("run", cwd=repo.root)
    assert first.returncode == 0 and "thumbs_up" not in first.stdout  # no votes yet: not gated
    head = PromptStore(repo.root).resolve("qa@HEAD")
    with ResultsStore(_db(repo)) as results:
        for case_id, up in [("france", True), ("japan", False), ("italy", False)]:
            feedback.record(
                results,
                suite="qa",
                prompt="qa",
                blob=head.blob,
                variant="plain",
                case_id=case_id,
                output="x",
                thumbs_up=up,
            )
    out = evals("run", cwd=repo.root)
    assert out.returncode == 1
    text = " ".join(out.stdout.split())
    assert "thumbs_up" in text and "0.333 below the threshold 0.5" in text


def test_run_in_a_shallow_clone_says_history_is_cut(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.root}", str(shallow)], check=True)
    out = evals("run", "--json", cwd=shallow)
    assert out.returncode == 0, out.stderr
    assert "shallow" in out.stderr and "git fetch --unshallow" in out.stderr
    (suite,) = json.loads(out.stdout)["suites"]
    assert [a["version"] for a in suite["arms"]] == [repo.rev_parse("HEAD")[:7]]
