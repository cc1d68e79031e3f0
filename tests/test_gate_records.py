"""Gates are typed records (what was checked, on which figures); ``report.gates`` alone puts them in words."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from promptarena.gate import RegressionGate, ScoringFailures, ThresholdGate
from promptarena.report import gate_detail, gate_line
from promptarena.stats import Interval, PairedComparison, Verdict

NAN = float("nan")


def threshold(
    mean: float | None, *, lower: bool = False, n: int = 6, failures: Sequence[ScoringFailures] = ()
) -> ThresholdGate:
    iv = None if mean is None else Interval(mean, mean - 0.1, mean + 0.1, n)
    return ThresholdGate("qa", "HEAD:plain", "exact_match", 0.9, lower, iv, tuple(failures))


@pytest.mark.parametrize(
    ("mean", "lower", "passed", "words"),
    [
        (0.95, False, True, "0.950 meets the threshold 0.9"),
        (0.5, False, False, "0.500 below the threshold 0.9"),
        (0.5, True, True, "0.500 meets the threshold 0.9"),
        (0.95, True, False, "0.950 above the threshold 0.9"),
    ],
)
def test_a_threshold_gate_passes_on_the_side_its_metric_is_better_on(
    mean: float, lower: bool, passed: bool, words: str
) -> None:
    gate = threshold(mean, lower=lower)
    assert gate.passed is passed and gate.scored and gate.kind == "threshold"
    assert gate.name == f"HEAD:plain exact_match {'<=' if lower else '>='} 0.9"
    assert gate_detail(gate).startswith(words + " (mean [95% CI] ")
    assert gate_line(gate) == f"qa: {gate.name}: {gate_detail(gate)}"


def test_a_metric_nobody_voted_on_is_not_gated_and_one_never_scored_fails() -> None:
    unvoted = threshold(None)
    assert unvoted.passed and not unvoted.scored
    assert gate_detail(unvoted) == "no feedback on this version yet; not gated"
    unscored = threshold(NAN, n=0, failures=[ScoringFailures(6, "case 'x': ValueError: no")])
    assert not unscored.passed and not unscored.scored
    assert gate_detail(unscored) == "no scores to compare; scoring failed on 6 cases (first, case 'x': ValueError: no)"


def comparison(verdict: Verdict, diff: float = -0.5) -> PairedComparison:
    return PairedComparison(6, 1.0, 1.0 + diff, diff, diff - 0.2, diff + 0.2, 0.03, 0, 3, 3, verdict, p_raw=0.03)


def test_a_regression_gate_keeps_the_comparison_and_names_the_arms_whose_scoring_failed() -> None:
    worse = RegressionGate("qa", "exact_match", "HEAD~1:plain", "HEAD:plain", comparison("worse"))
    assert not worse.passed and worse.kind == "regression" and worse.name == "no regression in exact_match (HEAD:plain)"
    assert math.isclose(worse.comparison.diff, -0.5)
    assert gate_detail(worse).startswith("HEAD~1:plain -> HEAD:plain: 1.000 -> 0.500, diff -0.500 [-0.700, -0.300]")
    # too few cases decides nothing, unless failed scorings are why there are too few
    assert RegressionGate("qa", "m", "a", "b", comparison("too few cases")).passed
    failed = (ScoringFailures(1, None, "a"), ScoringFailures(2, "case 'y': boom", "b"))
    short = RegressionGate("qa", "m", "a", "b", comparison("too few cases"), failed)
    assert not short.passed
    assert gate_detail(short).endswith(
        "; scoring failed on 1 case of a; scoring failed on 2 cases of b (first, case 'y': boom)"
    )
