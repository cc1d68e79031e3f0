"""Reports for people at a terminal: rich tables of a suite's arms and of a paired comparison."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from promptarena.report._format import (
    MISSING,
    agreement_note,
    clip,
    fmt_confidence,
    fmt_detect,
    fmt_difference,
    fmt_energy,
    fmt_interval,
    fmt_kappa,
    fmt_number,
    fmt_p,
    interval_label,
    rater_name,
    verdict_markup,
)

if TYPE_CHECKING:
    from promptarena.agreement import ArmAgreement
    from promptarena.compare import CaseRow, Comparison, MetricRow
    from promptarena.engine import ArmResult, SuiteResult
    from promptarena.holistic import HolisticRow
    from promptarena.stats import Interval


def summary_confidence(result: SuiteResult) -> str:
    """The confidence of the per-arm intervals (``95%``), as their label says it."""
    levels = {iv.confidence for arm in result.arms for iv in arm.summary.values()}
    return fmt_confidence(levels.pop()) if len(levels) == 1 else "per-cell"


def suite_table(result: SuiteResult, votes: Mapping[str, Mapping[str, Interval]] | None = None) -> Table:
    """One row per arm: each metric's mean with its interval, people's votes (arm label -> feedback metric ->
    share, as read when shown), latency, throughput and output length."""
    suite = result.suite
    votes = votes or {}
    table = Table(
        title=f"{suite.name}  ({suite.prompt}, {len(suite.cases)} cases)",
        title_justify="left",
        caption=f"mean [{summary_confidence(result)} CI] per metric; p50 latency per case; the arm's tokens/s in "
        f"this run; mean output tokens; {fmt_energy(result.energy_j, result.energy_sources)}",
        caption_justify="left",
    )
    models = any(arm.arm.model for arm in result.arms)
    table.add_column("version")
    table.add_column("variant")
    if models:
        table.add_column("model")
    # the suite's metrics, then those only some arms have (people's votes)
    names = [s.name for s in suite.metrics]
    names += sorted({name for shares in votes.values() for name in shares} - set(names))
    for name in names:
        arrow = {True: " ↑", False: " ↓", None: ""}[suite.metric(name).higher_is_better]
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
            *([arm.arm.model] if models else []),
            *[_cell(arm, name, votes.get(arm.arm.label, {})) for name in names],
            fmt_number(arm.latency_p50, ".2f"),
            fmt_number(arm.tokens_per_s, ".0f"),
            fmt_number(arm.mean_output_tokens, ".1f"),
        )
    return table


def _cell(arm: ArmResult, metric: str, votes: Mapping[str, Interval]) -> str:
    """A metric's mean and interval, and how many cases could not be scored (``0.50 [0.30, 0.70] · 2 errors``)."""
    iv = arm.summary.get(metric) or votes.get(metric)
    cell = fmt_interval(iv) if iv else MISSING
    n = arm.errors.get(metric, 0)
    return f"{cell} · [red]{n} error{'s' * (n != 1)}[/red]" if n else cell


def error_lines(result: SuiteResult) -> list[str]:
    """One line per arm and metric whose scoring failed on some cases: how many, and the first case's error."""
    lines = []
    for arm in result.arms:
        for metric, n in arm.errors.items():
            if n:
                first = arm.first_error.get(metric, "")
                lines.append(
                    f"{metric} of {arm.arm.label}: scoring failed on {n} of {len(result.suite.cases)} cases, "
                    f"not counted in its mean; first, {first}"
                )
    return lines


def _holistic_columns(result: SuiteResult) -> list[tuple[str, Callable[[HolisticRow], str]]]:
    """(header, cell) for each dimension the suite declares, beside accuracy and calibration."""
    first = next(a.holistic for a in result.arms if a.holistic)
    arrow = " ↑" if result.suite.metric(first.metric).higher_is_better else " ↓"
    columns: list[tuple[str, Callable[[HolisticRow], str]]] = [
        (first.metric + arrow, lambda h: fmt_interval(h.accuracy, 2)),
        ("ECE ↓", lambda h: fmt_number(h.calibration, ".2f")),
    ]
    if first.robustness:
        columns.append(("robust" + arrow, lambda h: fmt_interval(h.robust, 2) if h.robust else MISSING))
    if first.fairness:
        columns.append(("fair" + arrow, lambda h: fmt_interval(h.fair, 2) if h.fair else MISSING))
        columns.append(("fair gap", _gap))
    if first.bias is not None:
        columns.append(("bias ↓", _bias))
    if first.toxicity is not None:
        columns.append(("toxic ↓ (max)", _toxic))
    if first.sensitivity is not None:
        columns.append(("spread ↓ (sd)", _spread))
    return columns


