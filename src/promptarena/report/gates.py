"""Quality gates in words: what each gate checked and the figures it was decided on, and what `evals run` prints
of each suite's outcome and of the run's verdict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from promptarena.report._format import fmt_confidence, fmt_detect, fmt_difference, fmt_interval, fmt_p
from promptarena.report.terminal import print_agreement, print_comparison, print_suite

if TYPE_CHECKING:
    from rich.console import Console

    from promptarena.gate import Gate, ScoringFailures, SuiteOutcome


def gate_detail(gate: Gate) -> str:
    """``0.500 below the threshold 0.9 (mean [95% CI] 0.500 [0.188, 0.812])``, or for a regression gate ``A -> B:
    means, diff [CI] (95% CI), p=..., verdict; what these cases can detect``, with the cases not scored."""
    failed = "".join(_failures(f) for f in gate.failures)
    if gate.kind == "threshold":
        iv = gate.interval
        if iv is None:
            return "no feedback on this version yet; not gated"
        if not gate.scored:
            return f"no scores to compare{failed}"
        op = ("above" if gate.lower_is_better else "below") if not gate.passed else "meets"
        label = fmt_confidence(iv.confidence)
        return f"{iv.mean:.3f} {op} the threshold {gate.threshold:g} (mean [{label} CI] {fmt_interval(iv)}){failed}"
    c = gate.comparison
    return (
        f"{gate.a} -> {gate.b}: {c.mean_a:.3f} -> {c.mean_b:.3f}, diff {fmt_difference(c)} "
        f"({fmt_confidence(c.confidence)} CI), p={fmt_p(c.p_value, 'n/a')}, {c.verdict}; {fmt_detect(c)}{failed}"
    )


def gate_line(gate: Gate) -> str:
    """``qa: HEAD:plain exact_match >= 0.9: 0.500 below the threshold 0.9 (...)``: the suite, the gate, its detail."""
    return f"{gate.suite}: {gate.name}: {gate_detail(gate)}"


def _failures(f: ScoringFailures) -> str:
    """``; scoring failed on 2 cases of HEAD (first, case 'x': ValueError: ...)``."""
    of = f" of {f.arm}" if f.arm else ""
    first = f" (first, {f.first})" if f.first else ""
    return f"; scoring failed on {f.count} case{'s' * (f.count != 1)}{of}{first}"


def print_failures(console: Console, failures: Sequence[Gate]) -> None:
    """One red FAIL line per failed gate."""
    for failure in failures:
        console.print(f"[red]FAIL[/red] {gate_line(failure)}")


def print_outcome(console: Console, outcome: SuiteOutcome, db_path: str) -> None:
    """A suite's tables (its arms, judges against votes, baseline comparisons), or why it was not evaluated."""
    if outcome.result is None:
        console.print(f"[dim]{outcome.suite.name}: {outcome.skipped}; not evaluated[/dim]\n")
        return
    print_suite(console, outcome.result, db_path, outcome.votes)
    print_agreement(console, outcome.agreement, outcome.suite.name)
    for comp in outcome.comparisons:
        print_comparison(console, comp)


def print_verdict(console: Console, outcomes: Sequence[SuiteOutcome]) -> None:
    """A red FAIL line per failed gate, or that every gate passed."""
    failures = [f for o in outcomes for f in o.failures]
    print_failures(console, failures)
    if not failures:
        console.print(f"[green]all gates passed[/green] ({len(outcomes)} suites)")
