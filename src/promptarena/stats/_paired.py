"""Paired comparisons of two arms on the same cases: exact McNemar or sign-flip tests, Holm, inverted intervals.

Every comparison is paired (the same cases scored under A and B), which removes case difficulty from the
noise. ``None`` scores (a case without a reference) are dropped with their whole pair. numpy and scipy are
imported by the functions that test, so that a run without a comparison loads neither.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from promptarena.stats._descriptive import NAN, Kind, check_binary, clean_pairs
from promptarena.stats._power import continuous_power, mcnemar_power

if TYPE_CHECKING:
    import numpy as np

Verdict = Literal["better", "worse", "higher", "lower", "no significant difference", "too few cases"]
"""``higher``/``lower`` are used instead of better/worse only for metrics without a direction."""

# sign-flip tests enumerate every assignment up to this many (2**16 = 65,536 means, cheap).
_EXACT_MAX_N = 16


@dataclass(frozen=True)
class PairedComparison:
    """B against A on the same cases: means, difference (B - A) with its interval, test, verdict and power.

    ``wins``/``losses`` count cases where B is better/worse than A in the metric's direction (for metrics
    without a direction: higher/lower). ``p_value`` is Holm-adjusted in a family; ``p_raw`` is the test's own.
    ``[ci_low, ci_high]`` is the test inverted at level ``confidence`` (see ``compare_family``), so the
    verdict is better/worse exactly when it excludes 0, which is exactly when ``p_value < alpha``.
    ``detectable`` is the smallest difference these cases detect with 80% power (``inf``: none; NaN:
    unknown) and ``cases_needed`` the cases that would detect the observed difference (None: nothing to detect).
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
    p_raw: float = NAN
    confidence: float = 0.95
    detectable: float = NAN
    cases_needed: int | None = None


@dataclass(frozen=True)
class _SignFlips:
    """One fixed set of sign vectors s and, per vector, s·d and sum(s): the sign-flip null of mean(d - delta).

    Every shift delta is tested against the same vectors, so the p-value and the interval built by inverting
    it come from one resampling. All 2^n vectors for n <= 16, else ``n_resamples`` seeded random ones.
    """

    d: np.ndarray
    dot: np.ndarray
    total: np.ndarray
    exact: bool

    @classmethod
    def build(cls, d: np.ndarray, n_resamples: int = 10_000, seed: int = 0) -> _SignFlips:
        import numpy as np

        n = d.size
        if n <= _EXACT_MAX_N:
            signs = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * -2 + 1
            return cls(d, signs @ d, signs.sum(axis=1), True)
        rng = np.random.default_rng(seed)
        dot, total = np.empty(n_resamples), np.empty(n_resamples)
        for start in range(0, n_resamples, 1024):
            stop = min(start + 1024, n_resamples)
            signs = rng.integers(0, 2, size=(stop - start, n), dtype=np.int8) * -2 + 1
            dot[start:stop], total[start:stop] = signs @ d, signs.sum(axis=1)
        return cls(d, dot, total, False)

    def pvalue(self, delta: float = 0.0) -> float:
        """Two-sided p-value that the mean difference is ``delta``, computed as scipy's permutation_test does."""
        import numpy as np

        n, adjust = self.d.size, 0 if self.exact else 1
        observed = float(np.mean(self.d - delta))
        null = (self.dot - delta * self.total) / n
        gamma = abs(np.finfo(float).eps * 100 * observed)
        less = np.count_nonzero(null <= observed + gamma) + adjust
        greater = np.count_nonzero(null >= observed - gamma) + adjust
        return float(min(1.0, 2 * min(less, greater) / (null.size + adjust)))


def paired_permutation_pvalue(
    a: Sequence[float | None], b: Sequence[float | None], n_resamples: int = 10_000, seed: int = 0
) -> float:
    """Two-sided p-value that mean(B - A) is zero, by flipping the signs of the paired differences.

    Exact (every one of the 2^n sign assignments) for n <= 16, else ``n_resamples`` seeded Monte Carlo ones;
    the same p-value as ``scipy.stats.permutation_test`` with ``permutation_type="samples"``. Returns 1.0
    when there is no difference at all (no evidence either way).
    """
    xa, xb = clean_pairs(a, b)
    d = xb - xa
    if d.size == 0:
        return 1.0
    return _SignFlips.build(d, n_resamples, seed).pvalue()


def _discordant(xa: np.ndarray, xb: np.ndarray) -> tuple[int, int]:
    """``(only_a, only_b)``: the cases only A passes and only B passes."""
    import numpy as np

    check_binary(xa, "McNemar's scores for A")
    check_binary(xb, "McNemar's scores for B")
    return int(np.sum((xa == 1) & (xb == 0))), int(np.sum((xa == 0) & (xb == 1)))