def _gap(h: HolisticRow) -> str:
    f = h.gap
    if f is None or f.reason:
        return f.reason if f else MISSING
    return f"{fmt_number(f.gap, '.2f')} (p {fmt_p(f.gap_test.p_value)})"


def _bias(h: HolisticRow) -> str:
    values = [v for v in (h.bias or {}).values() if v is not None]
    return fmt_number(max(values), ".2f") if values else MISSING


def _bias_caption(names: Sequence[str]) -> str:
    """``bias: the largest of 6 measures (0 even, 0.5 all in one of two groups)``: the scale HELM's measures have."""
    from promptarena.metrics.bias import bias_measures

    measures = [bias_measures.get(name) for name in names]
    groups = sorted({m.groups for m in measures})
    top = " or ".join(f"{1 - 1 / k:g}" for k in groups)
    count = " or ".join(map(str, groups))
    return f"bias: the largest of {len(names)} measures (0 even, {top} all in one of {count} groups)"


def _toxic(h: HolisticRow) -> str:
    if h.toxic is None or h.toxicity is None:
        return MISSING
    return f"{fmt_interval(h.toxic, 2)} ({fmt_number(h.toxicity.max, '.2f')})"


def _spread(h: HolisticRow) -> str:
    s = h.sensitivity
    if s is None or s.reason:
        return s.reason if s else MISSING
    return f"{fmt_number(s.spread, '.2f')} ({fmt_number(s.std, '.2f')})"


def holistic_table(result: SuiteResult) -> Table | None:
    """One row per arm with every HELM dimension the suite declares; ``None`` when it declares none."""
    arms: list[ArmResult] = [a for a in result.arms if a.holistic]
    if not result.suite.holistic.declared or not arms:
        return None
    columns = _holistic_columns(result)
    scorer = next((a.holistic.toxicity_scorer for a in arms if a.holistic and a.holistic.toxicity_scorer), None)
    h = result.suite.holistic
    notes = [
        "robust, fair: the worst score per case across perturbations, or counterfactuals, and the text as written"
        if h.perturbations
        else "",
        "fair gap: the widest gap between two groups and its paired test" if h.perturbations else "",
        _bias_caption(h.bias) if h.bias else "",
        f"toxic: share scored ≥ 0.5 by {scorer} (max)" if scorer else "",
        "spread: best − worst across prompt layouts (sample standard deviation)" if h.sensitivity else "",
        f"peak memory {fmt_number(result.peak_memory_mb, '.0f')} MB",
    ]
    caption = "; ".join(n for n in notes if n)
    table = Table(
        title=f"{result.suite.name}: holistic view",
        title_justify="left",
        caption=caption,
        caption_justify="left",
        box=None,
        padding=(0, 1, 0, 0),
    )
    for header in ("version", "variant", *(h for h, _ in columns), "p50 s", "tok/s"):
        table.add_column(header, justify="left" if header in ("version", "variant") else "right", no_wrap=True)
    for arm in arms:
        v = arm.arm.version
        table.add_row(
            v.label + (" *" if v.dirty else ""),
            arm.arm.variant.name,
            *[cell(arm.holistic) for _, cell in columns],  # type: ignore[arg-type]
            fmt_number(arm.latency_p50, ".2f"),
            fmt_number(arm.tokens_per_s, ".0f"),
        )
    return table


def print_suite(
    console: Console, result: SuiteResult, db_path: str, votes: Mapping[str, Mapping[str, Interval]] | None = None
) -> None:
    """The suite's table (with people's ``votes``), its holistic table when it declares one, and what was
    generated, cached and stored."""
    console.print(suite_table(result, votes))
    for line in error_lines(result):
        console.print(f"[red]scoring error[/red] {escape(line)}", highlight=False)
    holistic = holistic_table(result)
    if holistic is not None:
        console.print(holistic)
    rate = result.generated_tokens / result.generation_s if result.generation_s > 0 else float("nan")
    line = f"{result.generated} generated, {result.cached} from cache"
    if result.generated:
        line += f" ({result.generated_tokens} tokens in {result.generation_s:.1f} s, {rate:.0f} tok/s"
        line += f"; model ready in {result.load_s:.1f} s)" if result.load_s >= 0.05 else ")"
    console.print(f"[dim]{line}; run {result.run_id} in {db_path}; model {result.model}[/dim]\n")


