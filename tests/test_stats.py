"""Statistics checked against values computed by hand in the test (references: test_stat_references.py)."""

from __future__ import annotations

import itertools
import math

import pytest

from promptarena.report import fmt_confidence, fmt_detect
from promptarena.stats import (
    Bin,
    brier,
    compare_family,
    compare_paired,
    ece,
    holm,
    holm_factors,
    mcnemar_exact_pvalue,
    mean_ci,
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


def test_continuous_interval_is_the_inverted_sign_flip_test() -> None:
    a = [0.1, 0.4, 0.3, 0.5, 0.2, 0.6, 0.3, 0.4]
    b = [0.3, 0.5, 0.6, 0.6, 0.4, 0.7, 0.5, 0.4]
    c = compare_paired(a, b, "continuous")
    assert c.diff == pytest.approx(0.15)
    assert 0.0 < c.ci_low < c.diff < c.ci_high <= 0.3  # differences lie in 0..0.3, 7 of 8 positive
    assert c.verdict == "better" and c.p_value < 0.05
    # each bound is a shift where the exact test of (d - shift) sits on the 5% edge
    d = [y - x for x, y in zip(a, b, strict=True)]
    for bound, inside in ((c.ci_low, 1e-9), (c.ci_high, -1e-9)):
        assert paired_permutation_pvalue([0.0] * 8, [x - bound - inside for x in d]) >= 0.05
        assert paired_permutation_pvalue([0.0] * 8, [x - bound + inside for x in d]) < 0.05
    assert compare_paired(a, b, "continuous") == c  # seeded


def test_compare_binary_uses_mcnemar_and_calls_better() -> None:
    a = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    b = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    c = compare_paired(a, b, "binary")
    assert (c.n, c.wins, c.ties, c.losses) == (12, 9, 2, 1)
    assert c.p_value == pytest.approx(2 * (1 + 10) / 2**10)  # 1 vs 9 discordant
    assert c.test == "mcnemar" and c.verdict == "better"
    assert c.diff == pytest.approx(8 / 12) and 0 < c.ci_low <= c.diff <= c.ci_high
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


def test_holm_family_adjusts_p_and_intervals_together() -> None:
    a = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    b = [0, 1, 1, 1, 1, 1, 1, 1, 0, 0]  # 1 vs 7 discordant: p = 2 * 9 / 256
    pairs = [
        ([1] + [0] * 9, [0] + [1] * 5 + [0] * 4),  # 1 vs 5: p = 2 * 7 / 64
        ([0] * 10, [1] * 10),  # 0 vs 10: p = 2 / 1024
        (a, b),
    ]
    raw = [compare_paired(x, y, "binary").p_value for x, y in pairs]
    assert raw == pytest.approx([2 * 7 / 64, 2 / 1024, 2 * 9 / 256])
    family = compare_family(pairs, "binary")
    assert [c.p_value for c in family] == pytest.approx(holm(raw))
    assert [c.p_raw for c in family] == raw
    assert [c.verdict for c in family] == ["no significant difference", "better", "no significant difference"]
    # sorted p: strong (rejected at alpha/3), mid (kept at alpha/2), weak (kept: shares mid's level alpha/2)
    assert holm_factors(raw, 0.05) == [2, 3, 2]
    assert [c.confidence for c in family] == pytest.approx([1 - 0.05 / 2, 1 - 0.05 / 3, 1 - 0.05 / 2])
    strong = family[1]
    assert strong.ci_low > 0 and strong.ci_low < compare_paired(*pairs[1], "binary").ci_low  # wider than alone
    assert all(c.ci_low <= 0 <= c.ci_high for c in (family[0], family[2]))


def test_holm_factors_by_hand() -> None:
    # sorted 0.01 (x3 = 0.03 < 0.05: rejected), 0.02 (x2 = 0.04: rejected), 0.04 (x1 = 0.04: rejected)
    assert holm_factors([0.04, 0.01, 0.02], 0.05) == [1, 3, 2]
    # 0.01 rejected at /3, 0.03 * 2 = 0.06 kept: it and everything after share level alpha / 2
    assert holm_factors([0.01, 0.03, 0.04], 0.05) == [3, 2, 2]
    assert holm_factors([0.2, 0.3], 0.05) == [2, 2]
    assert holm_factors([0.02, float("nan")], 0.05) == [1, 1]
    assert holm_factors([], 0.05) == []


def test_bug_five_discordant_pairs_all_for_b_is_one_decision() -> None:
    # 5 of 20 cases discordant, all in B's favour: p = 2 / 32 = 0.0625, so the interval must include 0.
    c = compare_paired([0] * 20, [0] * 15 + [1] * 5, "binary")
    assert c.p_value == pytest.approx(0.0625) and c.verdict == "no significant difference"
    assert c.ci_low <= 0 < c.ci_high and c.diff == pytest.approx(0.25)
    six = compare_paired([0] * 20, [0] * 14 + [1] * 6, "binary")  # p = 2 / 64
    assert six.verdict == "better" and six.ci_low > 0


def test_confidence_follows_alpha() -> None:
    a, b = [0.1, 0.4, 0.3, 0.5, 0.2, 0.6], [0.3, 0.5, 0.2, 0.6, 0.4, 0.7]
    c90, c95 = compare_paired(a, b, "continuous", alpha=0.1), compare_paired(a, b, "continuous")
    assert (c90.confidence, c95.confidence) == (pytest.approx(0.9), pytest.approx(0.95))
    assert c95.ci_low <= c90.ci_low and c90.ci_high <= c95.ci_high
    assert [fmt_confidence(x) for x in (0.9, 0.95, 1 - 0.05 / 3, 0.975)] == ["90%", "95%", "98.3%", "97.5%"]


def test_edge_cases_do_not_raise() -> None:
    one = compare_paired([0.2], [0.9], "continuous")
    assert one.verdict == "too few cases" and math.isnan(one.ci_low) and math.isnan(one.ci_high)
    dropped = compare_paired([0.2, None, 0.3], [0.9, 0.5, None], "continuous")
    assert dropped.n == 1 and dropped.verdict == "too few cases" and dropped.diff == pytest.approx(0.7)
    for kind in ("binary", "continuous"):
        empty = compare_paired([], [], kind)
        assert empty.n == 0 and empty.verdict == "too few cases" and math.isnan(empty.diff)
        assert math.isnan(empty.detectable) and empty.cases_needed is None
    ties = compare_paired([1, 0, 1, 0, 1, 0], [1, 0, 1, 0, 1, 0], "binary")
    assert (ties.ci_low, ties.ci_high, ties.verdict) == (0.0, 0.0, "no significant difference")
    assert fmt_detect(ties) == "no case differs between A and B"
    flat = compare_paired([0.4] * 8, [0.4] * 8, "continuous")
    assert flat.ci_low == pytest.approx(0.0, abs=1e-9) and flat.ci_high == pytest.approx(0.0, abs=1e-9)
    perfect = compare_paired([0] * 8, [1] * 8, "binary")
    assert perfect.verdict == "better" and perfect.ci_low > 0 and perfect.ci_high == 1.0
    shift = compare_paired([0.0] * 8, [0.5] * 8, "continuous", bounds=(0.0, 1.0))  # constant difference
    assert shift.verdict == "better" and shift.ci_low == pytest.approx(0.5) and shift.ci_high == pytest.approx(0.5)
    four = compare_paired([0.0] * 4, [1.0] * 4, "continuous", min_cases=2, bounds=(0.0, 1.0))  # p = 2/16
    assert four.verdict == "no significant difference" and (four.ci_low, four.ci_high) == (-1.0, 1.0)


def test_bounded_intervals_stay_in_range() -> None:
    raw = mean_ci([0, 0, 0, 1])
    assert raw.low < 0 and raw.high > 1  # the t interval alone leaves [0, 1]
    clipped = mean_ci([0, 0, 0, 1], bounds=(0.0, 1.0))
    assert (clipped.low, clipped.high, clipped.mean) == (0.0, 1.0, 0.25)
    inside = mean_ci([0.4, 0.5, 0.6], bounds=(0.0, 1.0))
    assert (inside.low, inside.high) == (mean_ci([0.4, 0.5, 0.6]).low, mean_ci([0.4, 0.5, 0.6]).high)
    c = compare_paired([0, 0, 0, 0, 0, 1], [1, 1, 1, 1, 1, 0], "continuous", min_cases=2, bounds=(0.0, 1.0))
    assert c.ci_low >= -1.0 and c.ci_high <= 1.0


def test_power_mcnemar_by_connor() -> None:
    # 20 cases, 10 discordant (psi 0.5), 6 for B: observed diff 0.1.
    a = [1] * 4 + [0] * 6 + [1] * 5 + [0] * 5
    b = [0] * 4 + [1] * 6 + [1] * 5 + [0] * 5
    c = compare_paired(a, b, "binary")
    za, zb, psi, n = 1.959963984540054, 0.8416212335729143, 0.5, 20
    delta = c.detectable
    assert math.sqrt(n) * delta == pytest.approx(za * math.sqrt(psi) + zb * math.sqrt(psi - delta**2))
    needed = (za * math.sqrt(psi) + zb * math.sqrt(psi - 0.01)) ** 2 / 0.01
    assert c.cases_needed == math.ceil(needed) == 391
    assert fmt_detect(c) == f"could detect ±{delta:.2f} at 80% power; ~391 cases needed to detect the observed +0.10"


def test_power_continuous_by_normal_approximation() -> None:
    d = [0.1, -0.2, 0.3, 0.0, 0.2, -0.1, 0.15, 0.05, -0.05, 0.1]
    c = compare_paired([0.0] * 10, d, "continuous")
    z = 1.959963984540054 + 0.8416212335729143
    sd = float(__import__("numpy").std(d, ddof=1))
    assert c.detectable == pytest.approx(z * sd / math.sqrt(10))
    assert c.cases_needed == math.ceil((z * sd / (sum(d) / 10)) ** 2)
    assert compare_paired([0.0] * 4, [0.1, 0.2, 0.3, 0.4], "continuous").detectable == math.inf  # 4 < 6 signs
    assert "4 cases cannot detect any difference" in fmt_detect(compare_paired([0.0] * 4, [0.1] * 4, "continuous"))


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


def test_a_vanishing_difference_sizes_no_case_count_instead_of_overflowing() -> None:
    """Found by the property test: an observed difference near 1e-272 used to overflow the case count."""
    comp = compare_paired([0.0, 0.0, 0.25, 4.4878163327278106e-272], [0.0, 0.25, 0.0, 0.0], "continuous", min_cases=3)
    assert comp.cases_needed is None
    assert comp.verdict == "no significant difference"