def mcnemar_exact_pvalue(a: Sequence[float | None], b: Sequence[float | None]) -> float:
    """Exact McNemar test for paired pass/fail scores: a two-sided binomial test on the discordant pairs.

    Only cases where A and B disagree carry information; under no difference each is equally likely to
    favour either. Returns 1.0 when there are no discordant pairs.
    """
    only_a, only_b = _discordant(*clean_pairs(a, b))
    return _binomial_two_sided(only_b, only_a + only_b, 0.5)


def _binomial_two_sided(k: int, m: int, pi: float) -> float:
    """Two-sided exact binomial p-value of ``k`` in ``m`` at ``pi``: twice the smaller tail, capped at 1.

    At ``pi = 0.5`` this is ``scipy.stats.binomtest(k, m).pvalue``. ``scipy.special`` gives the tails
    without the second that importing ``scipy.stats`` costs a run that only summarizes.
    """
    if m == 0:
        return 1.0
    from scipy import special

    lower = float(special.bdtr(k, m, pi))  # P(X <= k)
    upper = 1.0 if k == 0 else float(special.bdtrc(k - 1, m, pi))  # P(X >= k)
    return min(1.0, 2 * min(lower, upper))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order (monotone, capped at 1; NaN stays NaN).

    Controls the family-wise error rate when several metrics or versions are compared at once, without
    any assumption about how the tests depend on each other.
    """
    import numpy as np

    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, NAN)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return out.tolist()
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out.tolist()


def holm_factors(pvalues: Sequence[float], alpha: float) -> list[int]:
    """The divisor of ``alpha`` at which Holm tests each comparison, in the input order (1 where p is NaN).

    With the raw p-values sorted, rank r (from 0) of k is tested at ``alpha / (k - r)`` while every smaller
    p-value was rejected; from the first one kept on, all share that step's level ``alpha / (k - s)``.
    So ``factor * p_raw < alpha`` holds exactly when the Holm-adjusted p is below ``alpha`` (the same
    products as ``holm`` computes), and an interval at level ``alpha / factor`` excludes 0 exactly then.
    """
    import numpy as np

    p = np.asarray(pvalues, dtype=float)
    factors = np.ones(p.shape, dtype=int)
    valid = np.flatnonzero(~np.isnan(p))
    k = valid.size
    if k == 0:
        return factors.tolist()
    order = valid[np.argsort(p[valid], kind="stable")]
    rejected = np.asarray(holm(p.tolist()))[order] < alpha
    first_kept = k if rejected.all() else int(np.argmin(rejected))
    factors[order] = k - np.minimum(np.arange(k), first_kept)
    return factors.tolist()


@dataclass(frozen=True)
class _Test:
    """A paired test of "mean(B - A) = delta" for any delta, ready to be inverted into an interval.

    Beyond ``[low, high]`` the p-value no longer changes; ``open_ended`` says whether the difference itself
    may lie beyond them (a continuous difference can; a pass/fail one cannot leave ±discordant/n).
    """

    name: Literal["mcnemar", "permutation"]
    p_raw: float
    estimate: float
    pvalue: Callable[[float], float]
    low: float
    high: float
    open_ended: bool


def _mcnemar_test(xa: np.ndarray, xb: np.ndarray) -> _Test:
    """Exact conditional McNemar: B's share of the m discordant cases is Binomial(m, pi), and the
    difference is m/n * (2 pi - 1); testing pi two one-sided ways inverts to the Clopper-Pearson interval."""
    only_a, only_b = _discordant(xa, xb)
    n, m = xa.size, only_a + only_b
    p_raw = _binomial_two_sided(only_b, m, 0.5)
    estimate = (only_b - only_a) / n if n else NAN

    def pvalue(delta: float) -> float:
        return _binomial_two_sided(only_b, m, min(1.0, max(0.0, (delta * n / m + 1) / 2))) if m else 1.0

    return _Test("mcnemar", p_raw, estimate, pvalue, -m / max(n, 1), m / max(n, 1), False)


def _signflip_test(d: np.ndarray, n_resamples: int, seed: int) -> _Test:
    """Sign-flip permutation test of mean(d - delta) = 0; below min(d) (above max(d)) its p is constant."""
    if d.size == 0:
        return _Test("permutation", 1.0, NAN, lambda _: 1.0, 0.0, 0.0, False)
    flips = _SignFlips.build(d, n_resamples, seed)
    low, high = min(float(d.min()), 0.0) - 1.0, max(float(d.max()), 0.0) + 1.0
    return _Test("permutation", flips.pvalue(), float(d.mean()), flips.pvalue, low, high, True)


def _invert(test: _Test, rejects: Callable[[float], bool], zero_rejected: bool) -> tuple[float, float]:
    """The interval {delta : not rejects(delta)}, by bisection from the estimate outwards.

    0 is always a bracket point with its side given by ``zero_rejected`` (the decision of the test itself),
    so the interval excludes 0 exactly when the test rejects, whatever the rounding of the bounds.
    """

    def search(inner: float, outer: float, outer_rejects: bool, beyond: float) -> float:
        if not outer_rejects and not rejects(outer):
            return beyond
        while abs(outer - inner) > 1e-12 * max(1.0, test.high - test.low):
            mid = (inner + outer) / 2
            if mid in (inner, outer):
                break
            inner, outer = (inner, mid) if rejects(mid) else (mid, outer)
        return inner

    est = test.estimate
    lo = (est, test.low, False)
    hi = (est, test.high, False)
    if est > 0:
        lo = (est, 0.0, True) if zero_rejected else (0.0, test.low, False)
    elif est < 0:
        hi = (est, 0.0, True) if zero_rejected else (0.0, test.high, False)
    low = search(*lo, -math.inf if test.open_ended else test.low)
    high = search(*hi, math.inf if test.open_ended else test.high)
    return low, high


def _paired_test(
    a: Sequence[float | None], b: Sequence[float | None], kind: Kind, seed: int
) -> tuple[np.ndarray, np.ndarray, _Test]:
    xa, xb = clean_pairs(a, b)
    test = _mcnemar_test(xa, xb) if kind == "binary" else _signflip_test(xb - xa, 10_000, seed)
    return xa, xb, test


def _direction(positive: bool, higher_is_better: bool | None) -> Verdict:
    if higher_is_better is None:
        return "higher" if positive else "lower"
    return "better" if positive == higher_is_better else "worse"


def _decide(
    xa: np.ndarray,
    xb: np.ndarray,
    test: _Test,
    factor: int,
    p_value: float,
    higher_is_better: bool | None,
    alpha: float,
    min_cases: int,
    bounds: tuple[float, float] | None,
) -> PairedComparison:
    """One comparison at level ``alpha / factor``: the interval inverts the test and the verdict reads it."""
    import numpy as np

    n = int(xa.size)
    level = alpha / factor
    low = high = NAN
    verdict: Verdict = "too few cases"
    if n >= max(min_cases, 1):
        low, high = _invert(test, lambda delta: factor * test.pvalue(delta) < alpha, p_value < alpha)
        if bounds is not None:
            width = bounds[1] - bounds[0]
            low, high = max(low, -width), min(high, width)
        verdict = _direction(low > 0, higher_is_better) if low > 0 or high < 0 else "no significant difference"
    if test.name == "mcnemar":
        detectable, needed = mcnemar_power(n, int(np.sum(xa != xb)), test.estimate, level, min_cases)
    else:
        detectable, needed = continuous_power(xb - xa, level, min_cases)
    sign = -1.0 if higher_is_better is False else 1.0
    d = sign * (xb - xa)
    wins, losses = int(np.sum(d > 0)), int(np.sum(d < 0))
    return PairedComparison(
        n=n,
        mean_a=float(xa.mean()) if n else NAN,
        mean_b=float(xb.mean()) if n else NAN,
        diff=test.estimate,
        ci_low=float(low),
        ci_high=float(high),
        p_value=p_value,
        wins=wins,
        ties=n - wins - losses,
        losses=losses,
        verdict=verdict,
        test=test.name,
        higher_is_better=higher_is_better,
        alpha=alpha,
        min_cases=min_cases,
        p_raw=test.p_raw,
        confidence=1 - level,
        detectable=detectable,
        cases_needed=needed,
    )


def compare_family(
    pairs: Sequence[tuple[Sequence[float | None], Sequence[float | None]]],
    kind: Kind,
    higher_is_better: bool | None = True,
    alpha: float = 0.05,
    min_cases: int = 5,
    seed: int = 0,
    bounds: tuple[float, float] | None = None,
) -> list[PairedComparison]:
    """Compare each (A, B) pair of one metric and decide them together, Holm-corrected when there are several.

    Pass/fail scores use exact McNemar and the Clopper-Pearson interval of B's share of the discordant
    cases mapped to the difference; continuous ones the sign-flip permutation test and the shifts it does
    not reject (one fixed resampling for both). Each interval is at level ``1 - alpha / holm_factors(...)``,
    so "excludes 0" and "adjusted p < alpha" are one decision. Intervals are clipped to ±(range width) of
    ``bounds``; comparisons under ``min_cases`` pairs say "too few cases" and have NaN bounds.
    """
    tests = [_paired_test(a, b, kind, seed) for a, b in pairs]
    raw = [t.p_raw for _, _, t in tests]
    adjusted = holm(raw) if len(raw) > 1 else raw
    factors = holm_factors(raw, alpha)
    return [
        _decide(xa, xb, t, f, p, higher_is_better, alpha, min_cases, bounds)
        for (xa, xb, t), f, p in zip(tests, factors, adjusted, strict=True)
    ]


def compare_paired(
    a: Sequence[float | None],
    b: Sequence[float | None],
    kind: Kind,
    higher_is_better: bool | None = True,
    alpha: float = 0.05,
    min_cases: int = 5,
    seed: int = 0,
    bounds: tuple[float, float] | None = None,
) -> PairedComparison:
    """Compare version B against version A on the same cases and say whether B is better (see ``compare_family``).

    Pairs with a ``None`` on either side are dropped.
    """
    return compare_family([(a, b)], kind, higher_is_better, alpha, min_cases, seed, bounds)[0]