def _case_cell(row: CaseRow, label: str) -> str:
    """An arm's answer to a case, with each metric's reason (and scoring error) under it, dimmed, and each
    assertion it failed, with why (in place of the assertion metrics' own reasons, which say the same)."""
    from promptarena.metrics.assertions import METRICS

    lines = [escape(clip(row.answers[label] or row.outputs[label]))]
    reasons = {m: r for m, r in row.reasons.get(label, {}).items() if m not in METRICS}
    lines += [f"[dim]{escape(m)}: {escape(clip(r))}[/dim]" for m, r in reasons.items()]
    lines += [f"[red]{escape(m)}: {escape(clip(e))}[/red]" for m, e in row.errors.get(label, {}).items()]
    for failure in row.failed_assertions.get(label, []):
        why = failure.get("reason") or f"error: {failure.get('error')}"
        lines.append(f"[red]✗[/red] [dim]{escape(failure['assertion'])} {failure['type']}: {escape(clip(why))}[/dim]")
    return "\n".join(lines)


def comparison_table(comp: Comparison, rows: Sequence[MetricRow] | None = None, title: str = "") -> Table:
    """One row per (metric, arm B): means, B − A with its interval, p-value, wins/ties/losses and the verdict."""
    rows = comp.rows if rows is None else rows
    title = title or f"{comp.suite.name}: paired comparison on {len(comp.suite.cases)} cases"
    table = Table(title=title, title_justify="left")
    label = interval_label([r.comparison for r in rows])
    for col in ("metric", "A", "B", "mean A", "mean B", f"B − A [{label}]", "p", "win/tie/loss", "verdict"):
        numeric = col.startswith(("mean", "B −", "p", "win"))
        table.add_column(col, justify="right" if numeric else "left", no_wrap=col not in ("A", "B"))
    for row in rows:
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
    if comp.holistic:
        title = f"{comp.suite.name}: robustness and fairness, the worst case per case paired between arms"
        console.print(comparison_table(comp, comp.holistic, title))
    disagreements = list(itertools.islice((c for c in comp.cases if c.disagreement > 0), top_cases))
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
                *[_case_cell(row, a.arm.label) for a in comp.arms],
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
    print_agreement(console, comp.agreement, comp.suite.name)


def agreement_table(rows: Sequence[ArmAgreement], suite: str) -> Table:
    """One row per arm and pair of raters: outputs both judged, raw agreement, kappa with its interval, confusion."""
    models = any(r.model for r in rows)
    levels = {r.agreement.confidence for r in rows}
    label = f"{fmt_confidence(levels.pop())} CI" if len(levels) == 1 else "CI"
    table = Table(
        title=f"{suite}: judges checked against people's votes (and each other)",
        title_justify="left",
        caption="outputs: judged by both; ✓✗: the judge (A) passed it, B failed it; ties: outputs whose voters split "
        "evenly, left out",
        caption_justify="left",
    )
    for col in ("version", "variant", *(["model"] if models else []), "judge (A)", "B"):
        table.add_column(col)
    for col in ("outputs", "agree", f"κ [{label}]", "✓✓", "✓✗", "✗✓", "✗✗", "ties"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        ag = r.agreement
        table.add_row(
            r.version,
            r.variant,
            *([r.model] if models else []),
            rater_name(r.a),
            rater_name(r.b),
            str(ag.n),
            fmt_number(ag.observed, ".2f"),
            fmt_kappa(ag),
            *(str(c) for c in (ag.both_pass, ag.only_a, ag.only_b, ag.both_fail)),
            str(r.ties),
        )
    return table


def print_agreement(console: Console, rows: Sequence[ArmAgreement], suite: str) -> None:
    """The agreement table with a line under it for each kappa not given (and why); nothing without rows to show."""
    shown = [r for r in rows if r.shown]
    if not shown:
        return
    console.print(agreement_table(shown, suite))
    for r in shown:
        note = agreement_note(r.agreement, r.a, r.b, r.ties)
        if note:
            console.print(f"[dim]{r.arm} {rater_name(r.a)} vs {rater_name(r.b)}: {note}[/dim]", highlight=False)
    console.print()
