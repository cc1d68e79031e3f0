"""People's votes on outputs, one per person per output: each cast, change or withdrawal is one short
``BEGIN IMMEDIATE`` transaction, so a click during a run waits its turn and two clicks never make two rows.

A withdrawn vote keeps its row, with no thumb and the time it was withdrawn, so that merging a teammate's
database that still holds the older vote does not bring it back: the newer of the two rows wins."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from promptarena.store._db import Database, now

Outcome = Literal["cast", "changed", "withdrawn"]

COLUMNS = "id, suite, prompt, blob, variant, case_id, output_hash, voter, thumbs_up, comment, name, created_at"
KEY = ("suite", "blob", "variant", "case_id", "output_hash", "voter")


@dataclass(frozen=True)
class Vote:
    id: int
    suite: str
    prompt: str
    blob: str
    variant: str
    case_id: str
    output_hash: str
    voter: str
    thumbs_up: bool
    comment: str | None
    name: str | None
    created_at: str


def output_hash(output: str) -> str:
    """sha256 of the output text: which exact output a vote was cast on."""
    return hashlib.sha256(output.encode("utf-8")).hexdigest()


def _vote(row: tuple[Any, ...]) -> Vote:
    return Vote(*row[:8], bool(row[8]), *row[9:])  # type: ignore[arg-type]


def merge_votes(conn: sqlite3.Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add another database's votes inside the caller's write transaction: one vote per person per output,
    the newer one kept where both databases hold a vote of the same person on the same output."""
    conn.executemany(
        "INSERT INTO feedback (suite, prompt, blob, variant, case_id, output_hash, voter, thumbs_up, comment, name, "
        "created_at) VALUES (:suite, :prompt, :blob, :variant, :case_id, :output_hash, :voter, :thumbs_up, :comment, "
        ":name, :created_at) "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET prompt = excluded.prompt, thumbs_up = excluded.thumbs_up, "
        "comment = excluded.comment, name = excluded.name, created_at = excluded.created_at "
        "WHERE excluded.created_at > feedback.created_at",
        rows,
    )


class Feedback(Database):
    """Votes: cast, changed, withdrawn, listed, and counted per arm (one per person per output)."""

    def toggle_vote(
        self,
        *,
        suite: str,
        prompt: str,
        blob: str,
        variant: str,
        case_id: str,
        output_hash: str,
        voter: str,
        thumbs_up: bool,
        comment: str | None,
        name: str | None,
    ) -> Outcome:
        """Cast ``voter``'s vote on one output, change it to ``thumbs_up``, or withdraw it when it already was.

        A changed vote keeps its earlier comment unless a new one is given.
        """
        key = (suite, blob, variant, case_id, output_hash, voter)
        where = " AND ".join(f"{column} = ?" for column in KEY)
        with self.write() as conn:
            row = conn.execute(f"SELECT id, thumbs_up FROM feedback WHERE {where}", key).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO feedback (suite, prompt, blob, variant, case_id, output_hash, voter, thumbs_up, "
                    "comment, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (suite, prompt, blob, variant, case_id, output_hash, voter, int(thumbs_up), comment, name, now()),
                )
                return "cast"
            if row[1] is not None and bool(row[1]) == thumbs_up:
                conn.execute(
                    "UPDATE feedback SET thumbs_up = NULL, comment = NULL, created_at = ? WHERE id = ?", (now(), row[0])
                )
                return "withdrawn"
            conn.execute(
                "UPDATE feedback SET prompt = ?, thumbs_up = ?, comment = COALESCE(?, comment), "
                "name = COALESCE(?, name), created_at = ? WHERE id = ?",
                (prompt, int(thumbs_up), comment, name, now(), row[0]),
            )
            return "cast" if row[1] is None else "changed"

    def set_comment(
        self, *, suite: str, blob: str, variant: str, case_id: str, output_hash: str, voter: str, comment: str | None
    ) -> bool:
        """Write (or with None delete) the comment of ``voter``'s vote on one output, the vote kept as it is; False
        when that person has no vote there. The row's time moves on, so a merge keeps the newer comment."""
        where = " AND ".join(f"{column} = ?" for column in KEY)
        with self.write() as conn:
            cursor = conn.execute(
                f"UPDATE feedback SET comment = ?, created_at = ? WHERE {where} AND thumbs_up IS NOT NULL",
                (comment, now(), suite, blob, variant, case_id, output_hash, voter),
            )
            return cursor.rowcount > 0

    def votes(
        self,
        suite: str,
        blob: str | None = None,
        variant: str | None = None,
        case_id: str | None = None,
        output_hash: str | None = None,
    ) -> list[Vote]:
        """Votes of a suite, newest first, optionally narrowed to one arm, one case and one output."""
        sql = f"SELECT {COLUMNS} FROM feedback WHERE suite = ? AND thumbs_up IS NOT NULL"
        args: list[str] = [suite]
        narrow = (("blob", blob), ("variant", variant), ("case_id", case_id), ("output_hash", output_hash))
        for column, value in narrow:
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        sql += " ORDER BY created_at DESC, id DESC"
        with self.read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [_vote(r) for r in rows]

    def vote_count(self, suite: str, blob: str, variant: str) -> tuple[int, int]:
        """(votes, thumbs-up) of one arm; each row with a thumb is one person's vote on one output."""
        return self.vote_counts(suite).get((suite, blob, variant), (0, 0))

    def vote_counts(self, suite: str | None = None) -> dict[tuple[str, str, str], tuple[int, int]]:
        """(suite, blob, variant) -> (votes, thumbs-up) for every arm with votes."""
        sql = "SELECT suite, blob, variant, COUNT(*), SUM(thumbs_up) FROM feedback WHERE thumbs_up IS NOT NULL"
        args: list[str] = []
        if suite is not None:
            sql += " AND suite = ?"
            args.append(suite)
        sql += " GROUP BY suite, blob, variant"
        with self.read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return {(name, blob, variant): (int(n), int(ups)) for name, blob, variant, n, ups in rows}

    def run_tallies(
        self, run_id: str, suite: str, blob: str, variant: str, model: str = ""
    ) -> dict[str, tuple[int, int]]:
        """case id -> (votes, thumbs-up) on the very output one arm's run stored for that case (as written, not
        perturbed), for the cases with such votes; votes on other outputs of the case are left out."""
        with self.read() as conn:
            rows = conn.execute(
                """
                SELECT r.case_id, r.output, f.output_hash, COUNT(*), SUM(f.thumbs_up)
                FROM results r JOIN feedback f
                    ON f.suite = r.suite AND f.blob = r.blob AND f.variant = r.variant AND f.case_id = r.case_id
                WHERE r.run_id = ? AND r.suite = ? AND r.blob = ? AND r.variant = ? AND r.model = ?
                    AND r.perturbation = '' AND f.thumbs_up IS NOT NULL
                GROUP BY r.case_id, f.output_hash
                """,
                (run_id, suite, blob, variant, model),
            ).fetchall()
        return {case: (int(n), int(ups)) for case, output, voted, n, ups in rows if output_hash(output) == voted}
