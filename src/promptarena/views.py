"""Read models for the Streamlit workbench: plain data built from the results store, the prompt store and suites.

The pages in ``app/`` call these functions and only draw what they return, so that every figure the UI shows
is testable without a browser. Arms are read back from the stored per-case results of the latest completed
run that holds them: viewing a page never needs the model, never generates and never records a run.
Nothing here imports streamlit or torch.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from promptarena import report
from promptarena.engine import ROUNDS, Arm, ArmResult, summarize_arm
from promptarena.errors import ConfigError, PromptArenaError
from promptarena.gitstore import PromptStore, PromptVersion
from promptarena.results import ResultsStore
from promptarena.stats import Interval, percentile
from promptarena.suite import Spec, Suite, load_suite
from promptarena.types import Generation, Prediction, case_latency

__all__ = [
    "ArmChoice",
    "CaseSample",
    "CommitRow",
    "DiffRow",
    "HistoryPoint",
    "OverviewCell",
    "RunView",
    "SuiteEntry",
    "Workspace",
    "arm_choices",
    "case_ids",
    "case_samples",
    "commit_rows",
    "diff_versions",
    "fmt_interval",
    "load_arms",
    "metric_history",
    "overview",
    "prompt_names",
    "run_views",
    "side_by_side",
    "suite_entries",
    "with_feedback",
]

_NAN = float("nan")
THUMBS_UP = "thumbs_up"
"""The name people's share of thumbs-up goes by beside the automatic metrics (and as a gate threshold)."""


# --- where things are ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    """The prompt repository and the results database that the workbench shows."""

    repo: Path
    db: Path
    workdir: Path  # the repository's top folder, which holds evals/

    @classmethod
    def from_env(cls, repo: str | None = None, db: str | None = None) -> Workspace:
        """From arguments, else ``$PROMPTARENA_REPO`` / ``$PROMPTARENA_DB``, else ``.`` and the repo's default db.

        Raises ``ConfigError`` when the repository is not a git repository.
        """
        repo_path = Path(repo or os.environ.get("PROMPTARENA_REPO") or ".").expanduser().resolve()
        with PromptStore(repo_path) as store:
            workdir = store.workdir
        db_env = db or os.environ.get("PROMPTARENA_DB")
        db_path = Path(db_env).expanduser().resolve() if db_env else workdir / ".promptarena" / "results.db"
        return cls(repo_path, db_path, workdir)

    def prompts(self) -> PromptStore:
        """A prompt store for one page render (close it, or use it as a context manager)."""
        return PromptStore(self.repo)

    def results(self) -> ResultsStore:
        """A results store for one operation; creates the database when it does not exist yet."""
        return ResultsStore(self.db)

    @property
    def has_db(self) -> bool:
        return self.db.is_file()


# --- suites ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteEntry:
    """A suite the workbench knows of: from evals/*.yaml (``suite`` set) or only from stored runs."""

    name: str
    prompt: str
    suite: Suite | None = None
    error: str | None = None  # why the suite file could not be loaded
    stored: bool = False  # the database holds runs of it

    @property
    def metrics(self) -> list[str]:
        return [m.name for m in self.suite.metrics] if self.suite else []


def suite_entries(workdir: Path, results: ResultsStore | None) -> list[SuiteEntry]:
    """Every suite file under ``evals/`` (with its load error, if any) and every suite with stored runs."""
    entries: dict[str, SuiteEntry] = {}
    evals = Path(workdir) / "evals"
    files = sorted(evals.glob("*.yaml")) + sorted(evals.glob("*.yml")) if evals.is_dir() else []
    for path in files:
        try:
            suite = load_suite(path, Path(workdir))
            entries[suite.name] = SuiteEntry(suite.name, suite.prompt, suite)
        except PromptArenaError as err:
            entries[path.stem] = SuiteEntry(path.stem, "", None, str(err))
    if results is not None:
        for name, prompt in results.conn.execute("SELECT suite, prompt FROM runs GROUP BY suite ORDER BY suite"):
            old = entries.get(name)
            if old is None:
                entries[name] = SuiteEntry(name, prompt, None, None, stored=True)
            else:
                entries[name] = replace(old, prompt=old.prompt or prompt, stored=True)
    return sorted(entries.values(), key=lambda e: e.name)


def prompt_names(store: PromptStore, suites: Iterable[SuiteEntry] = ()) -> list[str]:
    """Prompts in the repository, plus those that suites or stored runs name (deleted ones included)."""
    names = set(store.list_prompts())
    names.update(e.prompt for e in suites if e.prompt)
    return sorted(names)


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


# the workbench shows two digits: ``0.67 [0.21, 0.94]``
fmt_interval = partial(report.fmt_interval, digits=2)


