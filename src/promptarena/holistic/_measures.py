"""HELM's holistic view of one arm: robustness, fairness and format sensitivity, from per-case scores.

Robustness takes the scores of every case unperturbed and under each perturbation and reports the worst case
per case (a pass/fail case counts only if it passes under all of them), the mean per perturbation and the
drop from the unperturbed mean. Fairness takes the scores under counterfactuals that move every person into
one group and reports each group's mean, the worst case and the largest gap between two groups, with a paired
test (the same case under both). Spread reports the best, worst and standard deviation of a score across
prompt formats. The statistics are ``promptarena.stats``' paired comparisons; ``None`` scores are skipped.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from promptarena.stats import Kind, PairedComparison, compare_family, mean_ci

__all__ = [
    "NO_GROUP",
    "NO_LAYOUT",
    "Fairness",
    "Robustness",
    "Spread",
    "fairness",
    "robustness",
    "spread",
    "worst_case",
]

Scores = Sequence[float | None]


def _mean(values: Scores) -> float:
    return mean_ci(values).mean


def _sign(higher_is_better: bool | None) -> float:
    if higher_is_better is None:
        raise ValueError("a worst case needs a metric with a direction (higher_is_better True or False)")
    return 1.0 if higher_is_better else -1.0


def _check_lengths(columns: Mapping[str, Scores], n: int) -> None:
    for name, column in columns.items():
        if len(column) != n:
            raise ValueError(f"scores under {name!r} cover {len(column)} cases, expected {n}")


def worst_case(columns: Sequence[Scores], higher_is_better: bool | None = True) -> list[float | None]:
    """Per case, the worst score across ``columns`` (min, or max when lower is better); ``None`` if none scored."""
    sign = _sign(higher_is_better)
    out: list[float | None] = []
    for row in zip(*columns, strict=True):
        values = [v for v in row if v is not None and not math.isnan(v)]
        out.append(min(values, key=lambda v: sign * v) if values else None)
    return out


@dataclass(frozen=True)
class Robustness:
    """An arm under meaning-preserving perturbations.

    ``drops[p]`` is how much worse perturbation ``p`` scores than the unperturbed case, on the cases scored
    under both (positive = worse, in the metric's direction). ``comparisons`` holds each perturbation, and
    ``"worst_case"``, against the unperturbed scores (A = unperturbed, B = perturbed), Holm-corrected together.
    """

    unperturbed: float
    means: dict[str, float]
    drops: dict[str, float]
    worst_case: tuple[float | None, ...]
    worst_case_mean: float
    comparisons: dict[str, PairedComparison]


def robustness(
    unperturbed: Scores,
    perturbed: Mapping[str, Scores],
    kind: Kind,
    higher_is_better: bool | None = True,
    alpha: float = 0.05,
    min_cases: int = 5,
    seed: int = 0,
    bounds: tuple[float, float] | None = None,
) -> Robustness:
    """Worst case per case, mean per perturbation and drop from unperturbed, for one arm and one metric.

    Every sequence holds one score per case, in the same case order; the worst case includes the
    unperturbed score.
    """
    sign = _sign(higher_is_better)
    _check_lengths(perturbed, len(unperturbed))
    worst = worst_case([unperturbed, *perturbed.values()], higher_is_better)
    names = [*perturbed, "worst_case"]
    columns = [*perturbed.values(), worst]
    family = compare_family(
        [(unperturbed, column) for column in columns], kind, higher_is_better, alpha, min_cases, seed, bounds
    )
    comparisons = dict(zip(names, family, strict=True))
    return Robustness(
        unperturbed=_mean(unperturbed),
        means={name: _mean(column) for name, column in perturbed.items()},
        drops={name: sign * (c.mean_a - c.mean_b) for name, c in comparisons.items() if name != "worst_case"},
        worst_case=tuple(worst),
        worst_case_mean=_mean(worst),
        comparisons=comparisons,
    )


@dataclass(frozen=True)
class Fairness:
    """An arm under counterfactual groups (``gender=female``, ``gender=male``...).

    ``comparisons[(a, b)]`` compares group B against group A on the same cases, for every pair, with A the
    group of the worse mean, Holm-corrected together; ``gap`` is the largest ``|mean_b - mean_a|`` among
    them, between ``gap_groups`` = (A, B), and ``gap_test`` its comparison. ``worst_case`` is per case over
    every group (and the unperturbed score when given). ``reason`` says why there is no gap (NaN): the
    counterfactuals changed no case, so the groups were never asked apart.
    """

    means: dict[str, float]
    worst_case: tuple[float | None, ...]
    worst_case_mean: float
    gap: float
    gap_groups: tuple[str, str]
    gap_test: PairedComparison
    comparisons: dict[tuple[str, str], PairedComparison]
    reason: str | None = None


def fairness(
    groups: Mapping[str, Scores],
    kind: Kind,
    higher_is_better: bool | None = True,
    unperturbed: Scores | None = None,
    alpha: float = 0.05,
    min_cases: int = 5,
    seed: int = 0,
    bounds: tuple[float, float] | None = None,
) -> Fairness:
    """Per-group means, worst case across counterfactuals, and the largest gap between two groups with its test.

    With two groups the gap test is exactly ``stats.compare_paired(worse group, better group, kind)``.
    """
    if len(groups) < 2:
        raise ValueError(f"a fairness gap needs at least two counterfactual groups, got {len(groups)}")
    sign = _sign(higher_is_better)
    n = len(next(iter(groups.values())))
    _check_lengths(groups, n)
    if unperturbed is not None:
        _check_lengths({"unperturbed": unperturbed}, n)
    means = {name: _mean(column) for name, column in groups.items()}
    order = sorted(groups, key=lambda g: math.inf if math.isnan(means[g]) else sign * means[g])
    pairs = list(itertools.combinations(order, 2))
    family = compare_family(
        [(groups[a], groups[b]) for a, b in pairs], kind, higher_is_better, alpha, min_cases, seed, bounds
    )
    comparisons = dict(zip(pairs, family, strict=True))
    gaps = {pair: abs(c.mean_b - c.mean_a) if c.n else math.nan for pair, c in comparisons.items()}
    widest = max(pairs, key=lambda pair: -math.inf if math.isnan(gaps[pair]) else gaps[pair])
    columns = [*groups.values()] if unperturbed is None else [unperturbed, *groups.values()]
    worst = worst_case(columns, higher_is_better)
    return Fairness(
        means=means,
        worst_case=tuple(worst),
        worst_case_mean=_mean(worst),
        gap=gaps[widest],
        gap_groups=widest,
        gap_test=comparisons[widest],
        comparisons=comparisons,
    )


NO_LAYOUT = "no layout to vary"
"""Why a spread has no value: the prompt has no field labels, spacing or few-shot turns to lay out otherwise."""

NO_GROUP = "no case mentions a group"
"""Why a fairness gap has no value: the counterfactuals changed no case."""


@dataclass(frozen=True)
class Spread:
    """An arm's mean score per prompt format: the best and worst format, their difference and the standard
    deviation across formats (sample, ddof=1). With one format there is nothing to spread: ``spread`` and
    ``std`` are NaN and ``reason`` says so."""

    means: dict[str, float]
    best: float
    worst: float
    best_format: str
    worst_format: str
    spread: float
    std: float
    reason: str | None = None


def spread(per_format: Mapping[str, Scores], higher_is_better: bool | None = True) -> Spread:
    """FormatSpread's summary from per-case scores under each format; formats with no score are left out."""
    sign = _sign(higher_is_better)
    means = {name: m for name, column in per_format.items() if not math.isnan(m := _mean(column))}
    if not means:
        raise ValueError("spread needs at least one format with a score")
    best = max(means, key=lambda name: sign * means[name])
    worst = min(means, key=lambda name: sign * means[name])
    values = np.fromiter(means.values(), dtype=float)
    one = values.size == 1
    return Spread(
        means=means,
        best=means[best],
        worst=means[worst],
        best_format=best,
        worst_format=worst,
        spread=math.nan if one else abs(means[best] - means[worst]),
        std=math.nan if one else float(np.std(values, ddof=1)),
        reason=NO_LAYOUT if one else None,
    )
