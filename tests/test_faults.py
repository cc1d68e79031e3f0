"""Every failure named: each fault exits with its code, says what and where, prints no traceback (except a
bug's), and loses nothing already stored.

Error paths run through click's CliRunner, which goes through the same group (and so the same exit codes)
as the console script; real subprocesses only where a signal or a server is involved.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from promptarena.metrics import Metric, metrics
from promptarena.suite import load_suite
from tests.support.cli import EVALS, cli, evals, exited
from tests.support.git import GitRepo
from tests.support.mounts import on_a_full_disk
from tests.support.net import answers, free_port, wait_for_streamlit
from tests.support.repos import COUNTRIES, QA_V1, count_rows, edit_suite, qa_repo, results_db, statuses, write_suite

N = len(COUNTRIES)
BUG = "error: this is a bug in promptarena; please report it with the traceback below"


@pytest.fixture(autouse=True)
def _no_db_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTARENA_DB", raising=False)


def in_repo(repo: GitRepo, *args: str) -> Result:
    """`evals COMMAND --repo REPO ARGS` in this process."""
    command, *rest = args
    return cli(command, "--repo", str(repo.root), *rest)


def stored(repo: GitRepo) -> tuple[int, int]:
    """(runs, generations) in the repository's results database."""
    return count_rows(results_db(repo), "runs"), count_rows(results_db(repo), "generations")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """The two-version qa repository, evaluated once: a run and its generations are already stored."""
    repo = qa_repo(tmp_path / "repo")
    exited(in_repo(repo, "run"), 0)
    assert stored(repo) == (1, 2 * N)
    return repo


def refused(repo: GitRepo, result: Result, code: int = 2) -> str:
    """The error output of a refused command, after checking its code, no traceback and nothing written."""
    err = exited(result, code)
    assert stored(repo) == (1, 2 * N)
    return err


# --- 1. a bug is exit 4 with the traceback; click's usage errors stay 2 ---------------------------------


def _zero_division(predictions, cases, options):  # noqa: ANN001, ANN202 - a ScoreFn
    return [1 / 0 for _ in predictions]


def test_unexpected_exception_is_a_bug_with_its_traceback(repo: GitRepo) -> None:
    edit_suite(repo, metrics=["exact_match", "broken"])
    with metrics.added("broken", Metric("broken", "raises", _zero_division)):
        result = in_repo(repo, "run")
    exited(result, 4)
    assert result.stderr.startswith(BUG)
    assert "Traceback (most recent call last)" in result.stderr and "ZeroDivisionError" in result.stderr
    runs, generations = stored(repo)
    assert runs == 2 and generations == 2 * N  # the failed run is recorded; what was stored is kept
    assert statuses(repo) == ["completed", "failed"]


def test_console_script_maps_a_bug_to_4_and_a_usage_error_to_2(repo: GitRepo) -> None:
    edit_suite(repo, metrics=["exact_match", "broken"])
    script = (
        "import sys; from promptarena.metrics import Metric, metrics; from promptarena.cli import main; "
        "metrics.register('broken', Metric('broken', 'raises', lambda p, c, o: [1 / 0 for _ in p])); "
        "sys.argv[0] = 'evals'; main()"
    )
    bug = subprocess.run([sys.executable, "-c", script, "run"], cwd=repo.root, capture_output=True, text=True)
    assert bug.returncode == 4 and bug.stderr.startswith(BUG) and "ZeroDivisionError" in bug.stderr
    usage = evals("run", "--no-such-option", cwd=repo.root)
    assert usage.returncode == 2 and "No such option" in usage.stderr and "Traceback" not in usage.stderr


