"""Quality gates: thresholds on the newest version, and no significant regression against a baseline ref.

`evaluate_suite` runs what the planner (``plan.plan_suite``) chose and turns the results into gates: typed
records of what was checked and by how much it passed or failed, which the reports (``report.gates``) put in
words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal, TypeAlias

from promptarena.agreement import ArmAgreement
from promptarena.backends import Backend
from promptarena.compare import Comparison, compare_arms
from promptarena.engine import ArmResult, ProgressFn, SuiteResult, run_suite
from promptarena.feedback import arm_votes
from promptarena.gitstore import PromptStore
from promptarena.plan import SuitePlan
from promptarena.stats import Interval, PairedComparison
from promptarena.store import ResultsStore
from promptarena.suite import Suite


@dataclass(frozen=True)
class ScoringFailures:
    """Cases of an arm whose scoring of a metric failed: how many, and the first one's error (``case 'x': ...``)."""

    count: int
    first: str | None
    arm: str = ""  # named where a gate compares two arms


@dataclass(frozen=True)
class ThresholdGate:
    """A metric's mean on an arm against the suite's threshold, on the side the metric is better on."""

    kind: ClassVar[Literal["threshold"]] = "threshold"
    suite: str
    arm: str
    metric: str
    threshold: float
    lower_is_better: bool
    interval: Interval | None  # None: a feedback metric nobody has voted on for this arm yet, so not gated
    failures: tuple[ScoringFailures, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.arm} {self.metric} {'<=' if self.lower_is_better else '>='} {self.threshold:g}"

    @property
    def scored(self) -> bool:
        """Whether there is a mean to hold against the threshold."""
        return self.interval is not None and self.interval.n > 0 and not math.isnan(self.interval.mean)

    @property
    def passed(self) -> bool:
        """Not gated (passes) before anyone voted; fails without a score; else the mean is on the better side."""
        if self.interval is None:
            return True
        if not self.scored:
            return False
        mean = self.interval.mean
        return mean <= self.threshold if self.lower_is_better else mean >= self.threshold


@dataclass(frozen=True)
class RegressionGate:
    """A gated metric compared between a baseline arm ``a`` and its current arm ``b``, paired per case."""

    kind: ClassVar[Literal["regression"]] = "regression"
    suite: str
    metric: str
    a: str
    b: str
    comparison: PairedComparison
    failures: tuple[ScoringFailures, ...] = ()

    @property
    def name(self) -> str:
        return f"no regression in {self.metric} ({self.b})"

    @property
    def passed(self) -> bool:
        """Fails on compare's verdict "worse", and when failed scorings left too few cases to say "no regression"."""
        verdict = self.comparison.verdict
        return verdict != "worse" and not (self.failures and verdict == "too few cases")


Gate: TypeAlias = ThresholdGate | RegressionGate
"""One checked condition: a threshold on an arm, or no regression of a metric between two arms."""


@dataclass
class SuiteOutcome:
    """A suite's result, the comparisons against its baseline, and its gates; ``skipped`` says why it did not run."""

    suite: Suite
    result: SuiteResult | None
    comparisons: list[Comparison] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    skipped: str | None = None
    agreement: list[ArmAgreement] = field(default_factory=list)  # judges against people's votes, never gated
    votes: dict[str, dict[str, Interval]] = field(default_factory=dict)  # arm label -> people's votes when gated

    @property
    def failures(self) -> list[Gate]:
        return [g for g in self.gates if not g.passed]


def evaluate_suite(
    plan: SuitePlan,
    prompts: PromptStore,
    results: ResultsStore,
    backend: Backend | Mapping[str, Backend] | None = None,
    alpha: float = 0.05,
    progress: ProgressFn | None = None,
) -> SuiteOutcome:
    """Evaluate a planned suite; gate its thresholds and, against a baseline, each gated metric's regression."""
    suite = plan.suite
    result = run_suite(suite, prompts, results, arms=plan.arms, backend=backend, progress=progress)
    outcome = SuiteOutcome(suite, result, votes=arm_votes(results, suite.name, [a.arm for a in result.arms]))
    outcome.gates.extend(threshold_gates(result, outcome.votes))
    for base, current in plan.baseline_pairs:
        comp = compare_arms(suite, [result.arm(base.label), result.arm(current.label)], alpha=alpha)
        outcome.comparisons.append(comp)
        outcome.gates.extend(regression_gates(comp, suite.gate))
    return outcome


def threshold_gates(result: SuiteResult, votes: Mapping[str, Mapping[str, Interval]] | None = None) -> list[Gate]:
    """Thresholds apply to every arm of the newest version evaluated (the worktree or HEAD); a threshold on people's
    votes reads ``votes`` (arm label -> feedback metric -> share), as ``feedback.arm_votes`` read them."""
    gates: list[Gate] = []
    if not result.arms:
        return gates
    newest = result.arms[0].arm.version.label
    for arm in (a for a in result.arms if a.arm.version.label == newest):
        for name, threshold in result.suite.thresholds.items():
            metric = result.suite.metric(name)
            lower_is_better = metric.higher_is_better is False
            # None for a feedback metric before anyone voted on this arm: not gated
            iv = {**arm.summary, **(votes or {}).get(arm.arm.label, {})}.get(name)
            failures = _failures(arm, name)
            gates.append(
                ThresholdGate(result.suite.name, arm.arm.label, name, threshold, lower_is_better, iv, failures)
            )
    return gates


def regression_gates(comp: Comparison, gate: Sequence[str]) -> list[Gate]:
    """A gated metric fails when compare's verdict is "worse": its interval excludes 0 on the worse side.

    The verdict, interval and p-value are compare's one decision (``stats.compare_family``); nothing is
    re-decided here.
    """
    gates: list[Gate] = []
    arms = {a.arm.label: a for a in comp.arms}
    for row in comp.rows:
        if row.metric not in gate:
            continue
        # cases whose scoring failed cannot be compared: too few left means the gate cannot say "no regression"
        failures = tuple(
            f for label in (row.a, row.b) if label in arms for f in _failures(arms[label], row.metric, label)
        )
        gates.append(RegressionGate(comp.suite.name, row.metric, row.a, row.b, row.comparison, failures))
    return gates


def _failures(arm: ArmResult, metric: str, label: str = "") -> tuple[ScoringFailures, ...]:
    """The arm's cases whose scoring of ``metric`` failed, as one record; none when every case was scored."""
    n = arm.errors.get(metric, 0)
    return (ScoringFailures(n, arm.first_error.get(metric), label),) if n else ()
