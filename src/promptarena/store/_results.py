"""The results table's row: what a run stores of one case under one arm, column by column, and the prediction
read back from it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptarena.types import Generation, Prediction, case_latency

ROUNDS = "rounds"
"""Key of a stored result's details: generations per round, in ``generation_keys`` order."""

RESULT_COLUMNS = (
    "run_id",
    "suite",
    "prompt",
    "version",
    "commit_sha",
    "blob",
    "variant",
    "model",
    "case_id",
    "perturbation",
    "output",
    "answer",
    "confidence",
    "reasoning",
    "details",
    "generation_keys",
    "scores",
)
"""The columns a result row writes, in the order of ``ResultRow.values``."""


@dataclass(frozen=True)
class ResultRow:
    """One case's result under one arm in one run: its prediction, the keys of the generations behind it (``rounds``
    says how many each round made) and its scores. ``perturbation`` is the column's label, ``""`` as written."""

    run_id: str
    suite: str
    prompt: str
    version: str
    commit_sha: str | None
    blob: str
    variant: str
    model: str
    case_id: str
    perturbation: str
    output: str
    answer: str
    confidence: float | None
    reasoning: str | None
    details: Mapping[str, Any] = field(default_factory=dict)
    rounds: Sequence[int] = ()
    generation_keys: Sequence[str] = ()
    scores: Mapping[str, float | None] = field(default_factory=dict)

    def values(self) -> tuple[Any, ...]:
        """The row's values in ``RESULT_COLUMNS`` order; the round sizes are kept in the details."""
        details = json.dumps({**self.details, ROUNDS: list(self.rounds)}, ensure_ascii=False)
        return (
            self.run_id,
            self.suite,
            self.prompt,
            self.version,
            self.commit_sha,
            self.blob,
            self.variant,
            self.model,
            self.case_id,
            self.perturbation,
            self.output,
            self.answer,
            self.confidence,
            self.reasoning,
            details,
            json.dumps(list(self.generation_keys)),
            json.dumps(dict(self.scores)),
        )


def stored_prediction(row: Mapping[str, Any], generations: Mapping[str, Generation]) -> Prediction:
    """A stored result (``output``, ``answer``, ``confidence``, ``reasoning``, ``details``, ``keys``) as the
    prediction it was made from, with the generations still stored; its latency rebuilt from its rounds (one
    round when the row predates round sizes)."""
    details = dict(row["details"])
    sizes = details.pop(ROUNDS, None) or [len(row["keys"])]
    rounds, start = [], 0
    for size in sizes:
        rounds.append([generations[k] for k in row["keys"][start : start + size] if k in generations])
        start += size
    return Prediction(
        output=row["output"],
        answer=row["answer"],
        generations=tuple(g for r in rounds for g in r),
        confidence=row["confidence"],
        reasoning=row["reasoning"],
        details=details,
        latency_s=case_latency(rounds),
    )
