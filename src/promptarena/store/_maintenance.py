"""Maintenance of whole databases with sqlite-utils: export tables to files, merge a teammate's database.

sqlite-utils (and the pandas it imports) is loaded only inside these methods, so `evals run` never pays for it.
It needs sqlite-utils 4, whose writes nest as savepoints inside the store's own write transaction.
"""

from __future__ import annotations

import csv
import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptarena.errors import BackendError, ConfigError
from promptarena.store._db import Database, tables
from promptarena.store._feedback import merge_votes

if TYPE_CHECKING:
    import sqlite3

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
    """Write rows as JSON lines or CSV with a header; return how many."""
    n = 0
    try:
        with path.open("w", encoding="utf-8", newline="") as f:
            if fmt == "csv":
                writer = csv.DictWriter(f, fieldnames=columns)
                writer.writeheader()
            for row in rows:
                if fmt == "csv":
                    writer.writerow(row)
                else:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    except OSError as err:
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

        Generations and scores by content key, runs by id with their results (a run id held by both with
        different contents is skipped and named), votes one per person per output (the newer kept; ids are local).
        """
        with other.snapshot() as source, self.write() as conn:
            ours, theirs = _utils(conn), _utils(source)
            before = {name: ours[name].count for name in tables()}
            ours["generations"].insert_all(theirs["generations"].rows, ignore=True)
            ours["scores"].insert_all(theirs["scores"].rows, ignore=True)
            known = {row["id"]: row for row in ours["runs"].rows}
            new = [row for row in theirs["runs"].rows if row["id"] not in known]
            conflicts = sorted(row["id"] for row in theirs["runs"].rows if known.get(row["id"], row) != row)
            ours["runs"].insert_all(new)
            new_ids = {row["id"] for row in new}
            ours["results"].insert_all((r for r in theirs["results"].rows if r["run_id"] in new_ids), ignore=True)
            merge_votes(conn, theirs["feedback"].rows)
            added = {name: ours[name].count - before[name] for name in tables()}
        return MergeReport(added, conflicts)
