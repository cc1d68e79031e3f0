"""Every statistic checked against its reference implementation (scipy, statsmodels, numpy) on generated
inputs, adversarial ones included, and a property test that a verdict never disagrees with its interval."""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from promptarena.stats import (
    brier,
    compare_family,
    compare_paired,
    ece,
    holm,
    holm_factors,
    mcnemar_exact_pvalue,
    mean_ci,
    paired_permutation_pvalue,
)

RNG = np.random.default_rng(20240601)
ADVERSARIAL_BINARY = [
    ([], []),
    ([1], [0]),  # n = 1
    ([0, 1, 1], [1, 1, 0]),  # n < 5, a tie in the discordant split
    ([1, 0, 1, 0, 1, 0], [1, 0, 1, 0, 1, 0]),  # all ties
    ([0] * 9, [1] * 9),  # perfect separation
    ([1] * 9, [0] * 9),
    ([0] * 20, [0] * 15 + [1] * 5),  # 5 discordant, all for B
]


def _random_binary(n: int, p_a: float, p_b: float) -> tuple[list[int], list[int]]:
    a = (RNG.random(n) < p_a).astype(int)
    b = np.where(RNG.random(n) < 0.6, a, (RNG.random(n) < p_b).astype(int))
    return a.tolist(), b.tolist()


BINARY = ADVERSARIAL_BINARY + [_random_binary(n, 0.5, pb) for n in (5, 8, 13, 30, 60) for pb in (0.3, 0.5, 0.9)]


def _split(a: list[int], b: list[int]) -> tuple[int, int]:
    xa, xb = np.asarray(a), np.asarray(b)
    return int(np.sum((xa == 1) & (xb == 0))), int(np.sum((xa == 0) & (xb == 1)))


@pytest.mark.parametrize(("a", "b"), BINARY)
def test_mcnemar_matches_statsmodels_and_scipy(a: list[int], b: list[int]) -> None:
    only_a, only_b = _split(a, b)
    table = [[0, only_a], [only_b, 0]]
    expected = mcnemar(table, exact=True).pvalue if only_a + only_b else 1.0
    assert mcnemar_exact_pvalue(a, b) == pytest.approx(expected, rel=1e-12)
    if only_a + only_b:
        assert mcnemar_exact_pvalue(a, b) == pytest.approx(stats.binomtest(only_b, only_a + only_b).pvalue, rel=1e-12)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
@pytest.mark.parametrize(("a", "b"), BINARY)
def test_binary_interval_is_clopper_pearson_on_the_discordant_split(a: list[int], b: list[int], alpha: float) -> None:
    c = compare_paired(a, b, "binary", alpha=alpha, min_cases=1)
    only_a, only_b = _split(a, b)
    n, m = len(a), only_a + only_b
    if n == 0:
        assert math.isnan(c.ci_low) and math.isnan(c.ci_high)
        return
    if m == 0:
        assert (c.ci_low, c.ci_high) == (0.0, 0.0)
        return
    low, high = proportion_confint(only_b, m, alpha=alpha, method="beta")
    ref = stats.binomtest(only_b, m).proportion_ci(confidence_level=1 - alpha, method="exact")
    assert (low, high) == (pytest.approx(ref.low, abs=1e-9), pytest.approx(ref.high, abs=1e-9))
    assert c.ci_low == pytest.approx(m / n * (2 * low - 1), abs=1e-8)
    assert c.ci_high == pytest.approx(m / n * (2 * high - 1), abs=1e-8)


