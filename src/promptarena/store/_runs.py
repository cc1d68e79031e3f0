"""Runs and their per-case results; a run left ``running`` by a dead process on this host shows as abandoned."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptarena.store._db import Database, now
from promptarena.store._results import RESULT_COLUMNS, ResultRow

if TYPE_CHECKING:
    from promptarena.store._record import RunRecord, Stopped

_HOST = socket.gethostname()
_COLUMNS = (
    "id, suite, prompt, status, started_at, finished_at, provenance, summary, pid, host, "
    "progress_phase, progress_done, progress_total"
)

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RunProgress:
    """How far a run has come: its phase (``generate``, ``score exact_match``) and ``done`` of ``total`` steps."""

    phase: str
    done: int
    total: int


@dataclass(frozen=True)
class RunRow:
    """A stored run; ``status`` is ``abandoned`` for a run still marked running whose process is gone."""

    id: str
    suite: str
    prompt: str
    status: str
    started_at: str
    finished_at: str | None
    provenance: dict[str, Any]
    record: RunRecord | None  # a completed run's record; None while running, or for a run that failed
    stopped: Stopped | None = None  # why a failed or interrupted run stopped, and what it had done
    pid: int | None = None
    host: str | None = None
    progress: RunProgress | None = None

    @property
    def error(self) -> str | None:
        """Why a failed or interrupted run stopped."""
        return self.stopped.error if self.stopped else None


def run_status(status: str, pid: int | None, host: str | None) -> str:
    """The status to show: a run left ``running`` by a process that no longer exists on this host is abandoned."""
    if status == "running" and pid and host == _HOST and not _alive(pid):
        return "abandoned"
    return status


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class Runs(Database):
    """Runs: started, finished with their results, listed."""

    def start_run(self, suite: str, prompt: str, provenance: dict[str, Any]) -> str:
        """Record a run as running, by this process on this host."""
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        with self.write() as conn:
            conn.execute(
                "INSERT INTO runs (id, suite, prompt, status, started_at, provenance, pid, host) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    suite,
                    prompt,
                    "running",
                    now(),
                    json.dumps(provenance, ensure_ascii=False),
                    os.getpid(),
                    _HOST,
                ),
            )
        return run_id

    def put_results(self, results: Iterable[ResultRow]) -> None:
        """Write per-case result rows (one chunk of a run, as it is scored), in one transaction."""
        rows = [r.values() for r in results]
        if not rows:
            return
        with self.write() as conn:
            conn.executemany(
                f"INSERT OR REPLACE INTO results ({', '.join(RESULT_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(RESULT_COLUMNS))})",
                rows,
            )

    def finish_run(
        self, run_id: str, status: str, record: RunRecord | None = None, stopped: Stopped | None = None
    ) -> None:
        """Close a run: completed with its record, or failed or interrupted with why it stopped."""
        from promptarena.store._record import dump_record, dump_stopped  # pydantic: not for commands that list runs

        summary = dump_record(record) if record else dump_stopped(stopped) if stopped else None
        with self.write() as conn:
            sql = "UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE id = ?"
            conn.execute(sql, (status, now(), summary, run_id))

    def record_progress(self, phase: str, done: int, total: int) -> None:
        """Store the progress of the run that this process is running, for the workbench to show."""
        with self.write() as conn:
            conn.execute(
                "UPDATE runs SET progress_phase = ?, progress_done = ?, progress_total = ? "
                "WHERE pid = ? AND host = ? AND status = 'running'",
                (phase, done, total, os.getpid(), _HOST),
            )

    def progress_writer(self, every_s: float = 0.5) -> ProgressFn:
        """A progress callback that stores at most one step every ``every_s`` seconds (a new phase at once)."""
        last: dict[str, Any] = {"phase": None, "at": 0.0}

        def write(phase: str, done: int, total: int) -> None:
            at = time.monotonic()
            if phase != last["phase"] or done >= total or at - last["at"] >= every_s:
                self.record_progress(phase, done, total)
                last.update(phase=phase, at=at)

        return write

    def result_rows(
        self, run_id: str, arm: tuple[str, str, str], perturbation: str = "", *, after: int = 0, limit: int = 256
    ) -> list[tuple[int, dict[str, Any]]]:
        """(rowid, row) of an arm's (blob, variant, model) results in a run, in the order written, after ``after``."""
        return self._result_rows("rowid > ? ORDER BY rowid LIMIT ?", run_id, arm, perturbation, after, limit)

    def result_row(
        self, run_id: str, arm: tuple[str, str, str], case_id: str, perturbation: str = ""
    ) -> dict[str, Any]:
        """One case's stored result of one arm in one run."""
        ((_, row),) = self._result_rows("case_id = ?", run_id, arm, perturbation, case_id)
        return row

    def _result_rows(
        self, where: str, run_id: str, arm: tuple[str, str, str], perturbation: str, *args: Any
    ) -> list[tuple[int, dict[str, Any]]]:
        sql = (
            "SELECT rowid, output, answer, confidence, reasoning, details, generation_keys FROM results "
            f"WHERE run_id = ? AND blob = ? AND variant = ? AND model = ? AND perturbation = ? AND {where}"
        )
        with self.read() as conn:
            rows = conn.execute(sql, (run_id, *arm, perturbation, *args)).fetchall()
        names = ("output", "answer", "confidence", "reasoning")
        return [
            (rowid, {**dict(zip(names, values, strict=True)), "details": json.loads(d), "keys": json.loads(k)})
            for rowid, *values, d, k in rows
        ]

    def runs(self, suite: str | None = None, limit: int = 200) -> list[RunRow]:
        """The latest runs, newest first; a run whose process died while running shows as ``abandoned``."""
        where, args = ("WHERE suite = ?", [suite]) if suite else ("", [])
        return self._select(where, args, limit)

    def active_runs(self) -> list[RunRow]:
        """The runs still running (not those whose process is gone), newest first, with their progress."""
        return [r for r in self._select("WHERE status = 'running'", [], 1000) if r.status == "running"]

    def process_runs(self, pid: int, host: str, since: str) -> list[RunRow]:
        """The runs that one process on one host started at or after ``since``, newest first."""
        return self._select("WHERE pid = ? AND host = ? AND started_at >= ?", [pid, host, since], 1000)

    def completed_runs(self, suite: str | None = None) -> list[RunRow]:
        """Every completed run with its record, newest first."""
        where, args = "WHERE status = 'completed' AND summary IS NOT NULL", []
        if suite is not None:
            where, args = where + " AND suite = ?", [suite]
        return self._select(where, args, -1)

    def _select(self, where: str, args: list[Any], limit: int) -> list[RunRow]:
        from promptarena.store._record import load_record

        sql = f"SELECT {_COLUMNS} FROM runs {where} ORDER BY started_at DESC, rowid DESC LIMIT ?"
        with self.read() as conn:
            rows = conn.execute(sql, [*args, limit]).fetchall()
        return [
            RunRow(
                r[0],
                r[1],
                r[2],
                run_status(r[3], r[8], r[9]),
                r[4],
                r[5],
                json.loads(r[6]),
                *(load_record(r[7]) if r[7] else (None, None)),
                r[8],
                r[9],
                RunProgress(r[10], r[11] or 0, r[12] or 0) if r[10] else None,
            )
            for r in rows
        ]

    def results(self, run_id: str) -> list[dict[str, Any]]:
        with self.read() as conn:
            cur = conn.execute(
                "SELECT * FROM results WHERE run_id = ? ORDER BY version, variant, model, perturbation, case_id",
                (run_id,),
            )
            rows = cur.fetchall()
        names = [d[0] for d in cur.description]
        out = []
        for row in rows:
            rec = dict(zip(names, row, strict=True))
            for key in ("details", "generation_keys", "scores"):
                rec[key] = json.loads(rec[key])
            out.append(rec)
        return out
