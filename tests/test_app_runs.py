"""Runs started from the workbench, as the Start a run page and the sidebar show them: named by the suite, asked
before they are cancelled, and, once interrupted, said so in words with what they had done (AppTest, real jobs)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from promptarena import jobs
from promptarena.store import ResultsStore
from tests.support.repos import results_db
from tests.support.workbench import APP, point_app_at
from tests.test_jobs import slow_repo, wait_for


def _start_page() -> AppTest:
    at = AppTest.from_file(str(APP / "Overview.py"), default_timeout=60)
    at.switch_page("pages/5_Start_a_run.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> list[str]:
    kinds = ("markdown", "caption", "info", "warning", "success", "error")
    return [str(e.value) for kind in kinds for e in at.get(kind)] + [str(p.proto) for p in at.get("progress")]


def test_a_run_is_named_by_its_suite_cancelled_only_when_confirmed_and_says_how_it_ended(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    repo = slow_repo(tmp_path / "repo", delay_s=0.3)
    db = results_db(repo)
    point_app_at(monkeypatch, repo.root, db)
    job = jobs.start(repo.root, db, str(repo.root / "evals" / "qa.yaml"))  # as the page starts it: by its file
    assert job.suite == "qa"
    wait_for(lambda: (p := jobs.job_state(job, db).progress) and p.phase == "generate" and p.done >= 2)

    at = _start_page()
    assert not any(str(repo.root) in text for text in _texts(at))  # the suite's name, not its file's path
    at.sidebar.button(key=f"cancel-{job.pid}").click().run()
    assert jobs.job_state(job, db).active  # one click only asks
    assert any(text.startswith("Stop the run of qa?") for text in _texts(at))
    at.sidebar.button(key=f"cancel-no-{job.pid}").click().run()
    assert jobs.job_state(job, db).active and at.sidebar.button(key=f"cancel-{job.pid}")
    at.sidebar.button(key=f"cancel-{job.pid}").click().run()
    at.sidebar.button(key=f"cancel-yes-{job.pid}").click().run()
    assert wait_for(lambda: job.exit_code) == 143

    at = _start_page()
    (ended,) = [w.value for w in at.warning if w.value.startswith(f"Run {jobs.job_state(job, db).runs[0].id}")]
    assert "Interrupted(" not in ended and "interrupted by SIGTERM" in ended
    with ResultsStore(db) as results:
        (run,) = results.runs(suite="qa")
    assert run.stopped is not None and run.stopped.generated >= 2 and run.stopped.cached == 0
    assert f"; {run.stopped.generated} generated and 0 from the cache before it stopped" in ended
