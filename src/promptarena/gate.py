"""Quality gates: thresholds on the newest version, and no significant regression against a baseline ref.

`evaluate_suite` runs what the planner (``plan.plan_suite``) chose and turns the results into gates; the
reports (``report.write_junit``, ``report.write_markdown``) show them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from promptarena.agreement import ArmAgreement
from promptarena.backends import Backend
from promptarena.compare import Comparison, compare_arms
from promptarena.engine import ArmResult, ProgressFn, SuiteResult, run_suite
from promptarena.feedback import arm_votes
from promptarena.gitstore import PromptStore
from promptarena.plan import SuitePlan
from promptarena.report import fmt_confidence, fmt_detect, fmt_difference, fmt_interval, fmt_p
from promptarena.stats import Interval
from promptarena.store import ResultsStore
from promptarena.suite import Suite


@dataclass(frozen=True)
class Gate:
    """One checked condition: a threshold on an arm, or no regression of a metric between two arms."""

    suite: str
    name: str
    passed: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.suite}: {self.name}: {self.detail}"


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
            gate_name = f"{arm.arm.label} {name} {'<=' if lower_is_better else '>='} {threshold:g}"
            summary = {**arm.summary, **(votes or {}).get(arm.arm.label, {})}
            if name not in summary:  # a feedback metric before anyone voted on this arm
                gates.append(Gate(result.suite.name, gate_name, True, "no feedback on this version yet; not gated"))
                continue
            iv = summary[name]
            failed = _failed(arm, name)
            if iv.n == 0 or math.isnan(iv.mean):
                gates.append(Gate(result.suite.name, gate_name, False, f"no scores to compare{failed}"))
                continue
            passed = iv.mean <= threshold if lower_is_better else iv.mean >= threshold
            op = ("above" if lower_is_better else "below") if not passed else "meets"
            label = fmt_confidence(iv.confidence)
            detail = f"{iv.mean:.3f} {op} the threshold {threshold:g} (mean [{label} CI] {fmt_interval(iv)}){failed}"
            gates.append(Gate(result.suite.name, gate_name, passed, detail))
    return gates


def regression_gates(comp: Comparison, gate: Sequence[str]) -> list[Gate]:
    """A gated metric fails when compare's verdict is "worse": its interval excludes 0 on the worse side.

    The verdict, interval and p-value are compare's one decision (``stats.compare_family``); nothing is
    re-decided here.
    """
    gates = []
    arms = {a.arm.label: a for a in comp.arms}
    for row in comp.rows:
        if row.metric not in gate:
            continue
        c = row.comparison
        failed = "".join(_failed(arms[label], row.metric, label) for label in (row.a, row.b) if label in arms)
        detail = (
            f"{row.a} -> {row.b}: {c.mean_a:.3f} -> {c.mean_b:.3f}, diff {fmt_difference(c)} "
            f"({fmt_confidence(c.confidence)} CI), p={fmt_p(c.p_value, 'n/a')}, {c.verdict}; {fmt_detect(c)}{failed}"
        )
        # cases whose scoring failed cannot be compared: too few left means the gate cannot say "no regression"
        passed = c.verdict != "worse" and not (failed and c.verdict == "too few cases")
        gates.append(Gate(comp.suite.name, f"no regression in {row.metric} ({row.b})", passed, detail))
    return gates


def _failed(arm: ArmResult, metric: str, label: str = "") -> str:
    """``; scoring failed on 2 cases (first, case 'x': ValueError: ...)``, or '' when every case was scored."""
    n = arm.errors.get(metric, 0)
    if not n:
        return ""
    of = f" of {label}" if label else ""
    first = arm.first_error.get(metric)
    return f"; scoring failed on {n} case{'s' * (n != 1)}{of}" + (f" (first, {first})" if first else "")
