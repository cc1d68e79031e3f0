"""Bisect a regression: the first commit between a good and a bad revision whose score is worse than good's.

Candidates are the commits in ``good..bad`` that changed the suite's prompt (under any path its history had),
the suite file or its case file, oldest first. A tested commit is evaluated as it was then (the prompt, the
cases and the generation parameters at that commit) against the suite as named now (metric, threshold,
variant, model; a scorer of the repository's own is its code in the working tree now, the yardstick held fixed
while the versions vary), and compared with good paired per case (``compare.compare_arms``) on the cases both have.
It is bad when that comparison's verdict is "worse", or when its mean misses the suite's threshold that good
meets. A binary search tests as few commits as it can; each goes through ``engine.run_suite``, so what an
earlier run cached costs no generation.
"""

from __future__ import annotations

import math
import posixpath
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import git
import yaml

from promptarena.backends import Backend
from promptarena.cases import case_file_name
from promptarena.compare import compare_arms
from promptarena.engine import ArmResult, run_suite, summarize_arm
from promptarena.errors import ConfigError, did_you_mean
from promptarena.gitstore import PromptStore
from promptarena.plan import Arm, model_names
from promptarena.stats import Interval, PairedComparison
from promptarena.store import ResultsStore
from promptarena.suite import Suite, load_suite

__all__ = ["Bisection", "Commit", "Step", "bisect_suite", "default_metric"]

GOOD, OK, WORSE, BELOW = "good", "ok", "worse", "below threshold"


@dataclass(frozen=True)
class Commit:
    """A candidate commit: its full sha and the subject line of its message."""

    sha: str
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:7]


@dataclass(frozen=True)
class Step:
    """One tested commit: its score on the metric and its verdict against good (``comparison`` is None for good)."""

    commit: Commit
    interval: Interval
    verdict: str  # GOOD, OK, WORSE or BELOW
    comparison: PairedComparison | None = None

    @property
    def bad(self) -> bool:
        return self.verdict in (WORSE, BELOW)


@dataclass(frozen=True)
class Bisection:
    """The outcome: the tested commits in the order they were tested, and the first bad commit (None: none is)."""

    suite: str
    metric: str
    arm: str  # the variant (and model) every commit was evaluated with
    good: Step
    candidates: tuple[Commit, ...]  # oldest first
    steps: tuple[Step, ...]  # every tested candidate, in test order
    first_bad: Commit | None
    threshold: float | None  # the threshold judged against; None when the suite has none or good misses it
    generated: int  # generations made by this bisect (0 when everything was cached)
    ignored_threshold: float | None = None  # the suite's threshold that good itself misses, so it judges nothing

    @property
    def evaluated(self) -> int:
        """Commits evaluated, good included."""
        return 1 + len(self.steps)

    @property
    def conclusion(self) -> str:
        """One sentence: the first bad commit, or that the bad revision is not worse than good."""
        n = len(self.candidates)
        tested = f"{self.evaluated} of {n + 1} commits evaluated (good and {n} candidate{'s' * (n != 1)})"
        if self.first_bad is None:
            limit = f" and meets its threshold {self.threshold:g}" if self.threshold is not None else ""
            return (
                f"no bad commit: bad (as of {self.candidates[-1].short}, its last change) is not significantly worse "
                f"than good ({self.good.commit.short}) on {self.metric}{limit}; {tested}"
            )
        return f"first bad commit: {self.first_bad.short} {self.first_bad.subject}; {tested}"


def default_metric(suite: Suite) -> str:
    """The suite's first gated metric, else its first metric."""
    return suite.gate[0] if suite.gate else suite.metrics[0].name


