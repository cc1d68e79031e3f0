"""Reports for pull requests: a Markdown comment with tables, verdicts, the worst cases and every gate."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from promptarena.report._files import write_report
from promptarena.report._format import (
    agreement_note,
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
    verdict_icon,
)
from promptarena.report.gates import gate_detail

if TYPE_CHECKING:
    from promptarena.agreement import ArmAgreement
    from promptarena.compare import Comparison
    from promptarena.gate import SuiteOutcome


def _md(text: str) -> str:
    """Text safe inside one Markdown table cell."""
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
        lines += _suite_lines(outcome)
    write_report(path, ("\n".join(lines) + "\n").encode("utf-8"))


def _suite_lines(outcome: SuiteOutcome) -> list[str]:
    """One suite's section: its arms, each baseline comparison, and its gates."""
    suite = outcome.suite
    lines = [f"### {suite.name} (`prompts/{suite.prompt}`)"]
    if outcome.skipped:
        return lines + [f"_{outcome.skipped}; not evaluated._", ""]
    assert outcome.result is not None
    names = [m.name for m in suite.metrics]
    lines.append("| arm | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for arm in outcome.result.arms:
        cells = [fmt_interval(arm.summary[n]) for n in names]
        lines.append(f"| `{arm.arm.label}` | " + " | ".join(cells) + " |")
    lines += ["", f"_{fmt_energy(outcome.result.energy_j, outcome.result.energy_sources)}_", ""]
    lines += _agreement_lines(outcome.agreement)
    for comp in outcome.comparisons:
        lines += _comparison_lines(comp)
    for gate in outcome.gates:
        lines.append(f"- {'✅' if gate.passed else '❌'} {_md(gate.name)}: {_md(gate_detail(gate))}")
    lines.append("")
    return lines


def _agreement_lines(rows: Sequence[ArmAgreement]) -> list[str]:
    """The judges checked against people's votes (and each other): one table row per arm and pair, notes below."""
    shown = [r for r in rows if r.shown]
    if not shown:
        return []
    level = fmt_confidence(shown[0].agreement.confidence)
    lines = [
        "**Judges checked against people's votes** (✓✗: the judge A passed an output, B failed it; ties: outputs "
        "whose voters split evenly, left out)",
        "",
        f"| arm | judge (A) | B | outputs | agree | κ [{level} CI] | ✓✓ | ✓✗ | ✗✓ | ✗✗ | ties |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for r in shown:
        ag = r.agreement
        counts = " | ".join(str(c) for c in (ag.both_pass, ag.only_a, ag.only_b, ag.both_fail, r.ties))
        lines.append(
            f"| `{r.arm}` | {rater_name(r.a)} | {rater_name(r.b)} | {ag.n} | {fmt_number(ag.observed, '.2f')} "
            f"| {fmt_kappa(ag)} | {counts} |"
        )
        note = agreement_note(ag, r.a, r.b, r.ties)
        if note:
            notes.append(f"- `{r.arm}` {rater_name(r.a)} vs {rater_name(r.b)}: {_md(note)}")
    return [*lines, "", *notes, *([""] if notes else [])]


def _failures(failed: dict[str, list[dict[str, str]]], label: str) -> str:
    """The assertions an arm failed on a case, one per line of its cell."""
    return "".join(
        f"<br>✗ {f['assertion']} {f['type']}: {_md(f.get('reason') or 'error: ' + f.get('error', ''))[:80]}"
        for f in failed.get(label, [])
    )


def _comparison_lines(comp: Comparison) -> list[str]:
    """A comparison's table and, folded, the cases where its arms disagree most."""
    label = interval_label([r.comparison for r in comp.rows])
    lines = [
        f"| metric | A → B | diff [{label}] | p | W/T/L | verdict | what these cases can detect |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in comp.rows:
        c = row.comparison
        lines.append(
            f"| {row.metric} | `{row.a}` → `{row.b}` | {fmt_difference(c, per_cell=label == 'CI')} "
            f"| {fmt_p(c.p_value, 'n/a')} | {c.wins}/{c.ties}/{c.losses} | {verdict_icon(c.verdict)} {c.verdict} "
            f"| {_md(fmt_detect(c))} |"
        )
    worst = list(itertools.islice((c for c in comp.cases if c.disagreement > 0), 5))
    if worst:
        lines += ["", "<details><summary>cases where the arms disagree most</summary>", ""]
        lines.append("| case | reference | " + " | ".join(f"`{a.arm.label}`" for a in comp.arms) + " |")
        lines.append("|---|---|" + "---|" * len(comp.arms))
        for case in worst:
            answers = [
                _md(case.answers[a.arm.label])[:80] + _failures(case.failed_assertions, a.arm.label) for a in comp.arms
            ]
            lines.append(f"| {case.case_id} | {_md(' / '.join(case.references))[:80]} | " + " | ".join(answers) + " |")
        lines += ["", "</details>"]
    lines.append("")
    return lines
