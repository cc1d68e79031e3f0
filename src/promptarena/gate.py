"""Quality gates: thresholds on the newest version, and no significant regression against a baseline ref.

`plan_suite` decides what a suite evaluates (with `--baseline`, only suites whose prompt, suite file or case
file changed since the ref, at the ref and now); `evaluate_suite` runs it and turns the results into gates;
the writers turn gates into JUnit XML and a pull-request comment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from promptarena.backends import Backend
from promptarena.compare import Comparison, compare_arms
from promptarena.engine import ProgressFn, SuiteResult, run_suite, select_versions, summary_json
from promptarena.gitstore import PromptStore, PromptVersion
from promptarena.metrics import get_metric
from promptarena.report import fmt_difference, interval_label
from promptarena.stats import fmt_confidence, fmt_detect, fmt_interval
from promptarena.store import ResultsStore
from promptarena.suite import THUMBS_UP, Suite


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
class SuitePlan:
    suite: Suite
    versions: list[PromptVersion]
    baseline: PromptVersion | None = None
    skipped: str | None = None

    def skip_outcome(self) -> SuiteOutcome:
        return SuiteOutcome(self.suite, None, skipped=self.skipped)


@dataclass
class SuiteOutcome:
    suite: Suite
    result: SuiteResult | None
    comparisons: list[Comparison] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    skipped: str | None = None

    @property
    def failures(self) -> list[Gate]:
        return [g for g in self.gates if not g.passed]

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"suite": self.suite.name, "skipped": self.skipped}
        if self.result:
            doc.update(summary_json(self.result))
        doc["gates"] = [{"name": g.name, "passed": g.passed, "detail": g.detail} for g in self.gates]
        doc["comparisons"] = [
            {
                "metric": r.metric,
                "a": r.a,
                "b": r.b,
                "mean_a": r.comparison.mean_a,
                "mean_b": r.comparison.mean_b,
                "diff": r.comparison.diff,
                "ci": [r.comparison.ci_low, r.comparison.ci_high],
                "ci_confidence": r.comparison.confidence,
                "p_value": r.comparison.p_value,
                "p_raw": r.comparison.p_raw,
                "verdict": r.comparison.verdict,
                "detectable": r.comparison.detectable,
                "cases_needed": r.comparison.cases_needed,
                "power_note": fmt_detect(r.comparison),
            }
            for c in self.comparisons
            for r in c.rows
        ]
        return doc


def plan_suite(suite: Suite, store: PromptStore, revisions: Sequence[str], baseline: str | None) -> SuitePlan:
    """Resolve what a suite evaluates; a bad revision or ref fails here, before any work."""
    if not baseline:
        return SuitePlan(suite, select_versions(suite, store, revisions or None))
    current = store.default_versions(suite.prompt, last=1)[0]
    base = store.version_at(suite.prompt, baseline)
    if base is None:
        return SuitePlan(suite, [current])  # a new prompt: thresholds only
    files = [suite.path] + ([suite.case_file] if suite.case_file else [])
    if base.blob == current.blob and not store.changed_since(baseline, files):
        return SuitePlan(suite, [], base, skipped=f"unchanged since {baseline}")
    return SuitePlan(suite, [current] if base.label == current.label else [current, base], base)


def evaluate_suite(
    plan: SuitePlan,
    store: PromptStore,
    results: ResultsStore,
    backend: Backend | None = None,
    alpha: float = 0.05,
    progress: ProgressFn | None = None,
) -> SuiteOutcome:
    suite = plan.suite
    result = run_suite(suite, store, results, versions=plan.versions, backend=backend, progress=progress)
    outcome = SuiteOutcome(suite, result)
    outcome.gates.extend(threshold_gates(result))
    if plan.baseline is not None and len(plan.versions) == 2:
        current, base = plan.versions
        for variant in suite.variants:
            pair = [result.arm(f"{base.label}:{variant.name}"), result.arm(f"{current.label}:{variant.name}")]
            comp = compare_arms(suite, pair, alpha=alpha)
            outcome.comparisons.append(comp)
            outcome.gates.extend(regression_gates(comp, suite.gate))
    return outcome


def threshold_gates(result: SuiteResult) -> list[Gate]:
    """Thresholds apply to every arm of the newest version evaluated (the worktree or HEAD)."""
    gates: list[Gate] = []
    if not result.arms:
        return gates
    newest = result.arms[0].arm.version.label
    for arm in (a for a in result.arms if a.arm.version.label == newest):
        for name, threshold in result.suite.thresholds.items():
            lower_is_better = name != THUMBS_UP and get_metric(name).higher_is_better is False
            gate_name = f"{arm.arm.label} {name} {'<=' if lower_is_better else '>='} {threshold:g}"
            if name == THUMBS_UP and THUMBS_UP not in arm.summary:
                gates.append(Gate(result.suite.name, gate_name, True, "no feedback on this version yet; not gated"))
                continue
            iv = arm.summary[name]
            if iv.n == 0 or math.isnan(iv.mean):
                gates.append(Gate(result.suite.name, gate_name, False, "no scores to compare"))
                continue
            passed = iv.mean <= threshold if lower_is_better else iv.mean >= threshold
            op = ("above" if lower_is_better else "below") if not passed else "meets"
            label = fmt_confidence(iv.confidence)
            detail = f"{iv.mean:.3f} {op} the threshold {threshold:g} (mean [{label} CI] {fmt_interval(iv)})"
            gates.append(Gate(result.suite.name, gate_name, passed, detail))
    return gates


def _p(p: float) -> str:
    return "n/a" if math.isnan(p) else (f"{p:.3f}" if p >= 0.001 else "<0.001")


def regression_gates(comp: Comparison, gate: Sequence[str]) -> list[Gate]:
    """A gated metric fails when compare's verdict is "worse": its interval excludes 0 on the worse side.

    The verdict, interval and p-value are compare's one decision (``stats.compare_family``); nothing is
    re-decided here.
    """
    gates = []
    for row in comp.rows:
        if row.metric not in gate:
            continue
        c = row.comparison
        detail = (
            f"{row.a} -> {row.b}: {c.mean_a:.3f} -> {c.mean_b:.3f}, diff {fmt_difference(c)} "
            f"({fmt_confidence(c.confidence)} CI), p={_p(c.p_value)}, {c.verdict}; {fmt_detect(c)}"
        )
        gates.append(Gate(comp.suite.name, f"no regression in {row.metric} ({row.b})", c.verdict != "worse", detail))
    return gates


def write_junit(path: Path, outcomes: Sequence[SuiteOutcome]) -> None:
    """One test suite per evaluation suite, one test case per gate (a skipped suite is one skipped case)."""
    root = ET.Element("testsuites", name="promptarena")
    for outcome in outcomes:
        failures = len(outcome.failures)
        wall = f"{outcome.result.wall_s:.3f}" if outcome.result else "0"
        ts = ET.SubElement(
            root, "testsuite", name=outcome.suite.name, tests=str(max(1, len(outcome.gates))), failures=str(failures)
        )
        ts.set("time", wall)
        if outcome.skipped or not outcome.gates:
            case = ET.SubElement(ts, "testcase", classname=outcome.suite.name, name="evaluate")
            if outcome.skipped:
                ET.SubElement(case, "skipped", message=outcome.skipped)
        for gate in outcome.gates:
            case = ET.SubElement(ts, "testcase", classname=outcome.suite.name, name=gate.name)
            if not gate.passed:
                ET.SubElement(case, "failure", message=gate.detail).text = str(gate)
            else:
                ET.SubElement(case, "system-out").text = gate.detail
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_markdown(path: Path, outcomes: Sequence[SuiteOutcome], baseline: str | None) -> None:
    """A summary ready to post as a pull-request comment: tables, verdicts and the worst cases."""
    failures = [g for o in outcomes for g in o.failures]
    lines = [
        "## promptarena: " + ("❌ quality gate failed" if failures else "✅ all quality gates passed"),
        "",
        f"Baseline: `{baseline}`" if baseline else "No baseline: thresholds only.",
        "",
    ]
    for outcome in outcomes:
        suite = outcome.suite
        lines.append(f"### {suite.name} (`prompts/{suite.prompt}`)")
        if outcome.skipped:
            lines += [f"_{outcome.skipped}; not evaluated._", ""]
            continue
        assert outcome.result is not None
        names = [m.name for m in suite.metrics]
        lines.append("| arm | " + " | ".join(names) + " |")
        lines.append("|---|" + "---|" * len(names))
        for arm in outcome.result.arms:
            cells = [fmt_interval(arm.summary[n]) for n in names]
            lines.append(f"| `{arm.arm.label}` | " + " | ".join(cells) + " |")
        lines.append("")
        for comp in outcome.comparisons:
            label = interval_label([r.comparison for r in comp.rows])
            lines.append(f"| metric | A → B | diff [{label}] | p | W/T/L | verdict | what these cases can detect |")
            lines.append("|---|---|---|---|---|---|---|")
            for row in comp.rows:
                c = row.comparison
                mark = {"better": "🟢", "worse": "🔴"}.get(c.verdict, "⚪")
                lines.append(
                    f"| {row.metric} | `{row.a}` → `{row.b}` | {fmt_difference(c, per_cell=label == 'CI')} "
                    f"| {_p(c.p_value)} | {c.wins}/{c.ties}/{c.losses} | {mark} {c.verdict} | {_md(fmt_detect(c))} |"
                )
            worst = [c for c in comp.cases if c.disagreement > 0][:5]
            if worst:
                lines += ["", "<details><summary>cases where the arms disagree most</summary>", ""]
                lines.append("| case | reference | " + " | ".join(f"`{a.arm.label}`" for a in comp.arms) + " |")
                lines.append("|---|---|" + "---|" * len(comp.arms))
                for case in worst:
                    answers = [_md(case.answers[a.arm.label])[:80] for a in comp.arms]
                    lines.append(
                        f"| {case.case_id} | {_md(' / '.join(case.references))[:80]} | " + " | ".join(answers) + " |"
                    )
                lines += ["", "</details>"]
            lines.append("")
        for gate in outcome.gates:
            lines.append(f"- {'✅' if gate.passed else '❌'} {_md(gate.name)}: {_md(gate.detail)}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