def test_a_closed_output_pipe_is_not_a_failed_gate(repo: GitRepo) -> None:
    """`evals ... | head` closing the pipe ends as SIGPIPE would (141), quietly, never as exit 1."""
    proc = subprocess.Popen(
        [EVALS, "prompts", "show", "qa"], cwd=repo.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()  # the reader is gone before the first write
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 128 + signal.SIGPIPE, stderr
    assert "Traceback" not in stderr


def test_a_reader_that_stops_early_gets_141_and_every_suite_still_runs(tmp_path: Path) -> None:
    """Tables into a pipe whose reader leaves after one line: the suites after it still run and are reported."""
    repo = qa_repo(tmp_path / "repo")
    model = yaml.safe_load((repo.root / "evals/qa.yaml").read_text())["model"]
    write_suite(repo, "slow", cases="cases/qa.jsonl", model={**model, "delay_s": 0.1})  # the reader leaves meanwhile
    write_suite(repo, "then", cases="cases/qa.jsonl", model=model)
    junit = tmp_path / "report.xml"
    proc = subprocess.Popen(
        [EVALS, "run", "--junit-xml", str(junit)], cwd=repo.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout.readline().startswith(b"qa ")  # the first table arrives, then the reader is gone
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 128 + signal.SIGPIPE, stderr
    assert "Traceback" not in stderr and "error" not in stderr
    con = sqlite3.connect(results_db(repo))
    try:
        runs = dict(con.execute("SELECT suite, status FROM runs"))
    finally:
        con.close()
    assert runs == {"qa": "completed", "slow": "completed", "then": "completed"}
    assert junit.read_text().count("<testsuite ") == 3


def test_a_closed_standard_output_is_a_reader_gone_from_the_start(repo: GitRepo) -> None:
    """`evals run >&-`: nothing to print to, the run still stored, 141 as for a closed pipe, no traceback."""
    edit_suite(repo, parameters={"max_new_tokens": 5})  # new cache keys: the run generates again
    proc = subprocess.run(
        [EVALS, "run"], cwd=repo.root, capture_output=False, stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1)
    )
    assert proc.returncode == 128 + signal.SIGPIPE, proc.stderr
    assert b"Traceback" not in proc.stderr
    assert statuses(repo) == ["completed", "completed"] and count_rows(results_db(repo), "generations") == 4 * N


def test_a_deleted_working_folder_is_named_with_its_fix(tmp_path: Path) -> None:
    gone = tmp_path / "gone"

    def enter_then_delete() -> None:
        os.chdir(gone)
        os.rmdir(gone)

    for args in (["run"], ["runs"], ["prompts", "list"]):
        gone.mkdir()
        proc = subprocess.run([EVALS, *args], capture_output=True, text=True, preexec_fn=enter_then_delete)
        assert proc.returncode == 2, proc.stderr
        assert "the current folder no longer exists" in proc.stderr and "Traceback" not in proc.stderr


def test_usage_errors_exit_2_through_the_runner(repo: GitRepo) -> None:
    assert "No such option" in refused(repo, in_repo(repo, "run", "--no-such-option"))
    assert "No such command" in exited(cli("no-such-command"), 2)
    assert "Exit codes" in cli("--help").stdout


# --- 2. SIGTERM, SIGHUP and SIGINT: 128 + signal, the run marked interrupted, generations kept -------------


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)],
    ids=["SIGTERM", "SIGHUP", "SIGINT"],
)
def test_signal_mid_run_is_recorded_and_exits_128_plus_signal(tmp_path: Path, signum: int, code: int) -> None:
    repo = qa_repo(tmp_path / "repo")
    model = yaml.safe_load((repo.root / "evals/qa.yaml").read_text())["model"]
    edit_suite(repo, model={**model, "delay_s": 0.2})
    proc = subprocess.Popen([EVALS, "run"], cwd=repo.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db, deadline = results_db(repo), time.monotonic() + 180  # a loaded machine is slow to start Python
    while count_rows(db, "generations") < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    before = count_rows(db, "generations")
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert f"interrupted by {signal.Signals(signum).name}" in err and "Traceback" not in err
    assert statuses(repo) == ["interrupted"]
    after = count_rows(db, "generations")
    assert before <= after < 2 * N  # what was stored before the signal is kept
    edit_suite(repo, model=model)  # the same fake model (delay_s is not in its fingerprint), fast
    rerun = in_repo(repo, "run", "--json")
    exited(rerun, 0)
    assert json.loads(rerun.stdout)["suites"][0]["cached"] == after


# --- 3. stopping `evals ui` stops the Streamlit server ---------------------------------------------------


def _streamlit_on(port: int) -> list[int]:
    """Pids of processes whose command line runs streamlit on ``port``."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in argv and str(port).encode() in argv:
            pids.append(int(proc.name))
    return pids


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    repo = qa_repo(tmp_path / "repo")
    port = free_port()
    proc = subprocess.Popen(
        [EVALS, "ui", "--repo", str(repo.root), "--db", str(tmp_path / "r.db"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc to find stray servers")
@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -signal.SIGKILL)],
    ids=["SIGTERM", "SIGINT", "SIGKILL"],
)
def test_a_signal_to_evals_ui_stops_the_server_and_exits_128_plus_signal(
    ui: tuple[subprocess.Popen, int], signum: int, code: int
) -> None:
    proc, port = ui
    assert wait_for_streamlit(f"http://127.0.0.1:{port}", proc), "the workbench did not start"
    proc.send_signal(signum)
    assert proc.wait(timeout=20) == code
    deadline = time.monotonic() + 10  # after SIGKILL the server stops on its own signal, in its own time
    while (answers(port) or _streamlit_on(port)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not answers(port)
    assert _streamlit_on(port) == []


# --- 4. case files: line breaks inside strings, encodings, lone surrogates --------------------------------


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\u0085"])
def test_unicode_line_separators_inside_a_json_string_are_text(tmp_path: Path, char: str) -> None:
    cases = [{"id": "a", "vars": {"q": f"one{char}two"}, "reference": "x"}, {"id": "b", "vars": {"q": "z"}}]
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n")
    (tmp_path / "s.yaml").write_text("prompt: qa\nmetrics: [exact_match]\ncases: c.jsonl\n")
    suite = load_suite(tmp_path / "s.yaml")
    assert [c.id for c in suite.cases] == ["a", "b"]
    assert suite.cases[0].vars["q"] == f"one{char}two" and suite.cases[1].meta["where"].endswith("c.jsonl:2")


def test_latin1_case_file_names_line_and_byte(repo: GitRepo) -> None:
    lines = [json.dumps(c) for c in [{"vars": {"country": "France"}}, {"vars": {"country": "Peru"}}]]
    lines.append('{"vars": {"country": "Bogot\xe1"}}')
    (repo.root / "evals/cases/qa.jsonl").write_bytes("\n".join(lines).encode("latin-1"))
    err = refused(repo, in_repo(repo, "run"))
    assert "evals/cases/qa.jsonl:3: not UTF-8 (byte 0xe1 at column 28); save the file as UTF-8." in err


def test_latin1_csv_and_suite_files_are_named(repo: GitRepo) -> None:
    (repo.root / "evals/cases/c.csv").write_bytes("id,country,reference\nx,Bogot\xe1,B\n".encode("latin-1"))
    edit_suite(repo, cases="cases/c.csv")
    assert "evals/cases/c.csv:2: not UTF-8 (byte 0xe1 at column 8)" in refused(repo, in_repo(repo, "run"))
    (repo.root / "evals/qa.yaml").write_bytes("prompt: qa\ndescription: caf\xe9\n".encode("latin-1"))
    assert "evals/qa.yaml:2: not UTF-8 (byte 0xe9 at column 17)" in refused(repo, in_repo(repo, "run"))


def test_lone_surrogate_escape_names_file_and_line(repo: GitRepo) -> None:
    text = (repo.root / "evals/cases/qa.jsonl").read_text().splitlines()
    text[1] = '{"id": "s", "vars": {"country": "\\ud800"}, "reference": "x"}'
    (repo.root / "evals/cases/qa.jsonl").write_text("\n".join(text) + "\n")
    err = refused(repo, in_repo(repo, "run"))
    assert "evals/cases/qa.jsonl:2:" in err and "\\ud800" in err and "surrogate" in err


# --- 5. parameters:, model: and duplicated keys ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"parameters": {"temprature": 0.5}}, "parameters.temprature: unknown field (did you mean temperature?)"),
        ({"parameters": {"max_new_tokens": "lots"}}, "parameters.max_new_tokens: Input should be a valid integer"),
        ({"parameters": {"max_new_tokens": 2.5}}, "parameters.max_new_tokens: Input should be a valid integer"),
        ({"model": {"backend": "fake", "dealy_s": 1}}, "model.dealy_s: unknown field (did you mean delay_s?)"),
        ({"model": {"backend": "transformers", "dtyp": "float16"}}, "model.dtyp: unknown field (did you mean dtype?)"),
        ({"model": {"backend": "transformers", "dtype": "fp8"}}, "model.dtype: Input should be 'auto'"),
        ({"model": {"backend": "fakes"}}, "model.backend: unknown backend 'fakes' (did you mean fake?)"),
    ],
)
def test_suite_parameters_and_model_are_validated_at_load(repo: GitRepo, fields: dict, expected: str) -> None:
    edit_suite(repo, **fields)
    err = refused(repo, in_repo(repo, "run"))
    assert err.startswith("error: evals/qa.yaml:") and expected in err


@pytest.mark.parametrize(
    ("threshold", "says"),
    [
        (80, "80 is outside exact_match's range, 0 to 1 (a share of 1: did you mean 0.8?); write a threshold within"),
        (-0.5, "-0.5 is outside exact_match's range, 0 to 1; write a threshold within it."),
        (float("nan"), "nan is not a threshold; write a number."),
    ],
)
def test_a_threshold_outside_its_metrics_range_is_bad_input(repo: GitRepo, threshold: float, says: str) -> None:
    """80 for 0.8 failed every run (exit 1) and -0.5 passed every run: both are refused at the threshold's line."""
    edit_suite(repo, thresholds={"rougeL": 0.2, "exact_match": threshold}, metrics=["exact_match", "rougeL"])
    lines = (repo.root / "evals/qa.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.strip().startswith("exact_match:"))
    assert f"error: evals/qa.yaml:{line}: thresholds.exact_match: {says}" in refused(repo, in_repo(repo, "run"))


def test_suite_parameters_reach_the_generations(repo: GitRepo) -> None:
    edit_suite(repo, parameters={"max_new_tokens": 3})
    doc = json.loads(in_repo(repo, "run", "--json").stdout)
    assert doc["suites"][0]["generated"] == 2 * N  # new parameters, new cache keys


def test_backend_override_is_validated(repo: GitRepo) -> None:
    err = refused(repo, in_repo(repo, "run", "--backend", "transformer"))
    assert "--backend: unknown backend 'transformer' (did you mean transformers?)" in err


def test_duplicate_key_in_a_suite_names_both_lines(repo: GitRepo) -> None:
    text = (repo.root / "evals/qa.yaml").read_text()
    (repo.root / "evals/qa.yaml").write_text(text + "metrics: [rougeL]\n")
    err = refused(repo, in_repo(repo, "run"))
    last = len(text.splitlines()) + 1
    assert f"evals/qa.yaml:{last}: duplicate key 'metrics' (first at line 3)" in err


def test_duplicate_key_in_prompt_front_matter(repo: GitRepo) -> None:
    repo.write("prompts/qa.prompt", QA_V1.replace("description: capitals\n", "description: a\ndescription: b\n"))
    err = refused(repo, in_repo(repo, "run"))
    assert "prompts/qa.prompt:3: duplicate key 'description' (first at line 2)" in err


# --- 6. checked up front: output paths, alpha, identical arms ----------------------------------------------


@pytest.mark.parametrize("option", ["--junit-xml", "--markdown", "--db"])
def test_unwritable_output_path_is_refused_before_any_model_call(repo: GitRepo, option: str) -> None:
    blocker = repo.root / "a-file"
    blocker.write_text("not a folder")
    err = refused(repo, in_repo(repo, "run", option, str(blocker / "out" / "report")))
    assert option in err and str(blocker) in err and "is a file, not a folder" in err
    err = refused(repo, in_repo(repo, "run", option, str(repo.root / "evals")))
    assert "is a folder" in err


@pytest.mark.parametrize("option", ["--junit-xml", "--markdown"])
def test_a_full_disk_under_a_report_exits_3_and_leaves_the_earlier_report(repo: GitRepo, option: str) -> None:
    """The results are stored, the report is written whole or not at all: the earlier one stays, no partial file."""
    edit_suite(repo, parameters={"max_new_tokens": 5})
    full = repo.root.parent / "full"
    proc, files = on_a_full_disk(full, [EVALS, "run", option, str(full / "report")], cwd=repo.root, keep=("report",))
    assert proc.returncode == 3, proc.stderr
    assert f"error: disk full while writing the report {full / 'report'}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert files == {"fill": "", "report": "before"}
    assert statuses(repo) == ["completed", "completed"]


def test_standard_output_on_a_full_disk_exits_3(repo: GitRepo) -> None:
    full = repo.root.parent / "full"
    for args in (["run"], ["run", "--json"]):
        proc, _ = on_a_full_disk(full, ["sh", "-c", f'exec "$0" "$@" > {full}/out', EVALS, *args], cwd=repo.root)
        assert proc.returncode == 3, proc.stderr
        assert "error: disk full (No space left on device)" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("alpha", ["5", "-1", "0", "1"])
def test_alpha_outside_zero_one_is_refused(repo: GitRepo, alpha: str) -> None:
    assert "--alpha" in refused(repo, in_repo(repo, "run", "--alpha", alpha))
    assert "--alpha" in refused(repo, in_repo(repo, "compare", "qa", "HEAD~1", "HEAD", "--alpha", alpha))


@pytest.mark.parametrize("alpha", ["1e-300", "5e-324"])
def test_a_tiny_alpha_is_a_level_like_any_other(repo: GitRepo, alpha: str) -> None:
    """A level so small that 1 - alpha/2 rounds to 1 still sizes the detectable difference, without a bug."""
    compared = in_repo(repo, "compare", "qa", "HEAD~1", "HEAD", "--alpha", alpha, "--json")
    exited(compared, 0)
    (row,) = json.loads(compared.stdout)["metrics"]
    assert row["verdict"] == "no significant difference" and (row["cases_needed"] or 10**9) > 1000, row
    exited(in_repo(repo, "run", "--baseline", "HEAD~1", "--alpha", alpha), 0)


def test_compare_refuses_identical_arms_before_generating(repo: GitRepo) -> None:
    edit_suite(repo, variants=["plain", "cot"])
    for arms in (["HEAD", "HEAD"], ["HEAD", "HEAD:plain"], ["HEAD:cot", "HEAD~1", "HEAD:cot"]):
        err = refused(repo, in_repo(repo, "compare", "qa", *arms))
        assert "name the same version and variant twice" in err
