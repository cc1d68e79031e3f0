"""The results store: one SQLite file holding cached generations, cached scores, runs and feedback.

WAL mode and a busy timeout let the UI read and write feedback while `evals run` writes; every write
is one `BEGIN IMMEDIATE` transaction, so a reader never sees half of it and a killed run leaves only
whole rows. Schema changes are numbered migrations recorded in `PRAGMA user_version`. A new file is made
under a temporary name and linked in place; an existing one is checked before use. Every SQLite failure
leaves as a BackendError that names the file and the cause (disk full, locked, corrupt).
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from promptarena.errors import BackendError, ConfigError
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
    # 3: which process on which host runs a run, so that one left running by a dead process shows as abandoned
    """
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN host TEXT;
    """,
]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_HOST = socket.gethostname()


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
    summary: dict[str, Any] | None
    pid: int | None = None
    host: str | None = None


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


def _tables(version: int) -> list[str]:
    """The tables that the first ``version`` migrations create."""
    return [name for script in MIGRATIONS[:version] for name in re.findall(r"CREATE TABLE (\w+)", script)]


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back whole on any failure."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite has already rolled back after a full disk
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def _migrate(conn: sqlite3.Connection) -> None:
    """Apply the missing migrations in one write transaction, reading the version under its lock.

    Two processes opening an old or new database at once queue here; the second finds nothing to do.
    """
    with _transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= len(MIGRATIONS):
            return
        for script in MIGRATIONS[version:]:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error:
        conn.close()
        raise
    return conn


class ResultsStore:
    """A results database file. Cheap to open: the UI opens one per operation.

    Opening an existing file checks it first (``PRAGMA quick_check`` and the tables its schema version
    promises) and refuses a damaged or emptied one before anything is written to it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            self._create()
        with self._guard(writing=False):
            self.conn = _connect(self.path)
        try:
            version = self._check()
            with self._guard(writing=True):
                self.conn.execute("PRAGMA journal_mode = WAL")
                if version < len(MIGRATIONS):
                    _migrate(self.conn)
        except BaseException:
            self.conn.close()
            raise
        self.db = Database(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken with BEGIN IMMEDIATE so that writers queue instead of failing.

        A failed write is rolled back whole and raised as a BackendError that names its cause.
        """
        with self._guard(writing=True), _transaction(self.conn) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection for queries, with any SQLite failure raised as a BackendError that names it."""
        with self._guard(writing=False):
            yield self.conn

    @contextmanager
    def _guard(self, *, writing: bool) -> Iterator[None]:
        """Turn a sqlite3 or file-system error into a BackendError that names the database and the cause."""
        try:
            yield
        except sqlite3.Error as err:
            raise self._failure(err, writing) from err
        except OSError as err:
            raise BackendError(f"cannot use the results database {self.path} ({err.strerror or err}).") from err

    def _failure(self, err: sqlite3.Error, writing: bool) -> BackendError:
        name = getattr(err, "sqlite_errorname", "")
        if writing and name.startswith(("SQLITE_FULL", "SQLITE_IOERR")):
            return BackendError(
                f"disk full while writing the results database at {self.path}; what was stored is intact ({err})."
            )
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
            return self._corrupt(str(err), "what was stored before is kept as it was" if writing else "")
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return BackendError(
                f"the results database {self.path} is locked by another process ({err}): "
                "try again when that process has finished."
            )
        if name.startswith("SQLITE_READONLY"):
            return BackendError(f"the results database {self.path} is read-only ({err}): make it writable.")
        verb = "write" if writing else "read"
        return BackendError(f"could not {verb} the results database {self.path} ({err}); what was stored is intact.")

    def _corrupt(self, detail: str, written: str = "") -> BackendError:
        detail = " ".join(detail.replace("*** in database main ***", "").split())
        return BackendError(
            f"the results database {self.path} is corrupt ({detail}): restore it from a backup or move it aside; "
            f"{written or 'nothing was written'}."
        )

    def _create(self) -> None:
        """Make a new database under a temporary name and link it in place, so no one sees it half made."""
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.new")
        try:
            with self._guard(writing=True):
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = _connect(tmp)
                try:
                    conn.execute("PRAGMA journal_mode = WAL")
                    _migrate(conn)
                finally:
                    conn.close()
                with suppress(FileExistsError):  # another process made it first: use theirs
                    os.link(tmp, self.path)
        finally:
            for suffix in ("", "-wal", "-shm"):
                tmp.with_name(tmp.name + suffix).unlink(missing_ok=True)

    def _check(self) -> int:
        """Refuse an emptied, damaged or foreign file, reading only; return its schema version."""
        with self._guard(writing=False):
            if self.path.stat().st_size == 0:
                raise self._corrupt("the file is empty")
        try:
            problems = [row[0] for row in self.conn.execute("PRAGMA quick_check")]
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as err:
            if getattr(err, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR")):
                raise self._failure(err, writing=False) from err
            raise self._corrupt(str(err)) from err
        if problems != ["ok"]:
            raise self._corrupt(problems[0])
        if version > len(MIGRATIONS):
            raise ConfigError(
                f"{self.path}: made by a newer promptarena (schema {version}); upgrade promptarena to read it."
            )
        missing = [name for name in _tables(version) if name not in tables]
        if missing:
            raise self._corrupt(f"schema version {version} but no table {', '.join(missing)}")
        return version

    # --- generations -----------------------------------------------------------------------------

    def cached_generations(self, keys: Iterable[str]) -> dict[str, Generation]:
        out: dict[str, Generation] = {}
        for key, text, pt, ct, lat, fin in self._by_keys(
            "SELECT key, text, prompt_tokens, completion_tokens, latency_s, finish_reason FROM generations", keys
        ):
            out[key] = Generation(text, pt, ct, lat, fin)
        return out

    def _by_keys(self, select: str, keys: Iterable[str]) -> list[tuple[Any, ...]]:
        """Rows of ``select ... WHERE key IN (...)`` for every key, 500 keys a query."""
        keys = list(dict.fromkeys(keys))
        rows: list[tuple[Any, ...]] = []
        with self._guard(writing=False):
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows += self.conn.execute(f"{select} WHERE key IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        return rows

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
        for key, value in self._by_keys("SELECT key, value FROM scores", keys):
            out[key] = value
        return out

    def put_scores(self, rows: Sequence[tuple[str, str, float | None]]) -> None:
        with self.write() as conn:
            conn.executemany("INSERT OR IGNORE INTO scores VALUES (?, ?, ?)", rows)

    # --- runs ------------------------------------------------------------------------------------

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
        """The latest runs, newest first; a run whose process died while running shows as ``abandoned``."""
        sql = "SELECT id, suite, prompt, status, started_at, finished_at, provenance, summary, pid, host FROM runs"
        args: list[Any] = []
        if suite:
            sql += " WHERE suite = ?"
            args.append(suite)
        sql += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        args.append(limit)
        with self._guard(writing=False):
            rows = self.conn.execute(sql, args).fetchall()
        return [
            RunRow(
                r[0],
                r[1],
                r[2],
                run_status(r[3], r[8], r[9]),
                r[4],
                r[5],
                json.loads(r[6]),
                json.loads(r[7]) if r[7] else None,
                r[8],
                r[9],
            )
            for r in rows
        ]

    def results(self, run_id: str) -> list[dict[str, Any]]:
        with self._guard(writing=False):
            cur = self.conn.execute(
                "SELECT * FROM results WHERE run_id = ? ORDER BY version, variant, case_id", (run_id,)
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

    def count(self, table: str) -> int:
        with self._guard(writing=False):
            return self.db[table].count
