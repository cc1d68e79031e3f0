"""The results database file: connection, migrations, write transactions, integrity checks, errors named.

WAL mode and a busy timeout let the UI read and write feedback while `evals run` writes; every write
is one `BEGIN IMMEDIATE` transaction, so a reader never sees half of it and a killed run leaves only
whole rows. Schema changes are numbered migrations recorded in `PRAGMA user_version`. A new file is made
under a temporary name and linked in place; an existing one is checked before use. Every SQLite failure
leaves as a BackendError that names the file and the cause (disk full, locked, corrupt).
"""

from __future__ import annotations

import os
import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from promptarena.errors import BackendError, ConfigError
from promptarena.store._migrations import MIGRATIONS

__all__ = ["MIGRATIONS", "Database", "default_path", "now"]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def default_path(root: str | Path) -> Path:
    """The results database of a repository: ``$PROMPTARENA_DB``, else ``<root>/.promptarena/results.db``."""
    env = os.environ.get("PROMPTARENA_DB")
    return Path(env).expanduser() if env else Path(root) / ".promptarena" / "results.db"


def ignore_results_folder(folder: Path) -> None:
    """Keep a `.promptarena/` results folder out of `git status`, wherever it is: its own `.gitignore` says `*`."""
    ignore = folder / ".gitignore"
    if folder.name == ".promptarena" and not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")


def tables(version: int = len(MIGRATIONS)) -> list[str]:
    """The tables that the first ``version`` migrations leave, in the order they were made (a remade one last)."""
    names: list[str] = []
    pattern = r"CREATE TABLE (\w+)|DROP TABLE (\w+)|ALTER TABLE (\w+) RENAME TO (\w+)"
    for script in MIGRATIONS[:version]:
        for created, dropped, old, new in re.findall(pattern, script):
            if created:
                names.append(created)
            elif dropped:
                names.remove(dropped)
            else:
                names[names.index(old)] = new
    return names


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
            for statement in _statements(script):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")


_CHECKED: dict[str, tuple[tuple[int, ...] | None, ...]] = {}  # files this process found sound, as they were then


def _signature(path: Path) -> tuple[tuple[int, ...] | None, ...]:
    """What changes when anything writes to a database file or its write-ahead log (an empty log, which every
    connection makes anew, counts as none)."""
    found: list[tuple[int, ...] | None] = []
    for name in (path, path.with_name(path.name + "-wal")):
        try:
            st = name.stat()
        except FileNotFoundError:
            found.append(None)
        else:
            empty = st.st_size == 0 and name != path
            found.append(None if empty else (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(found)


def _statements(script: str) -> Iterator[str]:
    """A migration's statements one by one; a trigger's body, whose statements end in semicolons too, kept whole."""
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""


def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the store's settings; ``readonly`` never writes to the file nor makes one beside it.

    Read-only, a file that some process has open (its ``-wal`` or ``-shm`` exists) is read with ``mode=ro``,
    honouring that process's locks; a file at rest (a copy from a teammate) with ``immutable=1``, which takes
    no locks and so needs no ``-shm`` file: a read-only folder or mount is read too.
    """
    target: str | Path = path
    if readonly:
        live = any(path.with_name(path.name + suffix).exists() for suffix in ("-wal", "-shm"))
        target = f"{path.absolute().as_uri()}?{'mode=ro' if live else 'immutable=1'}"
    conn = sqlite3.connect(target, timeout=30.0, isolation_level=None, check_same_thread=False, uri=readonly)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA recursive_triggers = ON")  # a row that INSERT OR REPLACE replaces leaves the search index
    except sqlite3.Error:
        conn.close()
        raise
    return conn


class Database:
    """A results database file, checked, migrated and open. Cheap to open: the UI opens one per operation.

    Opening an existing file checks it first (``PRAGMA quick_check`` and the tables its schema version
    promises) and refuses a damaged or emptied one before anything is written to it. With ``readonly`` (a
    teammate's file to merge) it is only checked and read, at its own ``schema_version``: never migrated,
    never switched to WAL, and readable on a read-only mount.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if not readonly and not self.path.exists():
            self._create()
        with self._guard(writing=False):
            self.conn = _connect(self.path, readonly)
        try:
            self.schema_version = self._check()
            if not readonly:
                with self._guard(writing=True):
                    self.conn.execute("PRAGMA journal_mode = WAL")
                    if self.schema_version < len(MIGRATIONS):
                        _migrate(self.conn)
                self.schema_version = len(MIGRATIONS)
        except BaseException:
            self.conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Database:
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
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside it sees the same state, whatever other processes write."""
        with self.read() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    def count(self, table: str) -> int:
        """The number of rows in one of the store's tables."""
        if table not in tables():
            raise ConfigError(f"no table {table!r} in the results database; its tables are {', '.join(tables())}.")
        with self.read() as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

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
                ignore_results_folder(self.path.parent)
                conn = _connect(tmp)
                try:
                    conn.execute("PRAGMA journal_mode = WAL")
                    _migrate(conn)
                finally:
                    conn.close()
                try:
                    os.link(tmp, self.path)
                except FileExistsError:  # another process made it first: use theirs
                    if self.path.stat().st_size == 0:  # unless a bare SQLite open left an empty file meanwhile
                        os.replace(tmp, self.path)
        finally:
            for suffix in ("", "-wal", "-shm"):
                with suppress(OSError):  # nothing was made where the folder could not be
                    tmp.with_name(tmp.name + suffix).unlink(missing_ok=True)

    def _check(self) -> int:
        """Refuse an emptied, damaged or foreign file, reading only; return its schema version.

        The page-by-page ``quick_check`` reads the whole file (0.4 s at 100,000 outputs), so it is skipped when
        this process has checked the file already and nothing has written to it since (same file, size and
        modification time, its write-ahead log's too): the workbench opens the database once per operation.
        """
        with self._guard(writing=False):
            if self.path.stat().st_size == 0:
                raise self._corrupt("the file is empty")
            signature = _signature(self.path)
        try:
            sound = _CHECKED.get(str(self.path.absolute())) == signature
            problems = ["ok"] if sound else [row[0] for row in self.conn.execute("PRAGMA quick_check")]
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            found = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as err:
            if getattr(err, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR")):
                raise self._failure(err, writing=False) from err
            raise self._corrupt(str(err)) from err
        if problems != ["ok"]:
            raise self._corrupt(problems[0])
        _CHECKED[str(self.path.absolute())] = signature
        if version > len(MIGRATIONS):
            raise BackendError(
                f"the results database {self.path} was made by a newer promptarena (schema {version}, this one "
                f"knows {len(MIGRATIONS)}): upgrade promptarena to use it; it is left as it is."
            )
        missing = [name for name in tables(version) if name not in found]
        if missing:
            raise self._corrupt(f"schema version {version} but no table {', '.join(missing)}")
        return version
