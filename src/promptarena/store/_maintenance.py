"""Maintenance of whole databases with sqlite-utils: export tables to files, merge a teammate's database.

sqlite-utils (and the pandas it imports) is loaded only inside these methods, so `evals run` never pays for it.
It needs sqlite-utils 4, whose writes nest as savepoints inside the store's own write transaction.
"""

from __future__ import annotations

import csv
import difflib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptarena.errors import BackendError, ConfigError
from promptarena.store._db import MIGRATIONS, Database, tables
from promptarena.store._feedback import merge_votes

if TYPE_CHECKING:
    from sqlite_utils import Database as Utils

FORMATS = ("jsonl", "csv")


@dataclass(frozen=True)
class MergeReport:
    """Rows added per table, and the run ids both databases hold with different contents (skipped)."""

    added: dict[str, int]
    conflicts: list[str] = field(default_factory=list)


def _utils(conn: sqlite3.Connection) -> Utils:
    from sqlite_utils import Database as Utils

    return Utils(conn, recursive_triggers=False, execute_plugins=False)


def _write(rows: Iterable[dict[str, Any]], columns: list[str], path: Path, fmt: str) -> int:
    """Write rows as JSON lines or CSV with a header; return how many. The file appears whole or not at all: it is
    written beside its place and moved there once complete, so a full disk leaves an earlier export as it was."""
    n = 0
    part = path.with_name(f".{path.name}.part")
    try:
        with part.open("w", encoding="utf-8", newline="") as f:
            if fmt == "csv":
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
            for row in rows:
                if fmt == "csv":
                    writer.writerow(row)
                else:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
        os.replace(part, path)
    except OSError as err:
        part.unlink(missing_ok=True)
        raise BackendError(f"cannot write {path} ({err.strerror or err}).") from err
    return n


class Maintenance(Database):
    """Whole-database operations for `evals db`."""

    def export(self, out: Path, names: Sequence[str] = (), fmt: str = "jsonl") -> dict[str, int]:
        """Write each table (all by default) to ``out/<table>.<fmt>`` from one snapshot; return rows per table."""
        known = tables()
        for name in names:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"the tables are {', '.join(known)}."
                raise ConfigError(f"--table {name}: no such table in the results database; {hint}")
        if fmt not in FORMATS:
            raise ConfigError(f"--format {fmt}: not a format; use one of {', '.join(FORMATS)}.")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise BackendError(f"cannot make the folder {out} ({err.strerror or err}).") from err
        counts: dict[str, int] = {}
        with self.snapshot() as conn:
            db = _utils(conn)
            for name in names or known:
                table = db[name]
                counts[name] = _write(table.rows, [c.name for c in table.columns], out / f"{name}.{fmt}", fmt)
        return counts

    def merge(self, other: Database) -> MergeReport:
        """Add what ``other`` holds and this database lacks, in one write transaction.

        ``other`` is only read (open it with ``readonly``); an older one is migrated in a copy beside this file.
        Generations and scores by content key, runs by id with their results (a run id held by both with
        different contents is skipped and named), votes one per person per output (the newer kept; ids are local).
        A run still ``running`` there can never finish here: it comes as ``abandoned`` (a status only a merge
        stores), and a later merge brings the results it has made since, or the whole run once it finished.
        """
        if other.schema_version < len(MIGRATIONS):
            with self._migrated_copy(other) as current:
                return self.merge(current)
        with other.snapshot() as source, self.write() as conn:
            ours, theirs = _utils(conn), _utils(source)
            before = {name: ours[name].count for name in tables()}
            ours["generations"].insert_all(theirs["generations"].rows, ignore=True)
            ours["scores"].insert_all(theirs["scores"].rows, ignore=True)
            known = {row["id"]: row for row in ours["runs"].rows}
            new: list[dict[str, Any]] = []
            finished: list[dict[str, Any]] = []
            partial: set[str] = set()
            conflicts: list[str] = []
            for row in map(_as_merged, theirs["runs"].rows):
                held = known.get(row["id"])
                if held is None:
                    new.append(row)
                elif held["status"] == "abandoned" and row["status"] != "abandoned":  # it finished since
                    finished.append(row)
                elif held["status"] == "abandoned":  # still partial: add the results we lack
                    partial.add(row["id"])
                elif _as_merged(held) != row:
                    conflicts.append(row["id"])
            ours["runs"].insert_all(new)
            ours["runs"].upsert_all(finished, pk="id")
            whole = {row["id"] for row in new + finished}
            ours["results"].insert_all((r for r in theirs["results"].rows if r["run_id"] in whole), replace=True)
            ours["results"].insert_all((r for r in theirs["results"].rows if r["run_id"] in partial), ignore=True)
            merge_votes(conn, theirs["feedback"].rows)
            added = {name: ours[name].count - before[name] for name in tables()}
        return MergeReport(added, sorted(conflicts))

    @contextmanager
    def _migrated_copy(self, other: Database) -> Iterator[Database]:
        """A copy of an older database, made beside this one and migrated to this schema; ``other`` is only read."""
        copy = self.path.with_name(f".{self.path.name}.merge-{uuid.uuid4().hex[:8]}")
        try:
            with self._guard(writing=True):
                target = sqlite3.connect(copy)
                try:
                    other.conn.backup(target)
                finally:
                    target.close()
            with Database(copy) as current:
                yield current
        finally:
            for suffix in ("", "-wal", "-shm"):
                with suppress(OSError):
                    copy.with_name(copy.name + suffix).unlink(missing_ok=True)


def _as_merged(row: dict[str, Any]) -> dict[str, Any]:
    """A run as a merge stores it: one still running in the other file is abandoned here, where nothing runs it."""
    return {**row, "status": "abandoned"} if row["status"] == "running" else row
