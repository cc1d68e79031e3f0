"""The Edit and try page's read model: a draft's numbered text, and the draft beside the newest commit from the
results that its try stored (paired comparison per variant, holistic dimensions, the cases where they differ)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from promptarena.compare import CaseRow, Comparison, compare_arms
from promptarena.errors import PromptArenaError
from promptarena.gitstore import PromptStore
from promptarena.report import fmt_detect, fmt_difference, fmt_number, interval_label, verdict_icon
from promptarena.store import ResultsStore
from promptarena.suite import Suite
from promptarena.views._arms import ArmChoice, arm_choices, load_arms
from promptarena.views._history import OverviewCell, fmt_interval
from promptarena.views._holistic import holistic_cells


def under_commits(cells: Sequence[OverviewCell], prompts: PromptStore, prompt: str) -> list[OverviewCell]:
    """The cells with a draft's or the worktree's results shown under the newest commit that has the same text
    (identity is content: a saved draft's results are that commit's)."""
    made: dict[str, tuple[str, str | None]] = {}
    try:
        for version in prompts.log(prompt):
            if version.commit:
                made.setdefault(version.blob, (version.commit, version.message))
    except PromptArenaError:  # a suite known only from stored runs, its prompt gone
        return list(cells)
    out = []
    for cell in cells:
        commit, message = made.get(cell.blob, (None, None)) if cell.commit is None else (None, None)
        out.append(replace(cell, version=commit[:7], commit=commit, message=message) if commit else cell)
    return out


def numbered(text: str, marks: set[int] | frozenset[int] = frozenset()) -> str:
    """The text with its line numbers in a gutter, as an editor shows it; lines in ``marks`` get a ``>``."""
    lines = text.split("\n")
    width = len(str(len(lines)))
    return "\n".join(f"{'>' if i in marks else ' '}{i:>{width}} │ {line}" for i, line in enumerate(lines, 1))


@dataclass(frozen=True)
class DraftComparison:
    """The draft (B) against the newest commit (A) with one variant on one model, on the cases both have."""

    newest: ArmChoice
    draft: ArmChoice
    comparison: Comparison

    @property
    def differing(self) -> list[CaseRow]:
        """The cases whose scores or answers differ between the two, most disagreement first."""
        return [row for row in self.comparison.cases if row.disagreement > 0]


def draft_comparisons(
    results: ResultsStore, suite: Suite, prompts: PromptStore, draft_blob: str, newest_blob: str
) -> list[DraftComparison]:
    """Per variant (and model) with stored results of both versions, the paired comparison on their common cases,
    from each one's latest completed run; empty before the draft was tried."""
    choices = arm_choices(results, suite.name, prompts)
    newest = {(c.variant, c.model): c for c in choices if c.blob == newest_blob}
    out = []
    for draft in (c for c in choices if c.blob == draft_blob):
        base = newest.get((draft.variant, draft.model))
        if base is None or base.blob == draft.blob:
            continue
        narrowed, arms = load_arms(results, suite, [base, draft], prompts)
        if narrowed.cases:
            out.append(DraftComparison(base, draft, compare_arms(narrowed, arms)))
    return out


def metric_rows(comparison: Comparison) -> list[dict[str, object]]:
    """The comparison's metrics as the Compare page shows them: means, B − A with its interval, p, verdict, and what
    these cases can detect."""
    rows = list(comparison.rows) + list(comparison.holistic)
    diff = f"B − A [{interval_label([r.comparison for r in rows])}]" if rows else "B − A"
    return [
        {
            "metric": row.metric,
            "A (newest commit)": fmt_number(row.comparison.mean_a),
            "B (draft)": fmt_number(row.comparison.mean_b),
            diff: fmt_difference(row.comparison, per_cell=diff == "B − A [CI]"),
            "p-value": fmt_number(row.comparison.p_value, ".4f"),
            "verdict": f"{verdict_icon(row.comparison.verdict)} {row.comparison.verdict}",
            "win / tie / loss": f"{row.comparison.wins} / {row.comparison.ties} / {row.comparison.losses}",
            "n": row.comparison.n,
            "what these cases can detect": fmt_detect(row.comparison),
        }
        for row in rows
    ]


def holistic_rows(results: ResultsStore, suite: str, blobs: dict[str, str]) -> list[dict[str, str]]:
    """One row per holistic dimension and variant, a column per named version (``{"newest commit": blob}``), from
    each one's latest run with holistic results; empty when the suite has none."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    names = {blob: name for name, blob in blobs.items()}
    for cell in holistic_cells(results, suite):
        if cell.blob not in names:
            continue
        row = rows.setdefault((cell.metric, cell.variant), {"dimension": cell.metric, "variant": cell.variant})
        row[names[cell.blob]] = fmt_interval(cell.interval) if cell.interval.n else cell.note
    return [{"dimension": d, "variant": v, **{n: r.get(n, "") for n in blobs}} for (d, v), r in rows.items()]
