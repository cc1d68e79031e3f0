"""Cohen's kappa and its interval checked against statsmodels on hand-made and random 2x2 tables, and the cases
where no kappa is given: too few items, a rater who never varies, raters who never disagree."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa

from promptarena.stats import MIN_PAIRS, kappa_table, rater_agreement

HAND_MADE = [
    (20, 5, 10, 15),  # Fleiss' textbook shape: moderate agreement
    (3, 1, 1, 3),  # small: the interval runs past 1 before it is cut
    (1, 1, 1, 1),  # chance agreement: kappa 0
    (40, 2, 3, 1),  # rare fails: high raw agreement, low kappa
    (0, 6, 4, 0),  # never agree
    (2, 8, 9, 1),  # worse than chance
    (1, 0, 1, 1),  # three items
]


def reference(table: tuple[int, int, int, int], confidence: float = 0.95) -> tuple[float, float, float]:
    """statsmodels' kappa and asymptotic interval, cut to [-1, 1] as the project reports it."""
    both, only_a, only_b, neither = table
    res = cohens_kappa(np.array([[both, only_a], [only_b, neither]]))
    half = res.std_kappa * stats.norm.ppf((1 + confidence) / 2)
    return res.kappa, max(-1.0, res.kappa - half), min(1.0, res.kappa + half)


def check(table: tuple[int, int, int, int]) -> None:
    got = kappa_table(*table)
    kappa, low, high = reference(table)
    assert got.why is None, table
    assert got.kappa == pytest.approx(kappa, abs=1e-12)
    assert got.low == pytest.approx(low, abs=1e-9) and got.high == pytest.approx(high, abs=1e-9)
    assert got.observed == pytest.approx((table[0] + table[3]) / sum(table))
    assert (got.both_pass, got.only_a, got.only_b, got.both_fail, got.n) == (*table, sum(table))


@pytest.mark.parametrize("table", HAND_MADE)
def test_kappa_and_interval_match_statsmodels_on_hand_made_tables(table: tuple[int, int, int, int]) -> None:
    check(table)


def test_statsmodels_default_interval_is_the_95_percent_one() -> None:
    res = cohens_kappa(np.array([[20, 5], [10, 15]]))
    got = kappa_table(20, 5, 10, 15)
    assert (got.low, got.high) == pytest.approx((res.kappa_low, res.kappa_upp), abs=1e-12)
    assert got.confidence == 0.95


def test_a_wider_confidence_gives_a_wider_interval_like_statsmodels() -> None:
    table = (30, 6, 9, 25)
    got = kappa_table(*table, confidence=0.99)
    assert (got.low, got.high) == pytest.approx(reference(table, 0.99)[1:], abs=1e-9)
    assert got.high - got.low > kappa_table(*table).high - kappa_table(*table).low


@settings(max_examples=300, deadline=None)
@given(st.tuples(*[st.integers(0, 60)] * 4))
def test_kappa_matches_statsmodels_on_random_tables(table: tuple[int, int, int, int]) -> None:
    both, only_a, only_b, _ = table
    n = sum(table)
    got = kappa_table(*table)
    if n < MIN_PAIRS or not (0 < both + only_a < n and 0 < both + only_b < n):
        assert math.isnan(got.kappa) and got.why in ("too few", "a constant", "b constant", "both constant")
        return
    kappa, low, high = reference(table)
    if not high - low > 1e-5:  # never disagree, or never agree with even marginals: the interval has no width
        assert got.why == "no spread" and got.kappa == pytest.approx(kappa) and math.isnan(got.low)
        return
    check(table)


def test_random_verdicts_pair_up_into_the_same_table() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        size = int(rng.integers(2, 200))
        a = [bool(x) if rng.random() > 0.1 else None for x in rng.integers(0, 2, size)]
        b = [bool(x) if rng.random() > 0.1 else None for x in (rng.random(size) < 0.6)]
        got = rater_agreement(a, b)
        pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
        table = (
            sum(x and y for x, y in pairs),
            sum(x and not y for x, y in pairs),
            sum(y and not x for x, y in pairs),
            sum(not x and not y for x, y in pairs),
        )
        assert (got.both_pass, got.only_a, got.only_b, got.both_fail) == table
        if got.why is None:
            assert got.kappa == pytest.approx(reference(table)[0], abs=1e-12)


@pytest.mark.parametrize("table", [(0, 0, 0, 0), (1, 0, 0, 0), (0, 0, 1, 0)])
def test_no_kappa_from_zero_or_one_item(table: tuple[int, int, int, int]) -> None:
    got = kappa_table(*table)
    assert got.why == "too few" and math.isnan(got.kappa)
    assert got.n == sum(table)
    assert math.isnan(got.observed) if not sum(table) else got.observed in (0.0, 1.0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # statsmodels on a table with a constant rater
def test_a_rater_who_never_varies_gets_no_kappa_and_says_which() -> None:
    judge_always_passes = kappa_table(9, 0, 0, 0)
    assert judge_always_passes.why == "both constant" and math.isnan(judge_always_passes.kappa)
    assert judge_always_passes.observed == 1.0
    a_flat = kappa_table(7, 3, 0, 0)  # A passed all 10, B failed 3 of them
    assert a_flat.why == "a constant" and math.isnan(a_flat.kappa) and a_flat.observed == 0.7
    # statsmodels gives 0 here: chance alone explains the agreement, and the number says nothing about A
    assert cohens_kappa(np.array([[7, 3], [0, 0]])).kappa == pytest.approx(0.0)
    assert kappa_table(0, 4, 0, 6).why == "b constant" and kappa_table(0, 0, 4, 6).why == "a constant"


def test_raters_who_never_disagree_get_kappa_but_no_interval() -> None:
    got = kappa_table(5, 0, 0, 5)
    assert got.kappa == 1.0 and got.why == "no spread"
    assert math.isnan(got.low) and math.isnan(got.high)
    assert cohens_kappa(np.array([[5, 0], [0, 5]])).std_kappa == pytest.approx(0.0)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="must pair up"):
        rater_agreement([True], [True, False])
    with pytest.raises(ValueError, match="negative"):
        kappa_table(1, -1, 0, 0)
