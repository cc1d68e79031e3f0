"""People's thumbs up/down on outputs: the values of the ``thumbs_up`` metric, reported and gated like any other.

A vote is keyed to the suite, version (blob), variant, case, a hash of the output it was cast on and the voter,
so a vote stays attached to the text a person saw even after the output changes, and each person has at most one
vote on each output: a share counts people, not clicks. Each cast, change or withdrawal is one short
``BEGIN IMMEDIATE`` transaction in the store: clicked while ``evals run`` writes, it waits its turn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from promptarena.metrics import thumbs_up as METRIC
from promptarena.stats import Interval, mean_ci
from promptarena.store import Outcome, ResultsStore, Vote, output_hash

if TYPE_CHECKING:
    from promptarena.plan import Arm

ANONYMOUS = "anonymous"

__all__ = [
    "ANONYMOUS",
    "Outcome",
    "Vote",
    "arm_votes",
    "comment",
    "output_hash",
    "record",
    "thumbs_up_share",
    "thumbs_up_shares",
    "voter_id",
    "votes",
]


def voter_id(name: str | None) -> str | None:
    """The voter a name stands for: case and spacing ignored, so "Alice " and "alice" are one person; None if blank."""
    return " ".join((name or "").split()).casefold() or None


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
    voter: str | None = None,
) -> Outcome:
    """Cast, change or withdraw one person's vote on one output: clicking the same thumb again withdraws it.

    The person is ``voter`` (the workbench passes the name, else an id of the browser session), else the
    name, else ``ANONYMOUS``: one voter for every caller who gives neither. Blank comment or name: NULL.
    """
    return results.toggle_vote(
        suite=suite,
        prompt=prompt,
        blob=blob,
        variant=variant,
        case_id=case_id,
        output_hash=output_hash(output),
        voter=voter_id(voter) or voter_id(name) or ANONYMOUS,
        thumbs_up=thumbs_up,
        comment=(comment or "").strip() or None,
        name=(name or "").strip() or None,
    )


def comment(
    results: ResultsStore,
    *,
    suite: str,
    blob: str,
    variant: str,
    case_id: str,
    output: str,
    voter: str,
    comment: str | None,
) -> bool:
    """Edit or (blank) delete a person's comment on their vote on one output, the vote unchanged; False without
    a vote of theirs there (a comment goes with a vote)."""
    return results.set_comment(
        suite=suite,
        blob=blob,
        variant=variant,
        case_id=case_id,
        output_hash=output_hash(output),
        voter=voter_id(voter) or ANONYMOUS,
        comment=(comment or "").strip() or None,
    )


def votes(
    results: ResultsStore,
    suite: str,
    blob: str | None = None,
    variant: str | None = None,
    case_id: str | None = None,
    output: str | None = None,
) -> list[Vote]:
    """Votes of a suite, newest first, optionally narrowed to one arm, one case and one output text."""
    return results.votes(suite, blob, variant, case_id, None if output is None else output_hash(output))


def thumbs_up_share(results: ResultsStore, suite: str, blob: str, variant: str) -> tuple[float, int]:
    """(share of thumbs-up, number of votes) for one arm; the share is NaN without votes."""
    n, ups = results.vote_count(suite, blob, variant)
    return (ups / n if n else math.nan), n


def _interval(votes: int, ups: int) -> Interval:
    """Each vote is one pass/fail value of the metric, summarized as a run summarizes its scores."""
    return mean_ci([1.0] * ups + [0.0] * (votes - ups), kind=METRIC.kind, bounds=METRIC.range)


def thumbs_up_shares(results: ResultsStore, suite: str | None = None) -> dict[tuple[str, str, str], Interval]:
    """(suite, blob, variant) -> share of thumbs-up with its Wilson interval, for every arm with votes.

    The one read of people's votes as a metric: a run's record never holds them, so every page, report and gate
    that shows or checks them reads them here, as they are now.
    """
    return {arm: _interval(n, ups) for arm, (n, ups) in results.vote_counts(suite).items()}


def arm_votes(results: ResultsStore, suite: str, arms: Iterable[Arm]) -> dict[str, dict[str, Interval]]:
    """Arm label -> its feedback metrics (``thumbs_up``), for the arms of a suite that have votes now."""
    shares = thumbs_up_shares(results, suite)
    found = ((arm.label, shares.get((suite, arm.version.blob, arm.variant.name))) for arm in arms)
    return {label: {METRIC.name: share} for label, share in found if share is not None}
