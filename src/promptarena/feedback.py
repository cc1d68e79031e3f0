"""People's thumbs up/down on outputs, kept beside the automatic metrics and gated like them.

A vote is keyed to the suite, prompt, version (blob), variant, case and a hash of the output it was cast on,
so a vote stays attached to the text a person saw even after the output changes. Each vote is one short
``BEGIN IMMEDIATE`` transaction: clicked while ``evals run`` writes, it waits its turn instead of failing.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from promptarena.results import ResultsStore, now
from promptarena.stats import Interval, mean_ci

__all__ = ["Vote", "output_hash", "record", "thumbs_up_interval", "thumbs_up_share", "thumbs_up_shares", "votes"]


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


def output_hash(output: str) -> str:
    """sha256 of the output text: which exact output a vote was cast on."""
    return hashlib.sha256(output.encode("utf-8")).hexdigest()


def record(
    results: ResultsStore,
    *,
    suite: str,
    prompt: str,
    blob: str,
    variant: str,
    case_id: str,
    output: str,
    thumbs_up: bool,
    comment: str | None = None,
    name: str | None = None,
) -> int:
    """Store one vote (blank comment or name stored as NULL) and return its id."""
    with results.write() as conn:
        cur = conn.execute(
            "INSERT INTO feedback (suite, prompt, blob, variant, case_id, output_hash, thumbs_up, comment, name, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                suite,
                prompt,
                blob,
                variant,
                case_id,
                output_hash(output),
                1 if thumbs_up else 0,
                (comment or "").strip() or None,
                (name or "").strip() or None,
                now(),
            ),
        )
        return int(cur.lastrowid or 0)


def votes(
    results: ResultsStore,
    suite: str,
    blob: str | None = None,
    variant: str | None = None,
    case_id: str | None = None,
) -> list[Vote]:
    """Votes of a suite, newest first, optionally narrowed to one arm and one case."""
    sql = "SELECT * FROM feedback WHERE suite = ?"
    args: list[str] = [suite]
    for column, value in (("blob", blob), ("variant", variant), ("case_id", case_id)):
        if value is not None:
            sql += f" AND {column} = ?"
            args.append(value)
    sql += " ORDER BY id DESC"
    with results.read() as conn:
        rows = conn.execute(sql, args).fetchall()
    return [Vote(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9], r[10]) for r in rows]


def thumbs_up_share(results: ResultsStore, suite: str, blob: str, variant: str) -> tuple[float, int]:
    """(share of thumbs-up, number of votes) for one arm; the share is NaN without votes.

    This is the figure the CI gate compares with a ``thumbs_up`` threshold.
    """
    with results.read() as conn:
        n, ups = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(thumbs_up), 0) FROM feedback WHERE suite = ? AND blob = ? AND variant = ?",
            (suite, blob, variant),
        ).fetchone()
    return (ups / n if n else math.nan), int(n)


def thumbs_up_interval(results: ResultsStore, suite: str, blob: str, variant: str) -> Interval:
    """The share of thumbs-up for one arm with its Wilson interval, like a pass/fail metric."""
    share, n = thumbs_up_share(results, suite, blob, variant)
    return _wilson(n, round(share * n)) if n else Interval(math.nan, math.nan, math.nan, 0)


def _wilson(votes: int, ups: int) -> Interval:
    return mean_ci([1.0] * ups + [0.0] * (votes - ups), kind="binary")


def thumbs_up_shares(results: ResultsStore, suite: str | None = None) -> dict[tuple[str, str, str], Interval]:
    """(suite, blob, variant) -> share of thumbs-up with its Wilson interval, for every arm with votes."""
    sql = "SELECT suite, blob, variant, COUNT(*), SUM(thumbs_up) FROM feedback"
    args: list[str] = []
    if suite is not None:
        sql += " WHERE suite = ?"
        args.append(suite)
    sql += " GROUP BY suite, blob, variant"
    with results.read() as conn:
        rows = conn.execute(sql, args).fetchall()
    return {(name, blob, variant): _wilson(int(n), int(ups)) for name, blob, variant, n, ups in rows}
