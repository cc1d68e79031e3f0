"""Reports for people at a terminal: rich tables of a suite's arms and of a paired comparison."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from promptarena.metrics import get_metric
from promptarena.report._format import (
    MISSING,
    clip,
    fmt_confidence,
    fmt_detect,
    fmt_difference,
    fmt_interval,
    fmt_number,
    fmt_p,
    interval_label,
    verdict_markup,
)

if TYPE_CHECKING:
    from promptarena.compare import Comparison
    from promptarena.engine import SuiteResult


def summary_confidence(result: SuiteResult) -> str:
    """The confidence of the per-arm intervals (``95%``), as their label says it."""
    levels = {iv.confidence for arm in result.arms for iv in arm.summary.values()}
    return fmt_confidence(levels.pop()) if len(levels) == 1 else "per-cell"


def suite_table(result: SuiteResult) -> Table:
    """One row per arm: each metric's mean with its interval, latency, throughput and output length."""
    suite = result.suite
    table = Table(
        title=f"{suite.name}  ({suite.prompt}, {len(suite.cases)} cases)",
        title_justify="left",
        caption=f"mean [{summary_confidence(result)} CI] per metric; p50 latency per case; the arm's tokens/s in "
        "this run; mean output tokens",
        caption_justify="left",
    )
    table.add_column("version")
    table.add_column("variant")
    # the suite's metrics, then those only some arms have (people's votes)
    names = [s.name for s in suite.metrics]
    names += sorted({name for arm in result.arms for name in arm.summary} - set(names))
    for name in names:
        arrow = {True: " ↑", False: " ↓", None: ""}[get_metric(name).higher_is_better]
        table.add_column(name + arrow, justify="right")
    table.add_column("p50 s", justify="right")
    table.add_column("tok/s", justify="right")
    table.add_column("out tok", justify="right")
    for arm in result.arms:
        v = arm.arm.version
        label = v.label + (" *" if v.dirty else "")
        table.add_row(
            label,
            arm.arm.variant.name,
            *[fmt_interval(arm.summary[name]) if name in arm.summary else MISSING for name in names],
            fmt_number(arm.latency_p50, ".2f"),
            fmt_number(arm.tokens_per_s, ".0f"),
            fmt_number(arm.mean_output_tokens, ".1f"),
        )
    return table


def print_suite(console: Console, result: SuiteResult, db_path: str) -> None:
    """The suite's table and a line on what was generated, cached and stored where."""
    console.print(suite_table(result))
    rate = result.generated_tokens / result.generation_s if result.generation_s > 0 else float("nan")
    line = f"{result.generated} generated, {result.cached} from cache"
    if result.generated:
        line += f" ({result.generated_tokens} tokens in {result.generation_s:.1f} s, {rate:.0f} tok/s"
        line += f"; model ready in {result.load_s:.1f} s)" if result.load_s >= 0.05 else ")"
    console.print(f"[dim]{line}; run {result.run_id} in {db_path}; model {result.model}[/dim]\n")


def print_failures(console: Console, failures: Sequence[object]) -> None:
    """One red FAIL line per failed gate."""
    for failure in failures:
        console.print(f"[red]FAIL[/red] {failure}")


def comparison_table(comp: Comparison) -> Table:
    """One row per (metric, arm B): means, B − A with its interval, p-value, wins/ties/losses and the verdict."""
    table = Table(title=f"{comp.suite.name}: paired comparison on {len(comp.suite.cases)} cases", title_justify="left")
    label = interval_label([r.comparison for r in comp.rows])
    for col in ("metric", "A", "B", "mean A", "mean B", f"B − A [{label}]", "p", "win/tie/loss", "verdict"):
        numeric = col.startswith(("mean", "B −", "p", "win"))
        table.add_column(col, justify="right" if numeric else "left", no_wrap=col not in ("A", "B"))
    for row in comp.rows:
        c = row.comparison
        table.add_row(
            row.metric,
            row.a,
            row.b,
            fmt_number(c.mean_a),
            fmt_number(c.mean_b),
            fmt_difference(c, per_cell=label == "CI"),
            fmt_p(c.p_value) + (" (Holm)" if len(comp.arms) > 2 else ""),
            f"{c.wins}/{c.ties}/{c.losses}",
            verdict_markup(c.verdict),
        )
    return table


def print_comparison(console: Console, comp: Comparison, top_cases: int = 5) -> None:
    """The comparison table, what its cases can detect, the cases that disagree most, calibration and maj@k."""
    console.print(comparison_table(comp))
    for row in comp.rows:
        console.print(f"{row.metric} ({row.b}): {fmt_detect(row.comparison)}", highlight=False)
    disagreements = [c for c in comp.cases if c.disagreement > 0][:top_cases]
    if disagreements:
        cases = Table(title="cases where the arms disagree most", title_justify="left", show_lines=True)
        cases.add_column("case")
        cases.add_column("reference")
        for arm in comp.arms:
            cases.add_column(arm.arm.label)
        for row in disagreements:
            cases.add_row(
                row.case_id,
                " | ".join(row.references),
                *[clip(row.answers[a.arm.label] or row.outputs[a.arm.label]) for a in comp.arms],
            )
        console.print(cases)
    for label, cal in comp.calibration.items():
        table = Table(
            title=f"calibration of {label} (vote agreement vs {cal.metric}): ECE {cal.ece:.3f}, Brier {cal.brier:.3f}",
            title_justify="left",
        )
        for col in ("confidence", "cases", "mean confidence", "accuracy"):
            table.add_column(col, justify="right")
        for b in cal.bins:
            table.add_row(f"{b.low:.1f}–{b.high:.1f}", str(b.count), f"{b.mean_confidence:.2f}", f"{b.accuracy:.2f}")
        console.print(table)
    for label, acc in comp.maj_at_k.items():
        console.print(f"maj@k of {label}: " + ", ".join(f"k={k + 1}: {a:.2f}" for k, a in enumerate(acc)))
