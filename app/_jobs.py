"""Runs in the background, on every page: the sidebar's runs in progress (with Cancel) and the jobs started here.

Both refresh themselves with ``st.fragment(run_every=...)`` only while something runs, so an idle page is still.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from promptarena import jobs
from promptarena.errors import PromptArenaError
from promptarena.store import RunProgress
from promptarena.views import Workspace

REFRESH_S = 1.0


def progress_text(suite: str, progress: RunProgress | None) -> tuple[float, str]:
    """The bar's fraction and its text: ``math: generate 12/40``, or ``starting`` before the first step."""
    if progress is None:
        return 0.0, f"{suite}: starting"
    share = progress.done / progress.total if progress.total else 0.0
    return min(share, 1.0), f"{suite}: {progress.phase} {progress.done}/{progress.total}"


def sidebar_runs(ws: Workspace) -> None:
    """The runs in progress on this database, in the sidebar, each with a Cancel button."""
    try:
        busy = bool(jobs.active(ws.workdir, ws.db))
    except PromptArenaError:
        return  # a damaged database: the page itself says so
    with st.sidebar:
        st.fragment(_running, run_every=REFRESH_S if busy else None)(ws.workdir, ws.db, busy)


def _running(workdir: Path, db: Path, busy: bool) -> None:
    items = jobs.active(workdir, db)
    if busy and not items:
        st.rerun()  # the last one ended: refresh the whole page once, and stop polling
    if not items:
        return
    st.caption("Running now")
    stopping = st.session_state.setdefault("_jobs_stopping", set())
    for item in items:
        share, text = progress_text(item.suite, item.progress)
        st.progress(share, text=f"{text} · stopping" if item.pid in stopping else text)
        if not item.cancellable or item.pid in stopping:
            continue
        asking = st.session_state.setdefault("_jobs_asking", set())
        if item.pid not in asking:
            st.button("Cancel", key=f"cancel-{item.pid}", help="Stop this run (asks first)", on_click=asking.add,
                      args=(item.pid,))  # fmt: skip
            continue
        st.caption(f"Stop the run of {item.suite}? What it generated stays cached; running it again resumes.")
        yes, no = st.columns(2)
        yes.button("Stop it", key=f"cancel-yes-{item.pid}", type="primary", on_click=_stop, args=(item,))
        no.button("Keep running", key=f"cancel-no-{item.pid}", on_click=asking.discard, args=(item.pid,))


def _stop(item: jobs.Activity) -> None:
    """Stop a run once its Cancel is confirmed; what it generated stays cached."""
    st.session_state["_jobs_asking"].discard(item.pid)
    if jobs.cancel(item.pid):  # type: ignore[arg-type]
        st.session_state["_jobs_stopping"].add(item.pid)
        st.toast(f"Asked the run of {item.suite} to stop; what it generated stays cached.")


def recent_jobs(ws: Workspace, limit: int = 5) -> None:
    """The latest runs started from the workbench in this repository, live while one of them runs."""
    states = [jobs.job_state(job, ws.db) for job in jobs.jobs(ws.workdir, limit)]
    if not states:
        return
    busy = any(s.active for s in states)
    st.fragment(_recent, run_every=REFRESH_S if busy else None)(ws.workdir, ws.db, limit, busy)


def _recent(workdir: Path, db: Path, limit: int, busy: bool) -> None:
    states = [jobs.job_state(job, db) for job in jobs.jobs(workdir, limit)]
    if busy and not any(s.active for s in states):
        st.rerun()
    st.subheader("Runs started here")
    for state in states:
        _job(state)


def _job(state: jobs.JobState) -> None:
    """One job: its bar while it runs, else how it ended."""
    started = state.job.started_at.replace("T", " ")[:19]
    if state.active:
        share, text = progress_text(state.job.suite, state.progress)
        st.progress(share, text=f"{text} (started {started})")
        return
    run = state.runs[0] if state.runs else None
    if state.state == "completed" and run is not None and run.record is not None:
        note = f"; {state.message}" if state.message else ""
        st.success(
            f"Run {run.id} of {run.suite} completed: {run.record.generated} generated, "
            f"{run.record.cached} from the cache, {run.record.wall_s:.1f} s{note}. "
            "Open **Overview**, **Compare** or **Runs** to see it."
        )
    elif run is not None:
        stopped = run.stopped
        error = stopped.error if stopped else state.state
        done = ""
        if stopped and stopped.generated is not None:
            done = f"; {stopped.generated} generated and {stopped.cached or 0} from the cache before it stopped"
        st.warning(f"Run {run.id} of {run.suite}: {error}{done}. Run it again to resume from there.")
    else:
        st.error(f"The run of {state.job.suite} started {started} did not start: {state.message}")
