"""Which cases a page lists under a filter, and the grid of arms x cases coloured by score, read from the store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptarena.errors import PromptArenaError
from promptarena.store import OutputFilter, ResultsStore, ScoreRange, StoredArmKey
from promptarena.suite import Suite
from promptarena.views._arms import ArmChoice


def _key(choice: ArmChoice) -> StoredArmKey:
    return (choice.run_id, choice.blob, choice.variant, choice.model)


def filter_cases(results: ResultsStore, choices: Sequence[ArmChoice], where: OutputFilter) -> list[str]:
    """Ids of the cases some chosen arm has a result for that pass ``where``, in the order first stored."""
    if not choices:
        return []
    return results.filter_cases(choices[0].suite, [_key(c) for c in choices], where)


def failing_range(suite: Suite | None, metric: str) -> ScoreRange | None:
    """The scores of ``metric`` that count as failing: the failing value of a pass/fail metric, else the worse
    half of the metric's range; None when the metric has no direction or no known range to halve."""
    try:
        found = suite.metric(metric) if suite is not None else None
    except PromptArenaError:
        return None
    if found is None or found.higher_is_better is None:
        return None
    if found.kind == "binary":
        return ScoreRange(metric, high=0.0) if found.higher_is_better else ScoreRange(metric, low=1.0)
    if found.range is None:
        return None
    middle = (found.range[0] + found.range[1]) / 2
    return ScoreRange(metric, high=middle) if found.higher_is_better else ScoreRange(metric, low=middle)


@dataclass(frozen=True)
class ScoreGrid:
    """Arms x cases: ``values[i][j]`` is case ``cases[i]``'s score under arm ``arms[j]`` (None: none stored).

    ``best`` and ``worst`` are the ends of the colour scale: the metric's range (or the scores' own) in its
    direction, so that a better score is always the greener one.
    """

    metric: str
    cases: list[str]
    arms: list[ArmChoice]
    values: list[list[float | None]]
    worst: float
    best: float

    def parts(self, i: int) -> bool:
        """Whether the arms' scores of case ``i`` differ."""
        present = {v for v in self.values[i] if v is not None}
        return len(present) > 1


def score_grid(
    results: ResultsStore,
    suite: Suite | None,
    choices: Sequence[ArmChoice],
    metric: str,
    cases: Sequence[str] | None = None,
) -> ScoreGrid:
    """Each chosen arm's score on ``metric`` per case, for the cases any of them holds (only ``cases`` when given,
    in the order first stored)."""
    ids, columns = results.score_grid(choices[0].suite, [_key(c) for c in choices], metric) if choices else ([], [])
    if cases is not None:
        wanted = set(cases)
        ids = [case for case in ids if case in wanted]
    values = [[column.get(case) for column in columns] for case in ids]
    present = [v for row in values for v in row if v is not None]
    low, high = (min(present), max(present)) if present else (0.0, 1.0)
    higher: bool | None = True
    try:
        found = suite.metric(metric) if suite is not None else None
    except PromptArenaError:
        found = None
    if found is not None:
        higher = found.higher_is_better
        if found.kind == "binary":
            low, high = 0.0, 1.0
        elif found.range is not None:
            low, high = found.range
    worst, best = (high, low) if higher is False else (low, high)
    return ScoreGrid(metric, ids, list(choices), values, worst, best)
