"""The run's intervals, computed without scipy, against scipy's own (the reference for Student t and Wilson)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from promptarena.stats import mean_ci

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 17, 30, 101, 1000])
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99, 0.999])
def test_t_interval_matches_scipy(n: int, confidence: float) -> None:
    x = RNG.normal(0.4, 0.2, size=n)
    ours = mean_ci(x.tolist(), confidence=confidence)
    low, high = stats.t.interval(confidence, df=n - 1, loc=x.mean(), scale=stats.sem(x))
    assert (ours.low, ours.high) == pytest.approx((low, high), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("n", [1, 2, 7, 40])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_scipy_at_every_count(n: int, confidence: float) -> None:
    for k in range(n + 1):
        ours = mean_ci([1] * k + [0] * (n - k), kind="binary", confidence=confidence)
        ref = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
        assert (ours.low, ours.high) == pytest.approx((ref.low, ref.high), abs=1e-12)
