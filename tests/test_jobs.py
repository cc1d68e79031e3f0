"""Runs started in the background (the workbench's Start a run): a detached `evals run` that records its progress in
the results database, can be cancelled, and is found again by anyone who looks."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from promptarena import jobs
from promptarena.store import ResultsStore
from tests.support.cli import cli, exited
from tests.support.git import GitRepo
from tests.support.repos import COUNTRIES, count_rows, edit_suite, qa_repo, results_db
from tests.support.workbench import APP, Workbench, build_workbench, point_app_at


def slow_repo(root: Path, delay_s: float) -> GitRepo:
    """The qa repository whose fake model takes ``delay_s`` per answer."""
    repo = qa_repo(root)
    responses = {f"Capital of {c}?": city for c, city in COUNTRIES.items()}
    edit_suite(repo, model={"backend": "fake", "responses": responses, "delay_s": delay_s})
    repo.commit("qa: a slow model")
    return repo


def wait_for(check: Callable[[], object], timeout: float = 60) -> object:
    """Poll ``check`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    pytest.fail(f"gave up after {timeout} s")


def test_a_background_run_records_its_progress_and_completes(tmp_path: Path) -> None:
    repo = slow_repo(tmp_path / "repo", delay_s=0.15)
    db = results_db(repo)
    job = jobs.start(repo.root, db, "qa", revisions=["HEAD", "HEAD~2"], variants=["plain"])
    assert jobs.job_state(job, db).state in ("starting", "running")  # it returned at once
    seen: list[tuple[str, str, int, int]] = []  # (the job's state, phase, done, total) each time progress moved

    def finished() -> bool:
        state = jobs.job_state(job, db)
        if state.progress and (p := (state.progress.phase, state.progress.done, state.progress.total)) not in [
            s[1:] for s in seen
        ]:
            seen.append((state.state, *p))
        return not state.active

    wait_for(finished)
    total = 2 * len(COUNTRIES)
    generated = [done for state, phase, done, of in seen if phase == "generate" and of == total and state == "running"]
    assert len(generated) >= 3 and generated == sorted(generated)  # it advanced, seen from outside the process
    # what the run records last may first be seen once it has ended; anything before it was seen while running
    assert all(state == "running" for state, *_ in seen[:-1]), seen
    state = jobs.job_state(job, db)
    assert state.state == "completed" and job.exit_code == 0
    (run,) = state.runs
    assert run.pid == job.pid and run.record.generated == 2 * len(COUNTRIES)
    assert jobs.active(repo.root, db) == []
    assert "all gates passed" in job.log.read_text()
    assert [j.id for j in jobs.jobs(repo.root)] == [job.id]  # any page finds it again


def test_old_ended_jobs_are_pruned_and_running_ones_kept(tmp_path: Path) -> None:
    folder = jobs.jobs_dir(tmp_path)
    folder.mkdir(parents=True)
    for i in range(6):  # oldest first; job 1 never ended
        for suffix in (".json", ".log") + ((".rc",) if i != 1 else ()):
            (folder / f"20260101-00000{i}-abc{suffix}").write_text("0")
    assert jobs.prune(tmp_path, keep=3) == 2
    left = sorted(p.name for p in folder.iterdir())
    assert [name for name in left if name.endswith(".json")] == [f"20260101-00000{i}-abc.json" for i in (1, 3, 4, 5)]
    assert not any(name.startswith(("20260101-000000", "20260101-000002")) for name in left)
    assert jobs.prune(tmp_path, keep=3) == 0


def test_cancel_stops_the_run_as_interrupted_and_keeps_its_generations(tmp_path: Path) -> None:
    repo = slow_repo(tmp_path / "repo", delay_s=0.3)
    db = results_db(repo)
    job = jobs.start(repo.root, db, "qa")
    wait_for(lambda: (p := jobs.job_state(job, db).progress) and p.phase == "generate" and p.done >= 2)
    (activity,) = jobs.active(repo.root, db)
    assert activity.cancellable and activity.pid == job.pid
    assert jobs.cancel(job.pid)
    assert wait_for(lambda: job.exit_code) == 143
    state = jobs.job_state(job, db)
    assert state.state == "interrupted"
    assert count_rows(db, "generations") >= 2  # what it generated stays cached
    with pytest.raises(ProcessLookupError):
        os.kill(job.pid, 0)
    assert not jobs.cancel(job.pid)
    assert jobs.active(repo.root, db) == []


def test_a_job_that_cannot_start_says_why(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    db = results_db(repo)
    job = jobs.start(repo.root, db, "qa", variants=["plian"])
    wait_for(lambda: job.exit_code is not None)
    state = jobs.job_state(job, db)
    assert job.exit_code == 2 and state.state == "exited" and state.runs == []
    assert "lists no variant 'plian' (did you mean plain?)" in state.message


def test_run_evaluates_only_the_variants_named(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo", variants=["plain", "cot"])
    exited(cli("run", "--repo", str(repo.root), "--variant", "cot", "--rev", "HEAD"), 0)
    with ResultsStore(results_db(repo)) as results:
        (run,) = results.runs()
    assert [a.variant for a in run.record.arms] == ["cot"]


def test_progress_is_stored_at_most_every_interval_and_at_each_new_phase(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "results.db") as results:
        run_id = results.start_run("qa", "qa", {})
        write = results.progress_writer(every_s=60)
        before = results.conn.total_changes
        for done in range(101):
            write("generate", done, 100)
        write("score exact_match", 0, 100)
        assert results.conn.total_changes - before == 3  # the first, the last, the new phase
        (run,) = results.runs()
        assert run.id == run_id and (run.progress.phase, run.progress.done) == ("score exact_match", 0)


# --- the Start a run page ---------------------------------------------------------------------------------


def start_page(bench: Workbench, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    point_app_at(monkeypatch, bench.repo.root, bench.db)
    at = AppTest.from_file(str(APP / "pages" / "5_Start_a_run.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_switching_suite_starts_from_its_defaults_and_a_disabled_start_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = build_workbench(tmp_path, run=False)
    at = start_page(bench, monkeypatch)
    assert at.selectbox(key="run_suite").value == "math"
    every_version = at.multiselect(key="run_versions").value
    assert len(every_version) == 3
    at.multiselect(key="run_versions").set_value(every_version[:1]).run()
    at.multiselect(key="run_variants").set_value([]).run()
    assert at.button(key="run_start").disabled
    assert [i.value for i in at.info] == ["Pick at least one variant to start a run."]
    at.selectbox(key="run_suite").select("never_run").run()
    assert at.multiselect(key="run_versions").value == every_version  # its defaults, not math's choice
    assert at.multiselect(key="run_variants").value == ["plain"]
    assert not at.button(key="run_start").disabled and not at.info
    at.multiselect(key="run_versions").set_value([]).run()
    assert [i.value for i in at.info] == ["Pick at least one version to start a run."]
    at.selectbox(key="run_suite").select("math").run()
    assert at.multiselect(key="run_versions").value == every_version
    assert at.multiselect(key="run_variants").value == ["plain", "cot", "self_consistency"]


def test_a_run_started_on_the_page_is_shown_there_again_when_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = build_workbench(tmp_path, run=False)
    at = start_page(bench, monkeypatch)
    at.multiselect(key="run_variants").set_value(["plain"]).run()
    at.button(key="run_start").click().run()
    (job,) = jobs.jobs(bench.repo.root)
    assert job.argv[-2:] == ["--variant", "plain"] and job.argv.count("--rev") == 3
    wait_for(lambda: not jobs.job_state(job, bench.db).active)
    again = start_page(bench, monkeypatch)  # a new session: leaving the page and coming back
    (done,) = again.success
    assert "completed: 24 generated, 0 from the cache" in done.value  # 3 versions x 8 cases
