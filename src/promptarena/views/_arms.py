"""Arms for Compare and the case explorer, rebuilt from stored per-case results and cached generations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from promptarena.compare import CaseRow
from promptarena.engine import ArmResult, summarize_arm
from promptarena.errors import PromptArenaError
from promptarena.gitstore import PromptStore, PromptVersion
from promptarena.plan import Arm
from promptarena.store import ResultsStore, stored_prediction
from promptarena.suite import Spec, Suite
from promptarena.types import Generation, Prediction

# --- arms for Compare and the case explorer --------------------------------------------------------------


@dataclass(frozen=True)
class ArmChoice:
    """An arm with stored results: a version (blob) of the suite's prompt evaluated with one variant on one model."""

    suite: str
    prompt: str
    blob: str
    variant: str
    version: str  # label at the latest run: short sha or "worktree"
    commit: str | None
    run_id: str  # the latest completed run that evaluated it
    started_at: str
    message: str | None = None
    model: str = ""  # a name from the suite's `models:`; '' for a suite with one model

    @property
    def label(self) -> str:
        return f"{self.version}:{self.variant}" + (f"@{self.model}" if self.model else "")


def arm_choices(results: ResultsStore, suite: str, prompts: PromptStore | None = None) -> list[ArmChoice]:
    """The suite's arms with stored results, newest commit first (worktree first), from their latest run."""
    rows = results.stored_arms(suite)
    messages: dict[str, tuple[int, str | None]] = {}
    made: dict[str, str] = {}  # blob -> the newest commit with that text: a draft or worktree run is its version
    if prompts is not None and rows:
        try:
            for i, v in enumerate(prompts.log(rows[0].prompt)):
                messages.setdefault(v.blob, (i, v.message))
                made.setdefault(v.blob, v.commit or "")
        except PromptArenaError:
            pass
    seen: dict[tuple[str, str, str], ArmChoice] = {}
    order: dict[tuple[str, str], int] = {}  # (variant, model) in the order the engine stored them: the suite's
    for row in rows:
        order[(row.variant, row.model)] = min(order.get((row.variant, row.model), row.first), row.first)
        if (row.blob, row.variant, row.model) not in seen:
            message = messages.get(row.blob, (0, None))[1]
            commit = row.commit or made.get(row.blob) or None  # identity is content: a saved draft is its commit
            seen[(row.blob, row.variant, row.model)] = ArmChoice(
                suite,
                row.prompt,
                row.blob,
                row.variant,
                row.version if commit == row.commit else commit[:7],  # type: ignore[index]
                commit,
                row.run_id,
                row.started_at,
                message,
                row.model,
            )

    def rank(c: ArmChoice) -> tuple[int, int, int]:
        in_log = messages.get(c.blob)
        return (0 if c.version == "worktree" else 1, in_log[0] if in_log else 10**6, order[(c.variant, c.model)])

    return sorted(seen.values(), key=rank)


def _version_of(choice: ArmChoice, prompts: PromptStore | None) -> PromptVersion:
    content, path, date, author, message = b"", "", None, None, choice.message
    if prompts is not None:
        try:
            path = prompts.path_of(choice.prompt)
            for v in prompts.log(choice.prompt):
                if v.blob == choice.blob:
                    content, path, date, author, message = v.content, v.path, v.date, v.author, v.message
                    break
        except PromptArenaError:
            pass
    return PromptVersion(
        name=choice.prompt,
        rev=choice.commit or choice.version,  # a draft keeps its label
        commit=choice.commit,
        blob=choice.blob,
        path=path,
        content=content,
        date=date,
        author=author,
        message=message,
        dirty=choice.commit is None,
    )


def load_arms(
    results: ResultsStore, suite: Suite, choices: Sequence[ArmChoice], prompts: PromptStore | None = None
) -> tuple[Suite, list[ArmResult]]:
    """Arm results rebuilt from stored per-case results, on the cases that every chosen arm has.

    Returns the suite narrowed to those cases (in the suite's order) and one ``ArmResult`` per choice,
    aligned with it, ready for ``compare.compare_arms``. Metrics added to the suite after a run score None.
    """
    stored = [results.arm_results(c.run_id, c.blob, c.variant, model=c.model) for c in choices]
    common = [case for case in suite.cases if all(case.id in rows for rows in stored)]
    narrowed = replace(suite, cases=tuple(common))
    specs = {s.name: s for s in suite.variants}
    all_keys = {k for rows in stored for row in rows.values() for k in row["keys"]}
    generations = results.cached_generations(all_keys)
    arms = []
    for choice, rows in zip(choices, stored, strict=True):
        arm = Arm(_version_of(choice, prompts), specs.get(choice.variant, Spec(choice.variant)), choice.model)
        predictions: list[Prediction] = []
        scores: dict[str, list[float | None]] = {m.name: [] for m in suite.metrics}
        for case in common:
            row = rows[case.id]
            predictions.append(stored_prediction(row, generations))
            for metric in scores:
                scores[metric].append(row["scores"].get(metric))
        result = ArmResult(arm, predictions, scores)
        summarize_arm(narrowed, result)
        arms.append(result)
    return narrowed, arms


def case_ids(results: ResultsStore, suite: str) -> list[str]:
    """Case ids with stored results for a suite, in the order they were first stored."""
    return results.case_ids(suite)


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
        row = results.arm_results(choice.run_id, choice.blob, choice.variant, case_id, choice.model).get(case_id)
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


def spread(row: CaseRow, metric: str | None) -> float:
    """How far the arms' scores of one case lie apart on ``metric``: 0 when they agree, 1 when pass meets fail.

    The disagreement that sorts ``Comparison.cases`` adds a tie-breaker for differing answers; this is the figure.
    """
    values = [s.get(metric) for s in row.scores.values()] if metric else []
    present = [v for v in values if v is not None]
    return float(max(present) - min(present)) if present else 0.0
