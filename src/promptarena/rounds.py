"""What a run plays: its tasks, one per (arm, column, case), cut into chunks and played round by round, then
reduced to columns of predictions and written as result rows.

A chunk is a run of tasks whose first rounds hold about ``chunk_size`` requests, enough to keep a batched backend
full. Its tasks play every round of their variant, become predictions, are scored and written to the results
store as rows; only the scores and per-arm token and time totals stay in memory. Reports that need outputs read
them back from the store (``store.StoredPredictions``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptarena.conversation import longest_requests
from promptarena.generator import Generator
from promptarena.holistic import FORMAT
from promptarena.plan import Arm
from promptarena.store import ResultRow
from promptarena.suite import Suite
from promptarena.types import Case, Generation, GenerationRequest, Prediction, case_latency
from promptarena.variants import Item, Variant

Round = list[tuple["Task", list[GenerationRequest]]]


@dataclass
class Task:
    """One (arm, case): the variant's rounds of generations so far and their cache keys."""

    arm: Arm
    variant: Variant
    item: Item
    column: str = ""  # the perturbation or layout; "" for the case as written
    history: list[list[Generation]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def place(self, suite: Suite) -> str:
        """Where the case is written and which version it runs, for error messages."""
        where = self.item.case.meta.get("where", suite.path)
        return f"{where}: case {self.item.case.id!r} (version {suite.prompt}@{self.arm.version.label})"


@dataclass
class Column:
    """An arm's predictions under one perturbation or layout (``""``: the cases as written): the cases as sent,
    their inputs and scores. ``inputs`` holds what differs from the unperturbed request: the perturbed variables,
    or the layout's text."""

    label: str
    cases: list[Case] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)
    inputs: list[Any] = field(default_factory=list)
    scores: dict[str, list[float | None]] = field(default_factory=dict)
    reasons: dict[str, list[str | None]] = field(default_factory=dict)  # why each case scored so, per metric
    errors: dict[str, list[str | None]] = field(default_factory=dict)  # how scoring failed on a case, per metric

    def add(self, item: Item, prediction: Prediction) -> None:
        """One more case of this column, with the input it was asked."""
        self.cases.append(item.case)
        self.predictions.append(prediction)
        layout = "\n\n".join(f"{m.role}:\n{m.content}" for m in item.messages)
        self.inputs.append(layout if self.label.startswith(FORMAT) else item.case.vars)


def chunks(tasks: Iterable[Task], size: int) -> Iterator[list[Task]]:
    """The tasks in order, cut into runs whose first rounds hold at least ``size`` requests (the last one fewer)."""
    chunk: list[Task] = []
    count = 0
    for task in tasks:
        chunk.append(task)
        count += len(task.variant.requests(task.item, []) or ())
        if count >= size:
            yield chunk
            chunk, count = [], 0
    if chunk:
        yield chunk


def play(suite: Suite, tasks: Sequence[Task], generators: Mapping[str, Generator]) -> None:
    """Every round of every task, each round's requests of one model sent together."""
    while next_round := _next_round(tasks):
        for name, rounds in by_model(next_round, generators):
            answered = iter(generators[name](*requests(suite, rounds)))
            for task, reqs in rounds:
                pairs = [next(answered) for _ in reqs]
                task.history.append([g for _, g in pairs])
                task.keys.extend(k for k, _ in pairs)


def check(suite: Suite, tasks: Sequence[Task], generators: Mapping[str, Generator]) -> None:
    """Refuse a first-round prompt that does not fit its model's context, before anything runs; for a conversation
    not yet answered, its longest turn (``conversation.longest_requests``)."""
    for name, rounds in by_model(_next_round(tasks), generators):
        generator = generators[name]
        generator.check(*requests(suite, rounds))
        talks = [(t, first, reqs) for t, first in rounds if (reqs := longest_requests(t.variant, t.item))]
        stored = iter(generator.stored([r for _, first, _ in talks for r in first]))
        if longest := [(t, reqs) for t, first, reqs in talks if not all([next(stored) for _ in first])]:
            generator.check(*requests(suite, longest))


def by_model(rounds: Round, models: Mapping[str, Any]) -> list[tuple[str, Round]]:
    """A round's requests split by the model of their arm, model by model, leaving out models with none."""
    return [(name, part) for name in models if (part := [r for r in rounds if r[0].arm.model == name])]


def _next_round(tasks: Sequence[Task]) -> Round:
    """The tasks that want another round, with its requests."""
    return [(task, reqs) for task in tasks if (reqs := task.variant.requests(task.item, task.history))]


def requests(suite: Suite, rounds: Round) -> tuple[list[GenerationRequest], list[str]]:
    """A round's requests, flat, and the place of each one's case (for error messages)."""
    return [r for _, reqs in rounds for r in reqs], [task.place(suite) for task, reqs in rounds for _ in reqs]


def reduce(tasks: Sequence[Task]) -> dict[tuple[int, str], tuple[list[Task], Column]]:
    """The chunk's predictions, grouped by (arm, column) in task order, each group a column of its own."""
    parts: dict[tuple[int, str], tuple[list[Task], Column]] = {}
    for task in tasks:
        prediction = task.variant.reduce(task.item, task.history)
        prediction = dataclasses.replace(prediction, latency_s=case_latency(task.history))
        group, column = parts.setdefault((id(task.arm), task.column), ([], Column(task.column)))
        group.append(task)
        column.add(task.item, prediction)
    return parts


def result_rows(run_id: str, suite: Suite, tasks: Sequence[Task], column: Column) -> Iterator[ResultRow]:
    """One stored row per task, with the size of each of its rounds, to rebuild its latency.

    A perturbed or reformatted case is stored under its column's label, with its input in the details.
    """
    for i, (task, pred) in enumerate(zip(tasks, column.predictions, strict=True)):
        version, arm = task.arm.version, task.arm
        extra: dict[str, Any] = {"input": column.inputs[i]} if task.column else {}
        for key, per_metric in (("reasons", column.reasons), ("errors", column.errors)):
            if found := {m: v[i] for m, v in per_metric.items() if v[i] is not None}:
                extra[key] = found
        yield ResultRow(
            run_id=run_id,
            suite=suite.name,
            prompt=version.name,
            version=version.label,
            commit_sha=version.commit,
            blob=version.blob,
            variant=arm.variant.name,
            model=arm.model,
            case_id=task.item.case.id,
            perturbation=task.column,
            output=pred.output,
            answer=pred.answer,
            confidence=pred.confidence,
            reasoning=pred.reasoning,
            details={**pred.details, **extra},
            rounds=[len(r) for r in task.history],
            generation_keys=list(task.keys),
            scores={m: s[i] for m, s in column.scores.items()},
        )