def _interval(d: dict[str, Any] | None) -> Interval:
    if not d:
        return Interval(_NAN, _NAN, _NAN, 0)

    def num(x: Any) -> float:
        return _NAN if x is None else float(x)

    return Interval(num(d.get("mean")), num(d.get("low")), num(d.get("high")), int(d.get("n") or 0))


def _latest_summaries(results: ResultsStore, suite: str | None = None) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(run id, suite, started_at, summary) of completed runs, newest first."""
    sql = "SELECT id, suite, started_at, summary FROM runs WHERE status = 'completed' AND summary IS NOT NULL"
    args: list[Any] = []
    if suite is not None:
        sql += " AND suite = ?"
        args.append(suite)
    sql += " ORDER BY started_at DESC, rowid DESC"
    return [(r[0], r[1], r[2], json.loads(r[3])) for r in results.conn.execute(sql, args)]


def overview(results: ResultsStore, suite: str | None = None) -> list[OverviewCell]:
    """Every (suite, version blob, variant, metric) with the interval of the latest run that has it."""
    seen: set[tuple[str, str, str]] = set()
    cells: list[OverviewCell] = []
    for run_id, suite_name, started, summary in _latest_summaries(results, suite):
        for arm in summary.get("arms", []):
            key = (suite_name, arm["blob"], arm["variant"])
            if key in seen:
                continue
            seen.add(key)
            for metric, iv in arm.get("metrics", {}).items():
                cells.append(
                    OverviewCell(
                        suite=suite_name,
                        prompt=summary.get("prompt", ""),
                        version=arm["version"],
                        commit=arm.get("commit"),
                        blob=arm["blob"],
                        message=arm.get("message"),
                        variant=arm["variant"],
                        metric=metric,
                        interval=_interval(iv),
                        run_id=run_id,
                        started_at=started,
                    )
                )
    return cells


def with_feedback(cells: Sequence[OverviewCell], shares: dict[tuple[str, str, str], Interval]) -> list[OverviewCell]:
    """The cells plus a ``thumbs_up`` cell (share of thumbs-up, Wilson interval) for every arm with votes."""
    out = list(cells)
    arms: dict[tuple[str, str, str], OverviewCell] = {}
    for cell in cells:
        arms.setdefault((cell.suite, cell.blob, cell.variant), cell)
    for key, interval in shares.items():
        if key in arms:
            out.append(replace(arms[key], metric=THUMBS_UP, interval=interval))
    return out


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


def metric_history(cells: Sequence[OverviewCell], store: PromptStore | None, prompt: str) -> list[HistoryPoint]:
    """Every metric over the prompt's commits, oldest first, then the worktree: what a drop chart needs.

    Commits that left the prompt's text unchanged share the scores of that text (same blob). Without the
    git history (a deleted repository path) the stored versions are used in the order of their runs.
    """
    by_blob: dict[str, list[OverviewCell]] = {}
    for cell in cells:
        by_blob.setdefault(cell.blob, []).append(cell)
    commits: list[tuple[str, str | None, str | None, str | None, str]] = []  # label, commit, date, message, blob
    try:
        log = list(reversed(store.log(prompt))) if store is not None else []
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


def commit_rows(store: PromptStore, prompt: str, cells: Sequence[OverviewCell]) -> list[CommitRow]:
    """The prompt's versions, worktree first when it has uncommitted edits, each with its stored scores."""
    versions = diff_versions(store, prompt)
    by_blob: dict[str, dict[str, float]] = {}
    for cell in cells:
        if cell.prompt == prompt:
            by_blob.setdefault(cell.blob, {})[f"{cell.suite} · {cell.metric} · {cell.variant}"] = cell.interval.mean
    return [CommitRow(v, by_blob.get(v.blob, {})) for v in versions]


def diff_versions(store: PromptStore, prompt: str) -> list[PromptVersion]:
    """The versions one can diff: the uncommitted worktree (when it differs from HEAD), then every commit."""
    out: list[PromptVersion] = []
    try:
        if store.is_dirty(prompt):
            worktree = store.resolve(f"{prompt}@worktree")
            out.append(worktree)
    except ConfigError:
        pass  # deleted in the worktree: only the history remains
    out.extend(store.log(prompt))
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


# --- arms for Compare and the case explorer --------------------------------------------------------------


@dataclass(frozen=True)
class ArmChoice:
    """An arm with stored results: a version (blob) of the suite's prompt evaluated with one variant."""

    suite: str
    prompt: str
    blob: str
    variant: str
    version: str  # label at the latest run: short sha or "worktree"
    commit: str | None
    run_id: str  # the latest completed run that evaluated it
    started_at: str
    message: str | None = None

    @property
    def label(self) -> str:
        return f"{self.version}:{self.variant}"


