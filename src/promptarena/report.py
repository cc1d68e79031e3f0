"""Reports of suite results: rich tables for people, JSON for machines."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from promptarena.engine import SuiteResult
from promptarena.metrics import get_metric
from promptarena.stats import Interval


@dataclass(frozen=True)
class GateFailure:
    """A quality gate that did not pass: which suite, arm and metric, and why."""

    suite: str
    arm: str
    metric: str
    reason: str

    def __str__(self) -> str:
        return f"{self.suite}: {self.arm}: {self.metric}: {self.reason}"


def fmt_interval(iv: Interval) -> str:
    if iv.n == 0 or math.isnan(iv.mean):
        return "–"
    if math.isnan(iv.low) or math.isnan(iv.high):
        return f"{iv.mean:.3g}"
    return f"{iv.mean:.3f} [{iv.low:.3f}, {iv.high:.3f}]"


def _num(x: float, spec: str) -> str:
    return "–" if x is None or math.isnan(x) else format(x, spec)


def suite_table(result: SuiteResult) -> Table:
    suite = result.suite
    table = Table(
        title=f"{suite.name}  ({suite.prompt}, {len(suite.cases)} cases)",
        title_justify="left",
        caption="mean [95% CI] per metric; latency per case; tok/s per request (median)",
        caption_justify="left",
    )
    table.add_column("version")
    table.add_column("variant")
    for spec in suite.metrics:
        metric = get_metric(spec.name)
        arrow = {True: " ↑", False: " ↓", None: ""}[metric.higher_is_better]
        table.add_column(spec.name + arrow, justify="right")
    table.add_column("p50 s", justify="right")
    table.add_column("tok/s", justify="right")
    for arm in result.arms:
        v = arm.arm.version
        label = v.label + (" *" if v.dirty else "")
        table.add_row(
            label,
            arm.arm.variant.name,
            *[fmt_interval(arm.summary[s.name]) for s in suite.metrics],
            _num(arm.latency_p50, ".2f"),
            _num(arm.tokens_per_s, ".0f"),
        )
    return table


def print_suite(console: Console, result: SuiteResult, db_path: str) -> None:
    console.print(suite_table(result))
    rate = result.generated_tokens / result.generation_s if result.generation_s > 0 else float("nan")
    line = f"{result.generated} generated, {result.cached} from cache"
    if result.generated:
        line += f" ({result.generated_tokens} tokens in {result.generation_s:.1f} s, {rate:.0f} tok/s)"
    console.print(f"[dim]{line}; run {result.run_id} in {db_path}; model {result.model}[/dim]\n")


def threshold_failures(result: SuiteResult) -> list[GateFailure]:
    """Thresholds apply to every arm of the newest version evaluated (the worktree or HEAD)."""
    failures = []
    if not result.arms:
        return failures
    newest = result.arms[0].arm.version.label
    for arm in result.arms:
        if arm.arm.version.label != newest:
            continue
        for name, threshold in result.suite.thresholds.items():
            iv = arm.summary[name]
            lower_is_better = get_metric(name).higher_is_better is False
            if iv.n == 0 or math.isnan(iv.mean):
                failures.append(GateFailure(result.suite.name, arm.arm.label, name, "no scores to compare"))
            elif (iv.mean > threshold) if lower_is_better else (iv.mean < threshold):
                op = "above" if lower_is_better else "below"
                failures.append(
                    GateFailure(
                        result.suite.name, arm.arm.label, name, f"{iv.mean:.3f} is {op} the threshold {threshold:g}"
                    )
                )
    return failures


def print_failures(console: Console, failures: Sequence[GateFailure]) -> None:
    for failure in failures:
        console.print(f"[red]FAIL[/red] {failure}")
