"""Filters and full-text search over stored outputs: which cases of a suite to show, answered by one SQL query.

A filter narrows the cases of a few arms (Compare's two, the Case explorer's chosen ones, a review queue's);
each condition holds for a case when it holds for some arm's output of it (the answers differ: between them).
Words are looked up in ``results_text``, the FTS5 index that migration 11 keeps in step with the results.
"""

from __future__ import annotations

import hashlib
import math
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from promptarena.store._db import Database

VoteFilter = Literal["any", "voted", "commented", "unvoted"]


@dataclass(frozen=True)
class ScoreRange:
    """Scores of ``metric`` from ``low`` to ``high``, both included; None leaves that side open."""

    metric: str
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class OutputFilter:
    """Which cases to show: each condition set must hold (an empty filter keeps every case).

    Attributes:
        text: Words that some arm's output, extracted answer or input (the last message sent) holds, all of
            them; a word ending in ``*`` matches as a prefix.
        differ: The arms' extracted answers differ (A ≠ B).
        scores: Some arm's score on each range's metric lies in that range (failing only is one such range).
        votes: Some arm's output has a vote (``voted``), a vote with a comment (``commented``), or none
            (``unvoted``); ``voter`` counts only that person's votes (what is left for them to review).
    """

    text: str = ""
    differ: bool = False
    scores: tuple[ScoreRange, ...] = ()
    votes: VoteFilter = "any"
    voter: str | None = None

    @property
    def active(self) -> bool:
        """Whether the filter narrows anything."""
        return bool(match_query(self.text)) or self.differ or bool(self.scores) or self.votes != "any"


# (run id, blob, variant, model): one arm as one run stored it
StoredArmKey = tuple[str, str, str, str]


def match_query(text: str) -> str:
    """The FTS5 query for words a person typed: every word must occur, each quoted so that punctuation and
    FTS5's operators are plain text; a word ending in ``*`` is a prefix. '' when there are no words."""
    terms = []
    for word in text.split():
        prefix = word.endswith("*") and len(word) > 1
        core = word.rstrip("*") if prefix else word
        if re.search(r"\w", core):
            terms.append('"' + core.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms)


_VOTES = {
    "voted": "MAX(v.case_id IS NOT NULL)",
    "commented": "MAX(COALESCE(v.commented, 0))",
    "unvoted": "MIN(v.case_id IS NOT NULL) = 0",
}


def _path(metric: str) -> str:
    """The JSON path of a metric's value in a result's scores."""
    return '$."' + metric.replace('"', '""') + '"'


def _sha256(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


class Search(Database):
    """Filtered case ids and score grids over the arms of a suite."""

    def filter_cases(self, suite: str, arms: Sequence[StoredArmKey], where: OutputFilter) -> list[str]:
        """Ids of the cases that some of ``arms`` has a result for and that pass ``where``, in the order first
        stored. Perturbed inputs are not searched: they are shown with their case."""
        if not arms:
            return []
        ctes = ["shown (run_id, blob, variant, model) AS (VALUES " + ", ".join("(?, ?, ?, ?)" for _ in arms) + ")"]
        args: list[object] = [value for arm in arms for value in arm]
        join, having, later = "", [], []
        if where.votes != "any":
            ctes.append(
                "voted AS (SELECT blob, variant, case_id, output_hash, MAX(COALESCE(comment, '') != '') AS commented "
                "FROM feedback WHERE suite = ? AND thumbs_up IS NOT NULL "
                + ("AND voter = ? " if where.voter is not None else "")
                + "GROUP BY blob, variant, case_id, output_hash)"
            )
            args += [suite] + ([where.voter] if where.voter is not None else [])
            join = (
                "LEFT JOIN voted v ON v.blob = p.blob AND v.variant = p.variant AND v.case_id = p.case_id "
                "AND v.output_hash = sha256(p.output)"
            )
            having.append(_VOTES[where.votes])
        args.append(suite)
        if query := match_query(where.text):
            having.append("MAX(p.id IN (SELECT rowid FROM results_text WHERE results_text MATCH ?))")
            later.append(query)
        if where.differ:
            having.append("COUNT(DISTINCT p.answer) > 1")
        for rng in where.scores:
            having.append("MAX(json_extract(p.scores, ?) BETWEEN ? AND ?)")
            low, high = -math.inf if rng.low is None else rng.low, math.inf if rng.high is None else rng.high
            later += [_path(rng.metric), low, high]
        sql = (
            f"WITH {', '.join(ctes)}, "
            "picked AS (SELECT r.rowid AS id, r.case_id, r.blob, r.variant, r.output, r.answer, r.scores "
            "FROM results r JOIN shown s ON r.run_id = s.run_id AND r.blob = s.blob AND r.variant = s.variant "
            "AND r.model = s.model WHERE r.suite = ? AND r.perturbation = '') "
            f"SELECT p.case_id FROM picked p {join} GROUP BY p.case_id "
            + ("HAVING " + " AND ".join(having) if having else "")
            + " ORDER BY MIN(p.id)"
        )
        args += later
        with self.read() as conn:
            conn.create_function("sha256", 1, _sha256, deterministic=True)
            try:
                return [case for (case,) in conn.execute(sql, args)]
            except sqlite3.OperationalError as err:
                if "fts5" in str(err):  # a query the quoting above let through: nothing matches it
                    return []
                raise

    def score_grid(
        self, suite: str, arms: Sequence[StoredArmKey], metric: str
    ) -> tuple[list[str], list[dict[str, float | None]]]:
        """Case ids that any of ``arms`` holds, in the order first stored, and per arm its score on ``metric``
        by case (a case it lacks is missing; a failed score is None)."""
        ids: dict[str, int] = {}
        columns: list[dict[str, float | None]] = []
        with self.read() as conn:
            for arm in arms:
                rows = conn.execute(
                    "SELECT rowid, case_id, json_extract(scores, ?) FROM results WHERE run_id = ? AND blob = ? "
                    "AND variant = ? AND model = ? AND suite = ? AND perturbation = '' ORDER BY rowid",
                    (_path(metric), *arm, suite),
                ).fetchall()
                column = {}
                for rowid, case, value in rows:
                    ids[case] = min(ids.get(case, rowid), rowid)
                    column[case] = value
                columns.append(column)
        return sorted(ids, key=ids.__getitem__), columns


__all__ = ["OutputFilter", "ScoreRange", "Search", "StoredArmKey", "VoteFilter", "match_query"]