def arm_choices(results: ResultsStore, suite: str, store: PromptStore | None = None) -> list[ArmChoice]:
    """The suite's arms with stored results, newest commit first (worktree first), from their latest run."""
    rows = results.conn.execute(
        """
        SELECT r.blob, r.variant, r.version, r.commit_sha, r.run_id, runs.started_at, r.prompt, r.first
        FROM (
            SELECT run_id, blob, variant, version, commit_sha, prompt, MIN(rowid) AS first
            FROM results WHERE suite = ? GROUP BY run_id, blob, variant
        ) r
        JOIN runs ON runs.id = r.run_id
        WHERE runs.status = 'completed'
        ORDER BY runs.started_at DESC, runs.rowid DESC
        """,
        (suite,),
    ).fetchall()
    messages: dict[str, tuple[int, str | None]] = {}
    if store is not None and rows:
        try:
            for i, v in enumerate(store.log(rows[0][6])):
                messages.setdefault(v.blob, (i, v.message))
        except PromptArenaError:
            pass
    seen: dict[tuple[str, str], ArmChoice] = {}
    variants_order: dict[str, int] = {}  # the order the engine stored them in: the suite's
    for blob, variant, version, commit, run_id, started, prompt, first in rows:
        variants_order[variant] = min(variants_order.get(variant, first), first)
        if (blob, variant) not in seen:
            message = messages.get(blob, (0, None))[1]
            seen[(blob, variant)] = ArmChoice(suite, prompt, blob, variant, version, commit, run_id, started, message)

    def rank(c: ArmChoice) -> tuple[int, int, int]:
        in_log = messages.get(c.blob)
        return (0 if c.version == "worktree" else 1, in_log[0] if in_log else 10**6, variants_order[c.variant])

    return sorted(seen.values(), key=rank)


def _stored_rows(results: ResultsStore, choice: ArmChoice, case_id: str | None = None) -> dict[str, dict[str, Any]]:
    sql = (
        "SELECT case_id, output, answer, confidence, reasoning, details, generation_keys, scores, version, commit_sha "
        "FROM results WHERE run_id = ? AND blob = ? AND variant = ?"
    )
    args = [choice.run_id, choice.blob, choice.variant]
    if case_id is not None:
        sql += " AND case_id = ?"
        args.append(case_id)
    cur = results.conn.execute(sql, args)
    out = {}
    for case_id, output, answer, conf, reasoning, details, keys, scores, version, commit in cur:
        out[case_id] = {
            "output": output,
            "answer": answer,
            "confidence": conf,
            "reasoning": reasoning,
            "details": json.loads(details),
            "keys": json.loads(keys),
            "scores": json.loads(scores),
            "version": version,
            "commit": commit,
        }
    return out


def _version_of(choice: ArmChoice, store: PromptStore | None) -> PromptVersion:
    text, path, date, author, message = "", "", None, None, choice.message
    if store is not None:
        try:
            path = store.path_of(choice.prompt)
            for v in store.log(choice.prompt):
                if v.blob == choice.blob:
                    text, path, date, author, message = v.text, v.path, v.date, v.author, v.message
                    break
        except PromptArenaError:
            pass
    return PromptVersion(
        name=choice.prompt,
        rev=choice.commit or "worktree",
        commit=choice.commit,
        blob=choice.blob,
        path=path,
        text=text,
        date=date,
        author=author,
        message=message,
        dirty=choice.commit is None,
    )


def load_arms(
    results: ResultsStore, suite: Suite, choices: Sequence[ArmChoice], store: PromptStore | None = None
) -> tuple[Suite, list[ArmResult]]:
    """Arm results rebuilt from stored per-case results, on the cases that every chosen arm has.

    Returns the suite narrowed to those cases (in the suite's order) and one ``ArmResult`` per choice,
    aligned with it, ready for ``compare.compare_arms``. Metrics added to the suite after a run score None.
    """
    stored = [_stored_rows(results, c) for c in choices]
    common = [case for case in suite.cases if all(case.id in rows for rows in stored)]
    narrowed = replace(suite, cases=tuple(common))
    specs = {s.name: s for s in suite.variants}
    all_keys = {k for rows in stored for row in rows.values() for k in row["keys"]}
    generations = results.cached_generations(all_keys)
    arms = []
    for choice, rows in zip(choices, stored, strict=True):
        arm = Arm(_version_of(choice, store), specs.get(choice.variant, Spec(choice.variant)))
        predictions: list[Prediction] = []
        scores: dict[str, list[float | None]] = {m.name: [] for m in suite.metrics}
        for case in common:
            row = rows[case.id]
            rounds = _rounds(row["keys"], row["details"].pop(ROUNDS, None), generations)
            predictions.append(
                Prediction(
                    output=row["output"],
                    answer=row["answer"],
                    generations=tuple(g for round_ in rounds for g in round_),
                    confidence=row["confidence"],
                    reasoning=row["reasoning"],
                    details=row["details"],
                    latency_s=case_latency(rounds),
                )
            )
            for metric in scores:
                scores[metric].append(row["scores"].get(metric))
        result = ArmResult(arm, predictions, scores)
        summarize_arm(narrowed, result)
        arms.append(result)
    return narrowed, arms