def _scipy_signflip(d: np.ndarray, n_resamples: int = 10_000, seed: int = 0) -> float:
    res = stats.permutation_test(
        (d,),
        lambda x, axis: np.mean(x, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=max(n_resamples, 2**d.size) if d.size <= 16 else n_resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(res.pvalue)


CONTINUOUS = [
    np.array([0.5]),  # n = 1
    np.array([0.2, -0.1, 0.4]),  # n < 5
    np.zeros(7),  # all ties
    np.array([0.3, 0.3, -0.3, 0.3, 0.0, 0.3]),  # ties in |d|
    np.full(9, 0.25),  # perfect separation, no spread
    *[RNG.normal(0.1, 0.3, n).round(2) for n in (5, 9, 12, 16)],
]


@pytest.mark.parametrize("d", CONTINUOUS, ids=lambda d: f"n{d.size}")
def test_exact_sign_flip_matches_scipy_permutation_test(d: np.ndarray) -> None:
    ours = paired_permutation_pvalue([0.0] * d.size, d.tolist())
    # scipy needs two observations; with one, both sign flips (+d, -d) are as extreme: p = 1
    assert ours == pytest.approx(_scipy_signflip(d) if d.size > 1 else 1.0, rel=1e-12)


@pytest.mark.parametrize("n", [20, 45])
def test_monte_carlo_sign_flip_agrees_with_scipy_within_its_error(n: int) -> None:
    d = RNG.normal(0.08, 0.3, n)
    ours, ref = paired_permutation_pvalue([0.0] * n, d.tolist()), _scipy_signflip(d)
    assert abs(ours - ref) < 4 * math.sqrt(max(ref * (1 - ref), 1e-4) / 10_000) * 2


@pytest.mark.parametrize("d", [x for x in CONTINUOUS if x.size >= 5 and np.std(x) > 0], ids=lambda d: f"n{d.size}")
def test_continuous_bounds_are_where_scipy_stops_rejecting(d: np.ndarray) -> None:
    alpha = 0.2
    c = compare_paired([0.0] * d.size, d.tolist(), "continuous", alpha=alpha)
    assert (c.p_value < alpha) == (c.ci_low > 0 or c.ci_high < 0)
    for bound, inward in ((c.ci_low, 1e-7), (c.ci_high, -1e-7)):
        if math.isfinite(bound):
            assert _scipy_signflip(d - (bound + inward)) >= alpha
            assert _scipy_signflip(d - (bound - inward)) < alpha


@pytest.fixture(autouse=True, scope="module")
def _no_full_collections() -> Iterator[None]:
    """statsmodels' multipletests runs a full garbage collection on every call: seconds in a process that
    holds the embedded models. Its results do not depend on it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gc, "collect", lambda *args: 0)
        yield


@pytest.mark.parametrize("k", [2, 3, 5, 8])
def test_holm_matches_statsmodels(k: int) -> None:
    for _ in range(25):
        p = np.where(RNG.random(k) < 0.3, RNG.random(k) * 0.02, RNG.random(k)).round(4)  # ties included
        reject, corrected, _, _ = multipletests(p, alpha=0.05, method="holm")
        assert holm(p.tolist()) == pytest.approx(corrected.tolist(), abs=1e-12)
        factors = np.asarray(holm_factors(p.tolist(), 0.05))
        assert ((factors * p) < 0.05).tolist() == (corrected < 0.05).tolist()


@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (0, 7), (7, 7), (3, 10), (8, 10), (27, 40)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(k: int, n: int, confidence: float) -> None:
    ci = mean_ci([1] * k + [0] * (n - k), kind="binary", confidence=confidence)
    low, high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    assert (ci.low, ci.high, ci.confidence) == (pytest.approx(low), pytest.approx(high), confidence)


@pytest.mark.parametrize("n", [1, 4, 25, 200])
def test_ece_and_brier_match_numpy(n: int) -> None:
    conf = RNG.random(n).round(2)
    correct = (RNG.random(n) < conf).astype(float)
    bins = np.minimum((conf * 10).astype(int), 9)
    expected_ece = sum(
        np.sum(bins == i) / n * abs(correct[bins == i].mean() - conf[bins == i].mean())
        for i in range(10)
        if np.any(bins == i)
    )
    assert ece(conf.tolist(), correct.tolist()) == pytest.approx(expected_ece, abs=1e-12)
    assert brier(conf.tolist(), correct.tolist()) == pytest.approx(np.mean((conf - correct) ** 2), abs=1e-12)


def _arms(draw: st.DrawFn, kind: str, n: int, k: int) -> list[list[float]]:
    if kind == "binary":
        cell = st.sampled_from([0.0, 1.0])
    else:
        cell = st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.floats(0, 1, allow_nan=False))
    return [draw(st.lists(cell, min_size=n, max_size=n)) for _ in range(k)]


@st.composite
def families(draw: st.DrawFn) -> tuple[str, list[list[float]], float, bool | None]:
    kind = draw(st.sampled_from(["binary", "continuous"]))
    n = draw(st.integers(0, 30))
    arms = _arms(draw, kind, n, draw(st.integers(2, 4)))
    alpha = draw(st.floats(0.001, 0.2, exclude_min=True, exclude_max=True))
    return kind, arms, alpha, draw(st.sampled_from([True, False, None]))


@settings(max_examples=120, deadline=None)
@given(families())
def test_verdict_and_interval_never_disagree(family: tuple[str, list[list[float]], float, bool | None]) -> None:
    kind, arms, alpha, higher_is_better = family
    base, others = arms[0], arms[1:]
    pairs = [(base, arm) for arm in others]
    comps = compare_family(pairs, kind, higher_is_better, alpha=alpha, min_cases=3, bounds=(0.0, 1.0))
    raw = [c.p_raw for c in comps]
    assert [c.p_value for c in comps] == pytest.approx(multipletests(raw, method="holm")[1].tolist(), abs=1e-12)
    for c in comps:
        if c.n < c.min_cases:
            assert c.verdict == "too few cases" and math.isnan(c.ci_low) and math.isnan(c.ci_high)
            continue
        excludes_zero = c.ci_low > 0 or c.ci_high < 0
        significant = c.verdict in ("better", "worse", "higher", "lower")
        assert significant == excludes_zero == (c.p_value < alpha)
        assert c.ci_low <= c.diff <= c.ci_high and c.ci_low >= -1.0 and c.ci_high <= 1.0
        if significant and higher_is_better is not None:
            assert (c.verdict == "better") == ((c.ci_low > 0) == higher_is_better)
