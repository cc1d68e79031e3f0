"""People's votes on outputs: each one short ``BEGIN IMMEDIATE`` transaction, so a click during a run waits its turn."""

from __future__ import annotations

from dataclasses import dataclass

from promptarena.store._db import Database, now


@dataclass(frozen=True)
class Vote:
    id: int
    suite: str
    prompt: str
    blob: str
    variant: str
    case_id: str
    output_hash: str
    thumbs_up: bool
    comment: str | None
    name: str | None
    created_at: str


class Feedback(Database):
    """Votes: cast, listed, and counted per arm."""

    def add_vote(
        self,
        *,
        suite: str,
        prompt: str,
        blob: str,
        variant: str,
        case_id: str,
        output_hash: str,
        thumbs_up: bool,
        comment: str | None,
        name: str | None,
    ) -> int:
        """Store one vote and return its id."""
        with self.write() as conn:
            cur = conn.execute(
                "INSERT INTO feedback (suite, prompt, blob, variant, case_id, output_hash, thumbs_up, comment, name, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (suite, prompt, blob, variant, case_id, output_hash, 1 if thumbs_up else 0, comment, name, now()),
            )
            return int(cur.lastrowid or 0)

    def votes(
        self, suite: str, blob: str | None = None, variant: str | None = None, case_id: str | None = None
    ) -> list[Vote]:
        """Votes of a suite, newest first, optionally narrowed to one arm and one case."""
        sql = "SELECT * FROM feedback WHERE suite = ?"
        args: list[str] = [suite]
        for column, value in (("blob", blob), ("variant", variant), ("case_id", case_id)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        sql += " ORDER BY id DESC"
        with self.read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [Vote(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9], r[10]) for r in rows]

    def vote_count(self, suite: str, blob: str, variant: str) -> tuple[int, int]:
        """(votes, thumbs-up) of one arm."""
        with self.read() as conn:
            n, ups = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(thumbs_up), 0) FROM feedback "
                "WHERE suite = ? AND blob = ? AND variant = ?",
                (suite, blob, variant),
            ).fetchone()
        return int(n), int(ups)

    def vote_counts(self, suite: str | None = None) -> dict[tuple[str, str, str], tuple[int, int]]:
        """(suite, blob, variant) -> (votes, thumbs-up) for every arm with votes."""
        sql = "SELECT suite, blob, variant, COUNT(*), SUM(thumbs_up) FROM feedback"
        args: list[str] = []
        if suite is not None:
            sql += " WHERE suite = ?"
            args.append(suite)
        sql += " GROUP BY suite, blob, variant"
        with self.read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return {(name, blob, variant): (int(n), int(ups)) for name, blob, variant, n, ups in rows}
