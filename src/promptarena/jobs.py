"""Runs started from the workbench: `evals run` in a detached process that outlives the page that started it.

Each job is a file under ``.promptarena/jobs/`` of the repository (what was asked, which process runs it), its
output log beside it, and an exit-code file once it ends. What a job is doing comes from the results database,
where `evals run` records its run, pid, host and progress; so any page, and any server restart, can show it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from promptarena.store import ResultsStore, RunProgress, RunRow, ignore_results_folder, now, run_status

_EVALS = ["-c", "from promptarena.cli import main; main(prog_name='evals')"]
_HOST = socket.gethostname()


KEEP = 100  # the newest jobs whose files are kept; their runs live on in the results database


def jobs_dir(workdir: Path) -> Path:
    """Where the workbench keeps its jobs: ``.promptarena/jobs`` in the repository."""
    return Path(workdir) / ".promptarena" / "jobs"


@dataclass(frozen=True)
class Job:
    """One `evals run` the workbench started: its command, process and log."""

    id: str
    suite: str
    argv: list[str]
    pid: int
    host: str
    started_at: str
    folder: str

    @property
    def log(self) -> Path:
        return Path(self.folder) / f"{self.id}.log"

    @property
    def exit_code(self) -> int | None:
        """The exit code of `evals run`, once it has ended and the workbench saw it end."""
        path = Path(self.folder) / f"{self.id}.rc"
        return int(path.read_text()) if path.is_file() else None


@dataclass(frozen=True)
class JobState:
    """A job as the workbench shows it: ``starting``, ``running``, or how it ended, with its run rows."""

    job: Job
    state: str  # starting, running, completed, interrupted, failed, abandoned, exited
    runs: list[RunRow]
    message: str = ""  # the last line of the log when it ended without a run

    @property
    def progress(self) -> RunProgress | None:
        return self.runs[0].progress if self.runs else None

    @property
    def active(self) -> bool:
        return self.state in ("starting", "running")


@dataclass(frozen=True)
class Activity:
    """A run in progress on this database, started here or elsewhere; ``run_id`` is None while it starts."""

    suite: str
    pid: int | None
    host: str | None
    run_id: str | None
    progress: RunProgress | None

    @property
    def cancellable(self) -> bool:
        return self.pid is not None and self.host == _HOST


def run_argv(
    repo: Path, db: Path, suite: str, revisions: Sequence[str] = (), variants: Sequence[str] = ()
) -> list[str]:
    """The `evals run` command line (this interpreter) for one suite, some revisions and variants."""
    argv = [sys.executable, *_EVALS, "run", suite, "--repo", str(repo), "--db", str(db)]
    argv += [arg for rev in revisions for arg in ("--rev", rev)]
    return argv + [arg for name in variants for arg in ("--variant", name)]


def try_argv(repo: Path, db: Path, suite: str, draft: str, cases: str, variants: Sequence[str] = ()) -> list[str]:
    """The `evals try` command line (this interpreter) for a draft (``NAME@draft-<blob>``) on some cases of a suite."""
    argv = [sys.executable, *_EVALS, "try", draft, "--suite", suite, "--cases", cases, "--repo", str(repo)]
    return argv + ["--db", str(db)] + [arg for name in variants for arg in ("--variant", name)]


def start(workdir: Path, db: Path, suite: str, revisions: Sequence[str] = (), variants: Sequence[str] = ()) -> Job:
    """Launch `evals run` in its own session (a closed page or a stopped server leaves it running); return at once."""
    return launch(workdir, suite, run_argv(workdir, db, suite, revisions, variants))


def launch(workdir: Path, suite: str, argv: list[str]) -> Job:
    """Launch an `evals` command line of ``suite`` as a job, in its own session; return at once."""
    folder = jobs_dir(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    ignore_results_folder(folder.parent)
    job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    started_at = now()
    with (folder / f"{job_id}.log").open("w") as log:
        proc = subprocess.Popen(
            argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    name = Path(suite).stem if suite.endswith((".yaml", ".yml")) else suite  # a suite file is named by its stem
    job = Job(job_id, name, argv, proc.pid, _HOST, started_at, str(folder))
    _write_atomic(folder / f"{job_id}.json", json.dumps(asdict(job)))
    threading.Thread(target=_reap, args=(proc, folder / f"{job_id}.rc"), daemon=True).start()
    prune(workdir)
    return job


def prune(workdir: Path, keep: int = KEEP) -> int:
    """Delete the command, log and exit code of ended jobs older than the newest ``keep``; returns how many."""
    folder = jobs_dir(workdir)
    pruned = 0
    for path in sorted(folder.glob("*.json"), reverse=True)[keep:]:
        if (folder / f"{path.stem}.rc").is_file():  # ended (a running job has no exit code yet)
            for suffix in (".log", ".rc", ".json"):
                (folder / f"{path.stem}{suffix}").unlink(missing_ok=True)
            pruned += 1
    return pruned


def _reap(proc: subprocess.Popen, rc_path: Path) -> None:
    """Wait for the job's process (so it leaves no zombie) and keep its exit code."""
    _write_atomic(rc_path, str(proc.wait()))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def jobs(workdir: Path, limit: int = 20) -> list[Job]:
    """The workbench's jobs in this repository, newest first."""
    files = sorted(jobs_dir(workdir).glob("*.json"), reverse=True)[:limit]
    return [Job(**json.loads(path.read_text())) for path in files]


def job_state(job: Job, db: Path) -> JobState:
    """What the job is doing now, from its process, its exit code and the runs it recorded in ``db``."""
    runs: list[RunRow] = []
    if Path(db).is_file():
        with ResultsStore(db) as results:
            runs = results.process_runs(job.pid, job.host, job.started_at)
    code = job.exit_code
    if code is None and run_status("running", job.pid, job.host) == "running":
        return JobState(job, "running" if runs else "starting", runs)
    if runs:
        return JobState(job, runs[0].status, runs, _gate_note(code))
    return JobState(job, "exited", runs, _last_line(job.log) or f"exit code {code}")


def _gate_note(code: int | None) -> str:
    return "a quality gate failed" if code == 1 else ""


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()] if path.is_file() else []
    return lines[-1].strip() if lines else ""


def active(workdir: Path, db: Path) -> list[Activity]:
    """Every run in progress on ``db`` (from the workbench or any `evals run`), and the workbench's starting jobs."""
    running: list[Activity] = []
    if Path(db).is_file():
        with ResultsStore(db) as results:
            running = [Activity(r.suite, r.pid, r.host, r.id, r.progress) for r in results.active_runs()]
    pids = {(a.pid, a.host) for a in running}
    for job in jobs(workdir):
        if job.exit_code is None and (job.pid, job.host) not in pids:
            state = job_state(job, db)
            if state.state == "starting":
                running.append(Activity(job.suite, job.pid, job.host, None, None))
    return running


def cancel(pid: int) -> bool:
    """Ask a run's process on this machine to stop (SIGTERM): it records the run as interrupted and keeps its
    generations. False when the process is already gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True
