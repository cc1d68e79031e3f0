"""Statistics for comparing prompt versions: intervals, paired tests, multiple-testing and calibration.

Every comparison is paired (the same cases scored under A and B), which removes case difficulty from the
noise. ``None`` scores (a case without a reference) are dropped; in paired functions the whole pair goes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy import stats

__all__ = [
    "Bin",
    "Interval",
    "PairedComparison",
    "Verdict",
    "brier",
    "compare_paired",
    "ece",
    "holm",
    "holm_comparisons",
    "mcnemar_exact_pvalue",
    "mean_ci",
    "paired_bootstrap_ci",
    "paired_permutation_pvalue",
    "percentile",
    "reliability_table",
]

Kind = Literal["binary", "continuous"]
Verdict = Literal["better", "worse", "higher", "lower", "no significant difference", "too few cases"]
"""``higher``/``lower`` are used instead of better/worse only for metrics without a direction."""

_NAN = float("nan")
# sign-flip tests enumerate every assignment up to this many (2**16 = 65,536 means, cheap).
_EXACT_MAX_N = 16


@dataclass(frozen=True)
class Interval:
    """A mean with its confidence interval over ``n`` values (NaN bounds where undefined)."""

    mean: float
    low: float
    high: float
    n: int


def fmt_interval(iv: Interval, digits: int = 3) -> str:
    """``0.667 [0.208, 0.939]``; the mean alone when its bounds are undefined; ``–`` when there is no value."""
    if iv.n == 0 or math.isnan(iv.mean):
        return "–"
    if math.isnan(iv.low) or math.isnan(iv.high):
        return f"{iv.mean:.{digits}f}"
    return f"{iv.mean:.{digits}f} [{iv.low:.{digits}f}, {iv.high:.{digits}f}]"


@dataclass(frozen=True)
class Bin:
    """One equal-width confidence bin of a reliability diagram: [low, high)."""

    low: float
    high: float
    count: int
    mean_confidence: float
    accuracy: float


@dataclass(frozen=True)
class PairedComparison:
    """B against A on the same cases: means, difference (B - A) with its CI, test and verdict.

    ``wins``/``losses`` count cases where B is better/worse than A in the metric's direction (for metrics
    without a direction: higher/lower). ``p_value`` may be Holm-adjusted; ``p_raw`` is the test's own.
    """

    n: int
    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    wins: int
    ties: int
    losses: int
    verdict: Verdict
    test: Literal["mcnemar", "permutation"] = "permutation"
    higher_is_better: bool | None = True
    alpha: float = 0.05
    min_cases: int = 5
    p_raw: float = _NAN


def _clean(values: Sequence[float | None]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)


def _clean_pairs(a: Sequence[float | None], b: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    if len(a) != len(b):
        raise ValueError(f"paired scores must have the same length, got {len(a)} and {len(b)}")
    keep = [
        (x, y)
        for x, y in zip(a, b, strict=True)
        if x is not None and y is not None and not math.isnan(x) and not math.isnan(y)
    ]
    arr = np.asarray(keep, dtype=float).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def _check_binary(values: np.ndarray, what: str) -> None:
    if not np.all((values == 0) | (values == 1)):
        raise ValueError(f"{what} must be pass/fail scores (0 or 1)")


def mean_ci(values: Sequence[float | None], kind: Kind = "continuous", confidence: float = 0.95) -> Interval:
    """Mean with a confidence interval: Wilson score for binary values, Student t for continuous ones.

    Wilson stays inside [0, 1] and behaves at 0/n and n/n, where the normal interval does not. With no
    values everything is NaN; with one continuous value (or no spread) the bounds are NaN (or the point).
    """
    x = _clean(values)
    n = int(x.size)
    if n == 0:
        return Interval(_NAN, _NAN, _NAN, 0)
    mean = float(x.mean())
    if kind == "binary":
        _check_binary(x, "binary values")
        ci = stats.binomtest(int(x.sum()), n).proportion_ci(confidence_level=confidence, method="wilson")
        return Interval(mean, float(ci.low), float(ci.high), n)
    if n == 1:
        return Interval(mean, _NAN, _NAN, 1)
    sem = float(stats.sem(x))
    if sem == 0.0:
        return Interval(mean, mean, mean, n)
    low, high = stats.t.interval(confidence, df=n - 1, loc=mean, scale=sem)
    return Interval(mean, float(low), float(high), n)


def paired_bootstrap_ci(
    a: Sequence[float | None],
    b: Sequence[float | None],
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Return ``(diff, low, high)``: mean(B - A) and its percentile bootstrap interval over cases.

    Resampling cases (pairs together) keeps the pairing; the percentile method needs no normality and
    does not break on the few distinct values of 0/1 scores. Bounds are NaN below two pairs.
    """
    xa, xb = _clean_pairs(a, b)
    d = xb - xa
    if d.size == 0:
        return _NAN, _NAN, _NAN
    diff = float(d.mean())
    if d.size < 2:
        return diff, _NAN, _NAN
    if np.all(d == d[0]):
        return diff, diff, diff
    res = stats.bootstrap(
        (d,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return diff, float(res.confidence_interval.low), float(res.confidence_interval.high)


def paired_permutation_pvalue(
    a: Sequence[float | None], b: Sequence[float | None], n_resamples: int = 10_000, seed: int = 0
) -> float:
    """Two-sided p-value that mean(B - A) is zero, by flipping the signs of the paired differences.

    Exact (every one of the 2^n sign assignments) when 2^n <= max(n_resamples, 2^16), else Monte Carlo.
    Returns 1.0 when there is no difference at all (no evidence either way).
    """
    xa, xb = _clean_pairs(a, b)
    d = xb - xa
    if d.size == 0 or np.all(d == 0):
        return 1.0
    resamples = n_resamples
    if d.size <= _EXACT_MAX_N:
        resamples = max(n_resamples, 2**d.size)
    res = stats.permutation_test(
        (d,),
        lambda x, axis: np.mean(x, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(min(1.0, res.pvalue))


def mcnemar_exact_pvalue(a: Sequence[float | None], b: Sequence[float | None]) -> float:
    """Exact McNemar test for paired pass/fail scores: a two-sided binomial test on the discordant pairs.

    Only cases where A and B disagree carry information; under no difference each is equally likely to
    favour either. Returns 1.0 when there are no discordant pairs.
    """
    xa, xb = _clean_pairs(a, b)
    _check_binary(xa, "McNemar's scores for A")
    _check_binary(xb, "McNemar's scores for B")
    only_a = int(np.sum((xa == 1) & (xb == 0)))
    only_b = int(np.sum((xa == 0) & (xb == 1)))
    if only_a + only_b == 0:
        return 1.0
    return float(stats.binomtest(only_b, only_a + only_b, 0.5).pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order (monotone, capped at 1; NaN stays NaN).

    Controls the family-wise error rate when several metrics or versions are compared at once, without
    any assumption about how the tests depend on each other.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, _NAN)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return out.tolist()
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out.tolist()


def _verdict(
    n: int, diff: float, p_value: float, higher_is_better: bool | None, alpha: float, min_cases: int
) -> Verdict:
    if n < min_cases:
        return "too few cases"
    if not p_value < alpha or diff == 0:
        return "no significant difference"
    if higher_is_better is None:
        return "higher" if diff > 0 else "lower"
    return "better" if (diff > 0) == higher_is_better else "worse"


def compare_paired(
    a: Sequence[float | None],
    b: Sequence[float | None],
    kind: Kind,
    higher_is_better: bool | None = True,
    alpha: float = 0.05,
    min_cases: int = 5,
    seed: int = 0,
) -> PairedComparison:
    """Compare version B against version A on the same cases and say whether B is better.

    Binary scores use exact McNemar, continuous ones the sign-flip permutation test; the interval is a
    paired bootstrap at confidence ``1 - alpha``. Pairs with a ``None`` on either side are dropped.
    """
    xa, xb = _clean_pairs(a, b)
    n = int(xa.size)
    if kind == "binary":
        test: Literal["mcnemar", "permutation"] = "mcnemar"
        p_value = mcnemar_exact_pvalue(xa.tolist(), xb.tolist())
    else:
        test = "permutation"
        p_value = paired_permutation_pvalue(xa.tolist(), xb.tolist(), seed=seed)
    diff, low, high = paired_bootstrap_ci(xa.tolist(), xb.tolist(), confidence=1 - alpha, seed=seed)
    sign = -1.0 if higher_is_better is False else 1.0
    d = sign * (xb - xa)
    wins, losses = int(np.sum(d > 0)), int(np.sum(d < 0))
    return PairedComparison(
        n=n,
        mean_a=float(xa.mean()) if n else _NAN,
        mean_b=float(xb.mean()) if n else _NAN,
        diff=diff,
        ci_low=low,
        ci_high=high,
        p_value=p_value,
        wins=wins,
        ties=n - wins - losses,
        losses=losses,
        verdict=_verdict(n, diff, p_value, higher_is_better, alpha, min_cases),
        test=test,
        higher_is_better=higher_is_better,
        alpha=alpha,
        min_cases=min_cases,
        p_raw=p_value,
    )


def holm_comparisons(comparisons: Sequence[PairedComparison]) -> list[PairedComparison]:
    """Return the comparisons with Holm-adjusted p-values and verdicts recomputed from them.

    Adjusts the raw p-values (``p_raw``), so applying it twice gives the same result. Comparisons with too
    few cases keep their verdict but still count in the family.
    """
    adjusted = holm([c.p_raw if not math.isnan(c.p_raw) else c.p_value for c in comparisons])
    return [
        replace(
            c,
            p_value=p,
            p_raw=c.p_raw if not math.isnan(c.p_raw) else c.p_value,
            verdict=_verdict(c.n, c.diff, p, c.higher_is_better, c.alpha, c.min_cases),
        )
        for c, p in zip(comparisons, adjusted, strict=True)
    ]


def _calibration_pairs(
    confidences: Sequence[float | None], correct: Sequence[float | bool | None]
) -> tuple[np.ndarray, np.ndarray]:
    conf, corr = _clean_pairs(confidences, [None if c is None else float(c) for c in correct])
    if np.any((conf < 0) | (conf > 1)):
        raise ValueError("confidences must lie in [0, 1]")
    _check_binary(corr, "correctness values")
    return conf, corr


def brier(confidences: Sequence[float | None], correct: Sequence[float | bool | None]) -> float:
    """Brier score: mean squared gap between confidence and correctness (0 is perfect; NaN if empty)."""
    conf, corr = _calibration_pairs(confidences, correct)
    return float(np.mean((conf - corr) ** 2)) if conf.size else _NAN


def reliability_table(
    confidences: Sequence[float | None], correct: Sequence[float | bool | None], n_bins: int = 10
) -> list[Bin]:
    """Group predictions into equal-width confidence bins and give each bin's confidence and accuracy.

    Bin i holds confidences in [i/n_bins, (i+1)/n_bins); a confidence of 1.0 falls in the last bin.
    Empty bins are left out. Pairs with a ``None`` confidence are dropped.
    """
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    conf, corr = _calibration_pairs(confidences, correct)
    index = np.minimum(np.floor(conf * n_bins).astype(int), n_bins - 1)
    table = []
    for i in range(n_bins):
        mask = index == i
        count = int(mask.sum())
        if count:
            table.append(
                Bin(
                    low=i / n_bins,
                    high=(i + 1) / n_bins,
                    count=count,
                    mean_confidence=float(conf[mask].mean()),
                    accuracy=float(corr[mask].mean()),
                )
            )
    return table


def ece(confidences: Sequence[float | None], correct: Sequence[float | bool | None], n_bins: int = 10) -> float:
    """Expected calibration error: the count-weighted mean |accuracy - confidence| over equal-width bins."""
    table = reliability_table(confidences, correct, n_bins)
    total = sum(b.count for b in table)
    if total == 0:
        return _NAN
    return float(sum(b.count * abs(b.accuracy - b.mean_confidence) for b in table) / total)


def percentile(values: Sequence[float | None], q: float) -> float:
    """The q-th percentile (q in 0..100, linear interpolation) of the values, e.g. p95 latency; NaN if empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be between 0 and 100, got {q}")
    x = _clean(values)
    return float(np.percentile(x, q)) if x.size else _NAN
