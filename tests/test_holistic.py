"""Holistic aggregation checked against direct numpy computations and stats' own paired comparisons."""

from __future__ import annotations

import math

import numpy as np
import pytest

from promptarena.holistic import fairness, robustness, spread, worst_case
from promptarena.stats import compare_family, compare_paired

UNPERTURBED = [1, 1, 1, 0, 1, 1, 1, 0, 1, 1, None, 1]
PERTURBED = {
    "typos": [1, 0, 1, 0, 1, 0, 1, 0, 0, 1, None, 1],
    "lowercase": [1, 1, 1, 1, 1, 1, 1, 0, 1, 1, None, 1],
    "whitespace": [1, 1, 0, 0, 1, 1, 1, 0, 1, 1, None, None],
}


def _array(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def test_robustness_against_a_direct_computation() -> None:
    r = robustness(UNPERTURBED, PERTURBED, "binary")
    table = np.vstack([_array(UNPERTURBED), *(_array(v) for v in PERTURBED.values())])
    worst = np.nanmin(np.where(np.isnan(table), np.inf, table), axis=0)
    worst = np.where(np.isinf(worst), np.nan, worst)
    assert [math.nan if v is None else v for v in r.worst_case] == pytest.approx(list(worst), nan_ok=True)
    assert r.worst_case[10] is None and r.worst_case[11] == 1
    assert r.worst_case_mean == pytest.approx(np.nanmean(worst))
    assert r.unperturbed == pytest.approx(np.nanmean(table[0]))
    for i, name in enumerate(PERTURBED, start=1):
        assert r.means[name] == pytest.approx(np.nanmean(table[i]))
        both = ~np.isnan(table[0]) & ~np.isnan(table[i])
        assert r.drops[name] == pytest.approx(table[0][both].mean() - table[i][both].mean())
    assert r.drops["typos"] > 0 and r.drops["lowercase"] < 0


def test_robustness_tests_each_perturbation_against_unperturbed_in_one_holm_family() -> None:
    r = robustness(UNPERTURBED, PERTURBED, "binary")
    expected = compare_family(
        [(UNPERTURBED, v) for v in [*PERTURBED.values(), list(r.worst_case)]], "binary", higher_is_better=True
    )
    assert list(r.comparisons) == [*PERTURBED, "worst_case"]
    assert list(r.comparisons.values()) == expected
    assert all(c.test == "mcnemar" for c in expected)


def test_worst_case_follows_the_metric_direction() -> None:
    columns = [[0.2, 0.9, None], [0.5, 0.1, None], [0.3, None, None]]
    assert worst_case(columns, higher_is_better=True) == [0.2, 0.1, None]
    assert worst_case(columns, higher_is_better=False) == [0.5, 0.9, None]
    with pytest.raises(ValueError, match="direction"):
        worst_case(columns, higher_is_better=None)
    r = robustness([0.2, 0.4, 0.6], {"p": [0.3, 0.4, 0.9]}, "continuous", higher_is_better=False)
    assert r.worst_case == (0.3, 0.4, 0.9)
    assert r.drops["p"] == pytest.approx(np.mean([0.3, 0.4, 0.9]) - 0.4)


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="cover 2 cases, expected 3"):
        robustness([1, 0, 1], {"typos": [1, 0]}, "binary")


FEMALE = [1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 0]
MALE = [1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1]


def test_fairness_gap_with_two_groups_is_compare_paired_on_the_two_groups() -> None:
    f = fairness({"gender=male": MALE, "gender=female": FEMALE}, "binary")
    assert f.means == pytest.approx({"gender=male": np.mean(MALE), "gender=female": np.mean(FEMALE)})
    assert f.gap == pytest.approx(np.mean(MALE) - np.mean(FEMALE))
    assert f.gap_groups == ("gender=female", "gender=male")
    direct = compare_paired(FEMALE, MALE, "binary")
    assert f.gap_test == direct
    assert f.gap_test.test == "mcnemar" and f.gap_test.wins == 6 and f.gap_test.losses == 0
    assert f.gap_test.verdict == "better"
    assert list(f.worst_case) == list(np.minimum(FEMALE, MALE))
    assert f.worst_case_mean == pytest.approx(np.minimum(FEMALE, MALE).mean())


def test_fairness_with_several_groups_reports_the_widest_pair_holm_corrected() -> None:
    rng = np.random.default_rng(7)
    groups = {g: list(np.round(rng.uniform(0, 1, 20) + shift, 3)) for g, shift in [("a", 0.0), ("b", 0.3), ("c", 0.1)]}
    unperturbed = list(np.round(rng.uniform(0, 1, 20), 3))
    f = fairness(groups, "continuous", unperturbed=unperturbed, bounds=None)
    means = {g: np.mean(v) for g, v in groups.items()}
    lo, hi = min(means, key=means.get), max(means, key=means.get)
    assert f.gap_groups == (lo, hi) and f.gap == pytest.approx(means[hi] - means[lo])
    order = sorted(groups, key=means.get)
    pairs = [(order[0], order[1]), (order[0], order[2]), (order[1], order[2])]
    assert list(f.comparisons) == pairs
    assert list(f.comparisons.values()) == compare_family([(groups[a], groups[b]) for a, b in pairs], "continuous")
    assert f.gap_test == f.comparisons[(lo, hi)]
    expected_worst = np.min(np.vstack([unperturbed, *groups.values()]), axis=0)
    assert list(f.worst_case) == pytest.approx(list(expected_worst))


def test_fairness_needs_two_groups() -> None:
    with pytest.raises(ValueError, match="at least two"):
        fairness({"gender=female": FEMALE}, "binary")


def test_spread_against_a_direct_computation() -> None:
    per_format = {
        "original": [1, 1, 0, 1],
        "upper": [1, 0, 0, 1],
        "dash": [1, 1, 1, 1],
        "empty": [None, None, None, None],
    }
    s = spread(per_format)
    means = np.array([0.75, 0.5, 1.0])
    assert s.means == {"original": 0.75, "upper": 0.5, "dash": 1.0}
    assert (s.best_format, s.best, s.worst_format, s.worst) == ("dash", 1.0, "upper", 0.5)
    assert s.spread == pytest.approx(0.5) and s.std == pytest.approx(np.std(means, ddof=1))
    low = spread({"a": [0.2], "b": [0.9]}, higher_is_better=False)
    assert (low.best_format, low.worst_format) == ("a", "b")
    assert s.reason is None and low.reason is None
    # one layout spreads nothing: no number, a reason (not a spread of 0)
    one = spread({"a": [1.0]})
    assert math.isnan(one.std) and math.isnan(one.spread) and one.reason == "no layout to vary"
