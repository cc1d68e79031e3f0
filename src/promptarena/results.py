"""The results store: one SQLite file holding cached generations, cached scores, runs and feedback.

WAL mode and a busy timeout let the UI read and write feedback while `evals run` writes; every write
is one `BEGIN IMMEDIATE` transaction, so a reader never sees half of it and a killed run leaves only
whole rows. Schema changes are numbered migrations recorded in `PRAGMA user_version`.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from promptarena.errors import ConfigError
from promptarena.types import Generation

MIGRATIONS: list[str] = [
    # 1: the cache of generations and scores, runs and their per-case results
    """
    CREATE TABLE generations (
        key TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        request TEXT NOT NULL,
        text TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        latency_s REAL NOT NULL,
        finish_reason TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE scores (
        key TEXT PRIMARY KEY,
        metric TEXT NOT NULL,
        value REAL
    );
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        suite TEXT NOT NULL,
        prompt TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        provenance TEXT NOT NULL,
        summary TEXT
    );
    CREATE INDEX runs_suite ON runs (suite, started_at);
    CREATE TABLE results (
        run_id TEXT NOT NULL REFERENCES runs(id),
        suite TEXT NOT NULL,
        prompt TEXT NOT NULL,
        version TEXT NOT NULL,
        commit_sha TEXT,
        blob TEXT NOT NULL,
        variant TEXT NOT NULL,
        case_id TEXT NOT NULL,
        output TEXT NOT NULL,
        answer TEXT NOT NULL,
        confidence REAL,
        reasoning TEXT,
        details TEXT NOT NULL,
        generation_keys TEXT NOT NULL,
        scores TEXT NOT NULL,
        PRIMARY KEY (run_id, blob, variant, case_id)
    );
    CREATE INDEX results_arm ON results (suite, blob, variant);
    """,
    # 2: people's thumbs up/down on outputs
    """
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        suite TEXT NOT NULL,
        prompt TEXT NOT NULL,
        blob TEXT NOT NULL,
        variant TEXT NOT NULL,
        case_id TEXT NOT NULL,
        output_hash TEXT NOT NULL,
        thumbs_up INTEGER NOT NULL,
        comment TEXT,
        name TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX feedback_arm ON feedback (suite, blob, variant);
    """,
]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunRow:
    id: str
    suite: str
    prompt: str
    status: str
    started_at: str
    finished_at: str | None
    provenance: dict[str, Any]
    summary: dict[str, Any] | None


class ResultsStore:
    """A results database file. Cheap to open: the UI opens one per operation."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as err:
            raise ConfigError(f"{self.path}: not a usable SQLite results database ({err}).") from None
        self.conn = conn
        self.db = Database(conn)
        self._migrate()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken with BEGIN IMMEDIATE so that writers queue instead of failing."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise ConfigError(
                f"{self.path}: made by a newer promptarena (schema {version}); upgrade promptarena to read it."
            )
        for number in range(version, len(MIGRATIONS)):
            with self.write() as conn:
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")

    # --- generations -----------------------------------------------------------------------------

    def cached_generations(self, keys: Iterable[str]) -> dict[str, Generation]:
        out: dict[str, Generation] = {}
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                "SELECT key, text, prompt_tokens, completion_tokens, latency_s, finish_reason "
                f"FROM generations WHERE key IN ({marks})",
                chunk,
            )
            for key, text, pt, ct, lat, fin in rows:
                out[key] = Generation(text, pt, ct, lat, fin)
        return out

    def put_generations(self, rows: Sequence[tuple[str, str, dict[str, Any], Generation]]) -> None:
        """Store (key, model fingerprint, request, generation) rows; a key already stored is kept."""
        stamp = now()
        with self.write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO generations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        key,
                        model,
                        json.dumps(request, ensure_ascii=False),
                        g.text,
                        g.prompt_tokens,
                        g.completion_tokens,
                        g.latency_s,
                        g.finish_reason,
                        stamp,
                    )
                    for key, model, request, g in rows
                ],
            )

    # --- scores ----------------------------------------------------------------------------------

    def cached_scores(self, keys: Iterable[str]) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in self.conn.execute(f"SELECT key, value FROM scores WHERE key IN ({marks})", chunk):
                out[key] = value
        return out

    def put_scores(self, rows: Sequence[tuple[str, str, float | None]]) -> None:
        with self.write() as conn:
            conn.executemany("INSERT OR IGNORE INTO scores VALUES (?, ?, ?)", rows)

    # --- runs ------------------------------------------------------------------------------------

    def start_run(self, suite: str, prompt: str, provenance: dict[str, Any]) -> str:
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        with self.write() as conn:
            conn.execute(
                "INSERT INTO runs (id, suite, prompt, status, started_at, provenance) VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, suite, prompt, "running", now(), json.dumps(provenance, ensure_ascii=False)),
            )
        return run_id

    def finish_run(
        self, run_id: str, status: str, results: Sequence[dict[str, Any]], summary: dict[str, Any] | None
    ) -> None:
        """Write a run's per-case results and its summary in one transaction, and close it."""
        with self.write() as conn:
            if results:
                cols = list(results[0])
                conn.executemany(
                    f"INSERT OR REPLACE INTO results ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    [tuple(r[c] for c in cols) for r in results],
                )
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE id = ?",
                (status, now(), json.dumps(summary, ensure_ascii=False) if summary else None, run_id),
            )

    def runs(self, suite: str | None = None, limit: int = 200) -> list[RunRow]:
        sql = "SELECT id, suite, prompt, status, started_at, finished_at, provenance, summary FROM runs"
        args: list[Any] = []
        if suite:
            sql += " WHERE suite = ?"
            args.append(suite)
        sql += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        args.append(limit)
        return [
            RunRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), json.loads(r[7]) if r[7] else None)
            for r in self.conn.execute(sql, args)
        ]

    def results(self, run_id: str) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM results WHERE run_id = ? ORDER BY version, variant, case_id", (run_id,))
        names = [d[0] for d in cur.description]
        out = []
        for row in cur:
            rec = dict(zip(names, row, strict=True))
            for key in ("details", "generation_keys", "scores"):
                rec[key] = json.loads(rec[key])
            out.append(rec)
        return out

    def count(self, table: str) -> int:
        return self.db[table].count
