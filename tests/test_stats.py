"""Statistics checked against values computed by hand in the test."""

from __future__ import annotations

import itertools
import math

import pytest

from promptarena.stats import (
    Bin,
    PairedComparison,
    brier,
    compare_paired,
    ece,
    holm,
    holm_comparisons,
    mcnemar_exact_pvalue,
    mean_ci,
    paired_bootstrap_ci,
    paired_permutation_pvalue,
    percentile,
    reliability_table,
)

Z95 = 1.959963984540054  # standard normal 97.5% quantile


def test_wilson_interval_for_8_of_10() -> None:
    n, p, z2 = 10, 0.8, Z95**2
    center = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    ci = mean_ci([1] * 8 + [0] * 2, kind="binary")
    assert (ci.mean, ci.n) == (0.8, 10)
    assert ci.low == pytest.approx(center - half) == pytest.approx(0.49016, abs=1e-5)
    assert ci.high == pytest.approx(center + half) == pytest.approx(0.94332, abs=1e-5)


def test_wilson_interval_stays_inside_zero_one() -> None:
    ci = mean_ci([1, 1, 1], kind="binary")
    assert ci.high == pytest.approx(1.0) and 0 < ci.low < 1
    with pytest.raises(ValueError, match="0 or 1"):
        mean_ci([0.5], kind="binary")


def test_t_interval_for_1_2_3() -> None:
    # mean 2, sd 1, sem 1/sqrt(3); t(0.975, df=2) = 4.302653
    ci = mean_ci([1.0, 2.0, 3.0, None])
    half = 4.302652729911275 / math.sqrt(3)
    assert (ci.mean, ci.n) == (2.0, 3)
    assert (ci.low, ci.high) == (pytest.approx(2 - half), pytest.approx(2 + half))


def test_mean_ci_small_samples_do_not_crash() -> None:
    empty = mean_ci([])
    assert empty.n == 0 and math.isnan(empty.mean) and math.isnan(empty.low)
    one = mean_ci([0.7])
    assert one.mean == 0.7 and math.isnan(one.low) and math.isnan(one.high)
    assert mean_ci([1], kind="binary").n == 1
    flat = mean_ci([0.5, 0.5, 0.5])
    assert (flat.low, flat.high) == (0.5, 0.5)


def test_mcnemar_one_against_six_discordant() -> None:
    # A alone passes 1 case, B alone passes 6, 3 agree: p = 2 * (C(7,0) + C(7,1)) / 2^7 = 0.125.
    a = [1, 0, 0, 0, 0, 0, 0, 1, 0, 1]
    b = [0, 1, 1, 1, 1, 1, 1, 1, 0, 1]
    assert mcnemar_exact_pvalue(a, b) == pytest.approx(2 * (1 + 7) / 2**7)
    assert mcnemar_exact_pvalue(a, a) == 1.0


def test_exact_permutation_pvalue_by_enumeration() -> None:
    # differences 1, 2, 3, -1 (sum 5). Of the 16 sign flips, |sum| >= 5 for sums +-7 (1 each) and +-5
    # (flip either 1: 2 each): 6 / 16.
    a = [0.0, 0.0, 0.0, 1.0]
    b = [1.0, 2.0, 3.0, 0.0]
    assert paired_permutation_pvalue(a, b) == pytest.approx(6 / 16)
    d = [1, 2, 3, -1]
    by_enumeration = sum(
        abs(sum(s * x for s, x in zip(signs, d, strict=True))) >= 5 for signs in itertools.product((1, -1), repeat=4)
    )
    assert by_enumeration == 6
    assert paired_permutation_pvalue(a, a) == 1.0


def test_holm_by_hand() -> None:
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, 2*0.03, max(1*0.04, 0.06); back to input order.
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []
    adjusted = holm([0.02, float("nan")])
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1])


def test_paired_bootstrap_ci_brackets_the_mean_difference() -> None:
    a = [0.1, 0.4, 0.3, 0.5, 0.2, 0.6, 0.3, 0.4]
    b = [0.3, 0.5, 0.6, 0.6, 0.4, 0.7, 0.5, 0.4]
    diff, low, high = paired_bootstrap_ci(a, b)
    assert diff == pytest.approx(0.15)
    assert 0.0 < low < diff < high < 0.3  # differences lie in 0..0.3, all >= 0
    assert paired_bootstrap_ci(a, b) == (diff, low, high)  # seeded
    assert paired_bootstrap_ci([1.0], [2.0])[0] == 1.0
    assert paired_bootstrap_ci([1.0, 2.0], [2.0, 3.0]) == (1.0, 1.0, 1.0)