def bisect_suite(
    suite: Suite,
    prompts: PromptStore,
    results: ResultsStore,
    good: str,
    bad: str,
    *,
    metric: str | None = None,
    backend: Backend | Mapping[str, Backend] | None = None,
    alpha: float = 0.05,
    on_step: Callable[[Step], None] | None = None,
) -> Bisection:
    """Find the first commit in ``good..bad`` whose score on ``metric`` is worse than good's (see the module doc).

    Raises:
        ConfigError: for an unknown revision or metric, a good that is not an ancestor of bad, a prompt that
            does not exist at good, or a range in which no commit changes the prompt, suite or cases.
    """
    metric = metric or default_metric(suite)
    names = [m.name for m in suite.metrics]
    if metric not in names:
        raise ConfigError(
            f"--metric {metric!r} is not a metric of suite {suite.name}{did_you_mean(metric, names)}: "
            f"use one of {', '.join(names)}."
        )
    with git.Repo(prompts.workdir) as repo:
        good_sha, bad_sha = (
            _rev(prompts, repo, suite.prompt, good, "--good"),
            _rev(prompts, repo, suite.prompt, bad, "--bad"),
        )
        if not repo.is_ancestor(good_sha, bad_sha):
            raise ConfigError(
                f"--good {good} ({good_sha[:7]}) is not an ancestor of --bad {bad} ({bad_sha[:7]}): "
                f"pick a good commit from bad's history (`git log {bad}`)."
            )
        candidates = _candidates(repo, prompts, suite, good_sha, bad_sha)
        if not candidates:
            raise ConfigError(
                f"no commit in {good}..{bad} changes the prompt {suite.prompt!r}, {_rel(prompts, suite.path)} or its "
                "cases: pick a wider range, an older --good or a newer --bad."
            )
        bisector = _Bisector(suite, prompts, repo, results, metric, backend, alpha)
        head = Commit(good_sha, repo.commit(good_sha).summary)  # type: ignore[arg-type]
        good_step = bisector.evaluate_good(head)
        steps: list[Step] = []

        def test(index: int) -> bool:
            step = bisector.judge(candidates[index])
            steps.append(step)
            if on_step:
                on_step(step)
            return step.bad

        first_bad = _search(len(candidates), test)
    return Bisection(
        suite=suite.name,
        metric=metric,
        arm=bisector.arm_label,
        good=good_step,
        candidates=tuple(candidates),
        steps=tuple(steps),
        first_bad=None if first_bad is None else candidates[first_bad],
        threshold=bisector.threshold,
        generated=bisector.generated,
        ignored_threshold=bisector.ignored_threshold,
    )


def _search(n: int, is_bad: Callable[[int], bool]) -> int | None:
    """The first bad index of ``n`` candidates, testing the last first (the bad revision's state); None if it is ok.

    Everything before index 0 is good; the search keeps ``lo`` good and ``hi`` bad, as `git bisect` does.
    """
    if not is_bad(n - 1):
        return None
    lo, hi = -1, n - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if is_bad(mid):
            hi = mid
        else:
            lo = mid
    return hi


class _Bisector:
    """Evaluates commits one arm at a time and judges each against good."""

    def __init__(
        self,
        suite: Suite,
        prompts: PromptStore,
        repo: git.Repo,
        results: ResultsStore,
        metric: str,
        backend: Backend | Mapping[str, Backend] | None,
        alpha: float,
    ) -> None:
        self.suite, self.prompts, self.repo, self.results = suite, prompts, repo, results
        self.metric, self.backend, self.alpha = metric, backend, alpha
        self.variant = suite.variants[0]
        self.model = model_names(suite)[0]
        self.arm_label = self.variant.name + (f"@{self.model}" if self.model else "")
        self.higher = suite.metric(metric).higher_is_better is not False
        self.threshold: float | None = suite.thresholds.get(metric)
        self.ignored_threshold: float | None = None
        self.generated = 0
        self._good: tuple[Suite, ArmResult] | None = None

    def evaluate(self, commit: Commit) -> tuple[Suite, ArmResult]:
        """The arm at ``commit``: its prompt, cases and parameters then, the suite's yardstick now."""
        version = self.prompts.version_at(self.suite.prompt, commit.sha)
        if version is None:
            raise ConfigError(
                f"prompt {self.suite.prompt!r} does not exist at {commit.short} ({commit.subject}): pick a --good "
                "at or after the commit that added it (`evals prompts log`)."
            )
        at = _suite_at(self.suite, self.repo, self.prompts.workdir, commit)
        outcome = run_suite(
            at, self.prompts, self.results, arms=[Arm(version, self.variant, self.model)], backend=self.backend
        )  # type: ignore[arg-type]
        self.generated += outcome.generated
        return at, outcome.arms[0]

    def evaluate_good(self, commit: Commit) -> Step:
        """Evaluate good; a threshold good itself misses cannot tell commits apart, so it is dropped."""
        self._good = self.evaluate(commit)
        interval = self._good[1].summary[self.metric]
        if self.threshold is not None and self._misses(interval):
            self.ignored_threshold, self.threshold = self.threshold, None
        return Step(commit, interval, GOOD)

    def judge(self, commit: Commit) -> Step:
        """Evaluate ``commit`` and compare it with good, paired on the cases both have."""
        assert self._good is not None
        at, arm = self.evaluate(commit)
        (good_suite, good_arm), ids = self._good, {c.id for c in at.cases}
        common = tuple(c for c in good_suite.cases if c.id in ids)
        narrowed = replace(good_suite, cases=common, metrics=tuple(m for m in at.metrics if m.name == self.metric))
        pair = [_narrow(narrowed, good_suite, good_arm), _narrow(narrowed, at, arm)]
        comparison = compare_arms(narrowed, pair, alpha=self.alpha).rows[0].comparison
        interval = arm.summary[self.metric]
        verdict = WORSE if comparison.verdict == "worse" else BELOW if self._misses(interval) else OK
        return Step(commit, interval, verdict, comparison)

    def _misses(self, interval: Interval) -> bool:
        if self.threshold is None:
            return False
        if interval.n == 0 or math.isnan(interval.mean):
            return True
        return interval.mean < self.threshold if self.higher else interval.mean > self.threshold


