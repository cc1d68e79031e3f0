"""Reports of suite results: rich tables for people, JSON for machines."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from promptarena.compare import Comparison
from promptarena.engine import SuiteResult
from promptarena.metrics import get_metric
from promptarena.stats import PairedComparison, fmt_confidence, fmt_detect, fmt_interval
from promptarena.suite import THUMBS_UP


def _num(x: float, spec: str) -> str:
    return "–" if x is None or math.isnan(x) else format(x, spec)


def summary_confidence(result: SuiteResult) -> str:
    """The confidence of the per-arm intervals (``95%``), as their label says it."""
    levels = {iv.confidence for arm in result.arms for iv in arm.summary.values()}
    return fmt_confidence(levels.pop()) if len(levels) == 1 else "per-cell"


def suite_table(result: SuiteResult) -> Table:
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
    for spec in suite.metrics:
        metric = get_metric(spec.name)
        arrow = {True: " ↑", False: " ↓", None: ""}[metric.higher_is_better]
        table.add_column(spec.name + arrow, justify="right")
    votes = any(THUMBS_UP in arm.summary for arm in result.arms)
    if votes:
        table.add_column("thumbs_up ↑", justify="right")
    table.add_column("p50 s", justify="right")
    table.add_column("tok/s", justify="right")
    table.add_column("out tok", justify="right")
    for arm in result.arms:
        v = arm.arm.version
        label = v.label + (" *" if v.dirty else "")
        table.add_row(
            label,
            arm.arm.variant.name,
            *[fmt_interval(arm.summary[s.name]) for s in suite.metrics],
            *([fmt_interval(arm.summary[THUMBS_UP]) if THUMBS_UP in arm.summary else "–"] if votes else []),
            _num(arm.latency_p50, ".2f"),
            _num(arm.tokens_per_s, ".0f"),
            _num(arm.mean_output_tokens, ".1f"),
        )
    return table


def print_suite(console: Console, result: SuiteResult, db_path: str) -> None:
    console.print(suite_table(result))
    rate = result.generated_tokens / result.generation_s if result.generation_s > 0 else float("nan")
    line = f"{result.generated} generated, {result.cached} from cache"
    if result.generated:
        line += f" ({result.generated_tokens} tokens in {result.generation_s:.1f} s, {rate:.0f} tok/s"
        line += f"; model ready in {result.load_s:.1f} s)" if result.load_s >= 0.05 else ")"
    console.print(f"[dim]{line}; run {result.run_id} in {db_path}; model {result.model}[/dim]\n")


def print_failures(console: Console, failures: Sequence[object]) -> None:
    for failure in failures:
        console.print(f"[red]FAIL[/red] {failure}")


# --- comparisons -----------------------------------------------------------------------------------


def _p(p: float) -> str:
    return "–" if math.isnan(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")


def _verdict_style(verdict: str) -> str:
    return {"better": "green", "worse": "red"}.get(verdict, "yellow" if verdict == "too few cases" else "")


def interval_label(comparisons: Sequence[PairedComparison]) -> str:
    """``95% CI`` when every interval has that confidence; ``CI`` when Holm gives each its own (then per cell)."""
    levels = {c.confidence for c in comparisons}
    return f"{fmt_confidence(levels.pop())} CI" if len(levels) == 1 else "CI"


def fmt_difference(c: PairedComparison, per_cell: bool = False) -> str:
    """``+0.250 [+0.010, +0.450]``, with `` 98.3%`` appended when ``per_cell``; the estimate alone without bounds."""
    if math.isnan(c.diff):
        return "–"
    if math.isnan(c.ci_low) or math.isnan(c.ci_high):
        return f"{c.diff:+.3f}"
    text = f"{c.diff:+.3f} [{c.ci_low:+.3f}, {c.ci_high:+.3f}]"
    return text + f" {fmt_confidence(c.confidence)}" if per_cell else text


def comparison_table(comp: Comparison) -> Table:
    table = Table(title=f"{comp.suite.name}: paired comparison on {len(comp.suite.cases)} cases", title_justify="left")
    label = interval_label([r.comparison for r in comp.rows])
    for col in ("metric", "A", "B", "mean A", "mean B", f"B − A [{label}]", "p", "win/tie/loss", "verdict"):
        numeric = col.startswith(("mean", "B −", "p", "win"))
        table.add_column(col, justify="right" if numeric else "left", no_wrap=col not in ("A", "B"))
    for row in comp.rows:
        c = row.comparison
        style = _verdict_style(c.verdict)
        table.add_row(
            row.metric,
            row.a,
            row.b,
            _num(c.mean_a, ".3f"),
            _num(c.mean_b, ".3f"),
            fmt_difference(c, per_cell=label == "CI"),
            _p(c.p_value) + (" (Holm)" if len(comp.arms) > 2 else ""),
            f"{c.wins}/{c.ties}/{c.losses}",
            f"[{style}]{c.verdict}[/{style}]" if style else c.verdict,
        )
    return table


def print_comparison(console: Console, comp: Comparison, top_cases: int = 5) -> None:
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
                *[_clip(row.answers[a.arm.label] or row.outputs[a.arm.label]) for a in comp.arms],
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


def _clip(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