def test_compare_binary_uses_mcnemar_and_calls_better() -> None:
    a = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    b = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    c = compare_paired(a, b, "binary")
    assert (c.n, c.wins, c.ties, c.losses) == (12, 9, 2, 1)
    assert c.p_value == pytest.approx(2 * (1 + 10) / 2**10)  # 1 vs 9 discordant
    assert c.test == "mcnemar" and c.verdict == "better"
    assert c.diff == pytest.approx(8 / 12) and c.ci_low <= c.diff <= c.ci_high
    assert compare_paired(b, a, "binary").verdict == "worse"


def test_compare_respects_direction_and_drops_missing_pairs() -> None:
    a = [1.0, 1.2, 0.9, 1.1, 1.0, 1.3, None]
    b = [0.5, 0.6, 0.4, 0.5, 0.6, 0.7, 0.1]
    faster = compare_paired(a, b, "continuous", higher_is_better=False)
    assert faster.n == 6 and faster.wins == 6 and faster.losses == 0
    assert faster.p_value == pytest.approx(2 / 2**6)  # exact: only all-plus and all-minus are as extreme
    assert faster.verdict == "better"
    assert compare_paired(a, b, "continuous").verdict == "worse"
    assert compare_paired(a, b, "continuous", higher_is_better=None).verdict == "lower"


def test_compare_too_few_and_no_difference() -> None:
    assert compare_paired([0.1, 0.2], [0.9, 0.8], "continuous").verdict == "too few cases"
    same = compare_paired([0.5] * 6, [0.5] * 6, "continuous")
    assert same.verdict == "no significant difference" and same.p_value == 1.0 and same.ties == 6
    empty = compare_paired([], [], "binary")
    assert empty.n == 0 and empty.verdict == "too few cases" and math.isnan(empty.mean_a)
    with pytest.raises(ValueError, match="same length"):
        compare_paired([1], [1, 0], "binary")


def test_holm_comparisons_recomputes_verdicts() -> None:
    a = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    b = [0, 1, 1, 1, 1, 1, 1, 1, 0, 0]  # 1 vs 7 discordant: p = 2 * 9 / 256 = 0.0703
    strong = compare_paired([0] * 10, [1] * 10, "binary")  # p = 2 / 1024
    weak = compare_paired([1] + [0] * 9, [0] + [1] * 5 + [0] * 4, "binary")  # 1 vs 5: p = 2 * 7 / 64
    mid = compare_paired(a, b, "binary")
    assert (weak.p_value, mid.p_value) == (pytest.approx(2 * 7 / 64), pytest.approx(2 * 9 / 256))
    adjusted = holm_comparisons([weak, strong, mid])
    assert [c.p_value for c in adjusted] == pytest.approx(holm([weak.p_value, strong.p_value, mid.p_value]))
    assert [c.verdict for c in adjusted] == ["no significant difference", "better", "no significant difference"]
    assert holm_comparisons(adjusted) == adjusted  # idempotent: adjusts the raw p-values
    assert isinstance(adjusted[0], PairedComparison) and adjusted[0].p_raw == weak.p_value


def test_calibration_by_hand() -> None:
    conf = [0.9, 0.9, 0.6, 0.2, None]
    correct = [True, False, True, False, True]
    # bins: [0.9,1.0): conf 0.9, acc 0.5, 2 cases; [0.6,0.7): 0.6 vs 1; [0.2,0.3): 0.2 vs 0.
    # ECE = 2/4*0.4 + 1/4*0.4 + 1/4*0.2 = 0.35; Brier = (0.01 + 0.81 + 0.16 + 0.04) / 4 = 0.255.
    assert ece(conf, correct) == pytest.approx(0.35)
    assert brier(conf, correct) == pytest.approx(0.255)
    table = reliability_table(conf, correct)
    assert table == [
        Bin(pytest.approx(0.2), pytest.approx(0.3), 1, 0.2, 0.0),
        Bin(pytest.approx(0.6), pytest.approx(0.7), 1, 0.6, 1.0),
        Bin(pytest.approx(0.9), pytest.approx(1.0), 2, 0.9, 0.5),
    ]
    assert reliability_table([1.0, 0.0], [1, 0], n_bins=2) == [Bin(0.0, 0.5, 1, 0.0, 0.0), Bin(0.5, 1.0, 1, 1.0, 1.0)]
    assert math.isnan(ece([], [])) and math.isnan(brier([], []))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        brier([1.5], [1])


def test_percentile() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0, None], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)  # 1 + 0.95 * 3 -> 3.85
    assert math.isnan(percentile([], 90))
    with pytest.raises(ValueError):
        percentile([1.0], 101)
