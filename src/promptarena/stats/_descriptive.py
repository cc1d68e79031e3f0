"""A mean with its confidence interval, and percentiles: what every run reports, in plain Python.

A fully cached ``evals run`` summarizes every arm with these and must stay fast, so neither numpy nor scipy
is imported here: the Wilson interval takes its normal quantile from the standard library, and the Student
t quantile (integer degrees of freedom, ``n - 1``) comes from the closed form of the t distribution, as
``scipy.stats.t.ppf`` gives it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist, stdev
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np

Kind = Literal["binary", "continuous"]

NAN = float("nan")


@dataclass(frozen=True)
class Interval:
    """A mean with its confidence interval over ``n`` values (NaN bounds where undefined)."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95


def clean(values: Sequence[float | None]) -> list[float]:
    """The values without ``None`` and NaN."""
    return [float(v) for v in values if v is not None and not math.isnan(v)]


def clean_pairs(a: Sequence[float | None], b: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    """The pairs where both sides have a value (a ``None`` or NaN on either side drops the pair), as arrays."""
    import numpy as np

    if len(a) != len(b):
        raise ValueError(f"paired scores must have the same length, got {len(a)} and {len(b)}")
    keep = [
        (x, y)
        for x, y in zip(a, b, strict=True)
        if x is not None and y is not None and not math.isnan(x) and not math.isnan(y)
    ]
    arr = np.asarray(keep, dtype=float).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def check_binary(values: Sequence[float] | np.ndarray, what: str) -> None:
    """Refuse values other than 0 and 1 where pass/fail scores are expected."""
    if not all(v in (0, 1) for v in values):
        raise ValueError(f"{what} must be pass/fail scores (0 or 1)")


def _t_central(theta: float, df: int) -> float:
    """P(|T| <= sqrt(df) tan(theta)) for Student's t with integer ``df`` (Abramowitz & Stegun 26.7.3-4)."""
    c2 = math.cos(theta) ** 2
    term = series = 1.0
    if df % 2 == 0:
        for k in range(1, df // 2):
            term *= c2 * (2 * k - 1) / (2 * k)
            series += term
        return math.sin(theta) * series
    for k in range(1, (df - 1) // 2):
        term *= c2 * (2 * k) / (2 * k + 1)
        series += term
    return 2 / math.pi * (theta + (math.sin(theta) * math.cos(theta) * series if df > 1 else 0.0))


@cache
def t_quantile(confidence: float, df: int) -> float:
    """The t value whose central interval holds ``confidence`` (``scipy.stats.t.ppf((1 + confidence) / 2, df)``).

    Found by bisection on theta = atan(t / sqrt(df)), where the central probability rises monotonically.
    """
    low, high = 0.0, math.pi / 2
    while True:
        mid = (low + high) / 2
        if mid in (low, high):
            return math.sqrt(df) * math.tan(mid)
        low, high = (mid, high) if _t_central(mid, df) < confidence else (low, mid)


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion: inside [0, 1], and sound at 0/n and n/n."""
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    p = successes / n
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, center - half), min(1.0, center + half)


def mean_ci(
    values: Sequence[float | None],
    kind: Kind = "continuous",
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> Interval:
    """Mean with a confidence interval: Wilson score for binary values, Student t for continuous ones.

    Wilson stays inside [0, 1] and behaves at 0/n and n/n, where the normal interval does not. The t
    interval is clipped to ``bounds`` (the metric's range), which it can otherwise leave near an edge. With
    no values everything is NaN; with one continuous value (or no spread) the bounds are NaN (or the point).
    """
    x = clean(values)
    n = len(x)
    if n == 0:
        return Interval(NAN, NAN, NAN, 0, confidence)
    mean = math.fsum(x) / n
    if kind == "binary":
        check_binary(x, "binary values")
        low, high = wilson(int(sum(x)), n, confidence)
        return Interval(mean, low, high, n, confidence)
    if n == 1:
        return Interval(mean, NAN, NAN, 1, confidence)
    sem = stdev(x) / math.sqrt(n)
    if sem == 0.0:
        return Interval(mean, mean, mean, n, confidence)
    half = t_quantile(confidence, n - 1) * sem
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Interval(mean, float(low), float(high), n, confidence)


def percentile(values: Sequence[float | None], q: float) -> float:
    """The q-th percentile (q in 0..100, linear interpolation) of the values, e.g. p95 latency; NaN if empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be between 0 and 100, got {q}")
    x = sorted(clean(values))
    if not x:
        return NAN
    position = (len(x) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(x) - 1)
    return x[low] + (x[high] - x[low]) * (position - low)