def _narrow(target: Suite, source: Suite, arm: ArmResult) -> ArmResult:
    """``arm`` (evaluated on ``source``'s cases) on ``target``'s cases, in their order, for a paired comparison."""
    index = {c.id: i for i, c in enumerate(source.cases)}
    picks = [index[c.id] for c in target.cases]
    scores = {m.name: [arm.scores[m.name][i] for i in picks] for m in target.metrics}
    narrowed = ArmResult(arm.arm, [arm.predictions[i] for i in picks], scores)
    summarize_arm(target, narrowed)
    return narrowed


def _rev(prompts: PromptStore, repo: git.Repo, prompt: str, rev: str, option: str) -> str:
    """The full commit sha ``rev`` names; an unknown one is a ConfigError naming the option."""
    try:
        prompts.version_at(prompt, rev)
    except ConfigError as err:
        raise ConfigError(f"{option} {rev}: {err}") from None
    return repo.git.rev_parse("--verify", "--end-of-options", f"{rev}^{{commit}}").strip()


def _rel(prompts: PromptStore, path: Path | None) -> str | None:
    """``path`` relative to the repository's top folder, or None when it is outside (or there is none)."""
    if path is None:
        return None
    resolved = Path(path).resolve()
    return resolved.relative_to(prompts.workdir).as_posix() if resolved.is_relative_to(prompts.workdir) else None


def _candidates(repo: git.Repo, prompts: PromptStore, suite: Suite, good: str, bad: str) -> list[Commit]:
    """Commits in ``good..bad`` that changed the prompt (any path it had), the suite or its case file, oldest first."""
    paths = {prompts.path_of(suite.prompt), *(v.path for v in prompts.log(suite.prompt))}
    paths.update(p for p in (_rel(prompts, suite.path), _rel(prompts, suite.case_file)) if p)
    out = repo.git.log("--reverse", "--format=%H%x1f%s", f"{good}..{bad}", "--", *sorted(paths))
    return [Commit(*line.split("\x1f", 1)) for line in out.splitlines() if line]


def _suite_at(suite: Suite, repo: git.Repo, workdir: Path, commit: Commit) -> Suite:
    """``suite`` with the cases and generation parameters its file had at ``commit`` (unchanged where it had none).

    The file and its case file are read from git into a temporary folder, at their paths in the repository, and
    validated as any suite is; an error names the commit.
    """
    rel = Path(suite.path).resolve().relative_to(workdir).as_posix()
    text = _blob(repo, commit.sha, rel)
    if text is None:
        return suite
    with tempfile.TemporaryDirectory(prefix="promptarena-bisect-") as tmp:
        root = Path(tmp)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(text)
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            doc = None  # load_suite names the line
        name = case_file_name(doc.get("cases")) if isinstance(doc, dict) else None
        if name is not None:
            case_rel = posixpath.normpath(posixpath.join(posixpath.dirname(rel), name))
            data = _blob(repo, commit.sha, case_rel)
            if data is not None:
                (root / case_rel).parent.mkdir(parents=True, exist_ok=True)
                (root / case_rel).write_bytes(data)
        try:
            at = load_suite(root / rel, root, own_metrics=False)  # the metrics are the suite's now
        except ConfigError as err:
            raise ConfigError(f"at {commit.short} ({commit.subject}): {err}") from None
    return replace(suite, cases=at.cases, cases_hash=at.cases_hash, parameters=at.parameters)


def _blob(repo: git.Repo, sha: str, path: str) -> bytes | None:
    """The bytes of ``path`` at commit ``sha``, or None when it did not exist there."""
    try:
        obj = repo.commit(sha).tree / path
    except KeyError:
        return None
    return obj.data_stream.read() if isinstance(obj, git.Blob) else None


def steps_by_commit(bisection: Bisection) -> Sequence[Step]:
    """Good first, then the tested commits in history order (oldest first)."""
    order = {c.sha: i for i, c in enumerate(bisection.candidates)}
    return [bisection.good, *sorted(bisection.steps, key=lambda s: order[s.commit.sha])]
