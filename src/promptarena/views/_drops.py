"""Where a prompt's score dropped: the first commit whose stored score is significantly worse than its predecessor's.

Read from stored runs only (``load_arms``), compared with the same paired test as `evals compare`; nothing is
generated. `evals bisect` answers the same question for commits that have no stored runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from promptarena.compare import compare_arms
from promptarena.gitstore import PromptStore
from promptarena.stats import PairedComparison
from promptarena.store import ResultsStore
from promptarena.suite import Suite
from promptarena.views._arms import ArmChoice, arm_choices, load_arms
from promptarena.views._workspace import SuiteEntry


@dataclass(frozen=True)
class Drop:
    """A commit whose stored score on ``metric`` is significantly worse than the stored version before it."""

    suite: str
    series: str  # the variant, with ``@model`` for a suite of several models
    metric: str
    version: str  # short sha where it dropped
    message: str | None
    before: str  # short sha of the stored version before it
    comparison: PairedComparison


def score_drops(results: ResultsStore, prompts: PromptStore, prompt: str, entries: Sequence[SuiteEntry]) -> list[Drop]:
    """Per suite of ``prompt``, variant and gated metric: the first stored commit worse than its predecessor.

    Commits are taken oldest first among the suite's stored arms that are in the prompt's history (the
    worktree is left out); each is compared with the stored commit before it, on the cases both have.
    """
    drops = []
    logged = {v.blob for v in prompts.log(prompt)}
    for entry in entries:
        if entry.suite is None or entry.suite.prompt != prompt or not entry.stored:
            continue
        by_series: dict[tuple[str, str], list[ArmChoice]] = {}
        for choice in reversed(arm_choices(results, entry.name, prompts)):
            if choice.blob in logged:
                by_series.setdefault((choice.variant, choice.model), []).append(choice)
        for choices in by_series.values():
            drops.extend(_first_drops(results, prompts, entry.suite, choices))
    return drops


def _first_drops(results: ResultsStore, prompts: PromptStore, suite: Suite, choices: list[ArmChoice]) -> list[Drop]:
    """The first significant drop per gated metric along one series of stored commits, oldest first."""
    metrics = [m for m in (suite.gate or (suite.metrics[0].name,)) if suite.metric(m).higher_is_better is not None]
    found: dict[str, Drop] = {}
    for older, newer in pairwise(choices):
        if len(found) == len(metrics):
            break
        narrowed, arms = load_arms(results, suite, [older, newer], prompts)
        if not narrowed.cases:
            continue
        for row in compare_arms(narrowed, arms).rows:
            if row.metric in metrics and row.metric not in found and row.comparison.verdict == "worse":
                series = newer.variant + (f"@{newer.model}" if newer.model else "")
                found[row.metric] = Drop(
                    suite.name, series, row.metric, newer.version, newer.message, older.version, row.comparison
                )
    return list(found.values())
