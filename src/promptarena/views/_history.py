"""The overview grid, each metric over a prompt's commits, and diffs between versions."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from promptarena import feedback, report
from promptarena.errors import ConfigError, PromptArenaError
from promptarena.gitstore import PromptStore, PromptVersion
from promptarena.metrics import thumbs_up
from promptarena.stats import Interval
from promptarena.store import ArmRecord, ResultsStore, RunRow

THUMBS_UP = thumbs_up.name
"""The metric people's share of thumbs-up goes by beside the automatic metrics."""

# --- overview and metric history -------------------------------------------------------------------------


@dataclass(frozen=True)
class OverviewCell:
    """One metric of one arm (suite x version x variant) from the latest completed run that evaluated it."""

    suite: str
    prompt: str
    version: str  # short sha or "worktree"
    commit: str | None
    blob: str
    message: str | None
    variant: str
    metric: str
    interval: Interval
    run_id: str
    started_at: str
    note: str = ""  # why there is no value ("no layout to vary"), shown in its place


# the workbench shows two digits: ``0.67 [0.21, 0.94]``
fmt_interval = partial(report.fmt_interval, digits=2)


def latest_arms(
    results: ResultsStore, suite: str | None = None, needs: str | None = None
) -> Iterator[tuple[RunRow, ArmRecord]]:
    """``(run, arm)`` for the latest completed run of each arm, newest first.

    An arm is a suite, a version blob and a series: the variant, with ``@model`` for a suite of several models.
    With ``needs``, only runs whose record of the arm holds that part (``holistic``) count.
    """
    seen: set[tuple[str, str, str]] = set()
    for run in results.completed_runs(suite):
        for arm in run.record.arms if run.record else []:  # none: a record that does not read
            if needs and not getattr(arm, needs):
                continue
            key = (run.suite, arm.blob, series(arm))
            if key not in seen:
                seen.add(key)
                yield run, arm


def series(arm: ArmRecord) -> str:
    """The variant an arm's cells are charted under: one series per model when a suite has several."""
    return arm.variant + (f"@{arm.model}" if arm.model else "")


def arm_cell(run: RunRow, arm: ArmRecord, metric: str, interval: Interval) -> OverviewCell:
    """One cell of an arm from ``latest_arms``: a metric, or a dimension, with its interval."""
    return OverviewCell(
        suite=run.suite,
        prompt=run.prompt,
        version=arm.version,
        commit=arm.commit,
        blob=arm.blob,
        message=arm.message,
        variant=series(arm),
        metric=metric,
        interval=interval,
        run_id=run.id,
        started_at=run.started_at,
    )


def overview(results: ResultsStore, suite: str | None = None) -> list[OverviewCell]:
    """Every (suite, version blob, variant, metric) with the interval of the latest run that has it, and beside
    them a ``thumbs_up`` cell (share of thumbs-up, Wilson interval) for every arm with votes, as they are now."""
    shares = feedback.thumbs_up_shares(results, suite)
    cells: list[OverviewCell] = []
    for run, arm in latest_arms(results, suite):
        cells += [arm_cell(run, arm, metric, iv) for metric, iv in arm.metrics.items()]
        share = shares.get((run.suite, arm.blob, arm.variant))  # votes name no model: each model's series has them
        if share is not None:
            cells.append(arm_cell(run, arm, THUMBS_UP, share))
    return cells


@dataclass(frozen=True)
class HistoryPoint:
    """A metric of one variant at one commit of the prompt (``order`` counts commits, oldest first)."""

    order: int
    version: str
    commit: str | None
    blob: str
    date: str | None
    message: str | None
    variant: str
    metric: str
    mean: float
    low: float
    high: float
    n: int


def metric_history(cells: Sequence[OverviewCell], prompts: PromptStore | None, prompt: str) -> list[HistoryPoint]:
    """Every metric over the prompt's commits, oldest first, then the worktree: what a drop chart needs.

    Commits that left the prompt's text unchanged share the scores of that text (same blob). Without the
    git history (a deleted repository path) the stored versions are used in the order of their runs.
    """
    by_blob: dict[str, list[OverviewCell]] = {}
    for cell in cells:
        by_blob.setdefault(cell.blob, []).append(cell)
    commits: list[tuple[str, str | None, str | None, str | None, str]] = []  # label, commit, date, message, blob
    try:
        log = list(reversed(prompts.log(prompt))) if prompts is not None else []
    except PromptArenaError:
        log = []
    for v in log:
        commits.append((v.label, v.commit, v.date, v.message, v.blob))
    known = {blob for *_, blob in commits}
    stored = sorted((c for c in cells if c.blob not in known), key=lambda c: (c.version != "worktree", c.started_at))
    for cell in stored:
        if cell.blob not in known:
            known.add(cell.blob)
            commits.append((cell.version, cell.commit, None, cell.message, cell.blob))
    points: list[HistoryPoint] = []
    order = 0
    for label, commit, date, message, blob in commits:
        if blob not in by_blob:
            continue
        for cell in by_blob[blob]:
            iv = cell.interval
            points.append(
                HistoryPoint(
                    order, label, commit, blob, date, message, cell.variant, cell.metric, iv.mean, iv.low, iv.high, iv.n
                )
            )
        order += 1
    return points


# --- prompt history and diffs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitRow:
    """A version of a prompt with the headline scores of the suites that evaluate it."""

    version: PromptVersion
    scores: dict[str, float]  # "suite · metric · variant" -> mean


def commit_rows(prompts: PromptStore, prompt: str, cells: Sequence[OverviewCell]) -> list[CommitRow]:
    """The prompt's versions, worktree first when it has uncommitted edits, each with its stored scores."""
    versions = diff_versions(prompts, prompt)
    by_blob: dict[str, dict[str, float]] = {}
    for cell in cells:
        if cell.prompt == prompt:
            by_blob.setdefault(cell.blob, {})[f"{cell.suite} · {cell.metric} · {cell.variant}"] = cell.interval.mean
    return [CommitRow(v, by_blob.get(v.blob, {})) for v in versions]


def diff_versions(prompts: PromptStore, prompt: str) -> list[PromptVersion]:
    """The versions one can diff: the uncommitted worktree (when it differs from HEAD), then every commit."""
    out: list[PromptVersion] = []
    try:
        if prompts.is_dirty(prompt):
            worktree = prompts.resolve(f"{prompt}@worktree")
            out.append(worktree)
    except ConfigError:
        pass  # deleted in the worktree: only the history remains
    out.extend(prompts.log(prompt))
    return out


@dataclass(frozen=True)
class DiffRow:
    """One line of a side-by-side diff; ``tag`` is equal, replace, delete or insert."""

    tag: str
    left_no: int | None
    left: str
    right_no: int | None
    right: str


def side_by_side(a: str, b: str) -> list[DiffRow]:
    """Align the lines of two texts for a side-by-side view (changed lines paired, the rest blank)."""
    left, right = a.splitlines(), b.splitlines()
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        span = max(i2 - i1, j2 - j1)
        for k in range(span):
            i, j = i1 + k, j1 + k
            has_l, has_r = i < i2, j < j2
            row_tag = tag if tag != "replace" else ("replace" if has_l and has_r else ("delete" if has_l else "insert"))
            rows.append(
                DiffRow(
                    row_tag,
                    i + 1 if has_l else None,
                    left[i] if has_l else "",
                    j + 1 if has_r else None,
                    right[j] if has_r else "",
                )
            )
    return rows