def _rounds(keys: list[str], sizes: list[int] | None, generations: dict[str, Generation]) -> list[list[Generation]]:
    """A stored result's generations per round (one round when the row predates round sizes), as still stored."""
    rounds, start = [], 0
    for size in sizes or [len(keys)]:
        rounds.append([generations[k] for k in keys[start : start + size] if k in generations])
        start += size
    return rounds


def case_ids(results: ResultsStore, suite: str) -> list[str]:
    """Case ids with stored results for a suite, in the order they were first stored."""
    rows = results.conn.execute(
        "SELECT case_id FROM results WHERE suite = ? GROUP BY case_id ORDER BY MIN(rowid)", (suite,)
    )
    return [r[0] for r in rows]


@dataclass(frozen=True)
class CaseSample:
    """One arm's take on one case: the prediction, its scores, and every generation behind it."""

    choice: ArmChoice
    case_id: str
    output: str
    answer: str
    confidence: float | None
    reasoning: str | None
    votes: dict[str, int]
    samples: list[tuple[str, str | None, Generation | None]]  # (extracted answer, sample text, generation)
    scores: dict[str, float | None]
    details: dict[str, Any] = field(default_factory=dict)


def case_samples(results: ResultsStore, choices: Sequence[ArmChoice], case_id: str) -> list[CaseSample]:
    """All samples of a case under each chosen arm: outputs, extracted answers, votes, reasoning, scores."""
    out = []
    for choice in choices:
        row = _stored_rows(results, choice, case_id).get(case_id)
        if row is None:
            continue
        gens = results.cached_generations(row["keys"])
        ordered = [gens.get(k) for k in row["keys"]]
        details = row["details"]
        answers = list(details.get("samples") or [])
        samples: list[tuple[str, str | None, Generation | None]] = []
        for i, gen in enumerate(ordered):
            answer = answers[i] if i < len(answers) else (row["answer"] if len(ordered) == 1 else "")
            samples.append((answer, gen.text if gen else None, gen))
        out.append(
            CaseSample(
                choice=choice,
                case_id=case_id,
                output=row["output"],
                answer=row["answer"],
                confidence=row["confidence"],
                reasoning=row["reasoning"],
                votes={str(k): int(v) for k, v in (details.get("votes") or {}).items()},
                samples=samples,
                scores=row["scores"],
                details=details,
            )
        )
    return out


# --- runs ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunView:
    """A run with its provenance and efficiency, flattened for a table."""

    id: str
    suite: str
    prompt: str
    status: str
    started_at: str
    finished_at: str | None
    commits: list[str]  # "label (dirty)" per evaluated version
    model: str
    seed: Any
    packages: dict[str, str | None]
    generated: int | None
    cached: int | None
    wall_s: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    tokens_per_s: float | None
    peak_memory_mb: float | None
    arms: list[dict[str, Any]]
    provenance: dict[str, Any]
    error: str | None


def _num(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def run_views(results: ResultsStore, suite: str | None = None, limit: int = 200) -> list[RunView]:
    """The latest runs, newest first, with provenance and efficiency (worst p95 over arms, median tokens/s)."""
    out = []
    for run in results.runs(suite=suite, limit=limit):
        prov, summary = run.provenance or {}, run.summary or {}
        arms = list(summary.get("arms", []))
        p50 = [a.get("latency_p50_s") for a in arms]
        p95 = [a.get("latency_p95_s") for a in arms]
        tps = [a.get("tokens_per_s") for a in arms]
        commits = [
            f"{label}{' (dirty)' if info.get('dirty') else ''}" for label, info in (prov.get("versions") or {}).items()
        ]
        peak = summary.get("peak_memory_mb", prov.get("peak_memory_mb"))
        out.append(
            RunView(
                id=run.id,
                suite=run.suite,
                prompt=run.prompt,
                status=run.status,
                started_at=run.started_at,
                finished_at=run.finished_at,
                commits=commits,
                model=str(prov.get("model", "")),
                seed=prov.get("seed"),
                packages=dict(prov.get("packages") or {}),
                generated=summary.get("generated"),
                cached=summary.get("cached"),
                wall_s=_num(summary.get("wall_s")),
                latency_p50_s=_num(percentile([_num(x) for x in p50], 50)) if arms else None,
                latency_p95_s=_num(max((x for x in map(_num, p95) if x is not None), default=_NAN)),
                tokens_per_s=_num(percentile([_num(x) for x in tps], 50)) if arms else None,
                peak_memory_mb=_num(peak),
                arms=arms,
                provenance=prov,
                error=summary.get("error"),
            )
        )
    return out
