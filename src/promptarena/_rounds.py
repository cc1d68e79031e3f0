"""The engine's rounds, a chunk of tasks at a time: generate, reduce, score, store, and forget the outputs.

A chunk is a run of (arm, column, case) tasks whose first rounds hold about ``chunk_size`` requests, enough
to keep a batched backend full. Its tasks play every round of their variant, become predictions, are scored
and written to the results store as rows; only the scores and per-arm token and time totals stay in memory.
Reports that need outputs read them back from the store (``store.StoredPredictions``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptarena.backends import Backend, check_context
from promptarena.clock import WALL_CLOCK, Clock
from promptarena.hashing import content_hash
from promptarena.holistic import Column
from promptarena.metrics import Metric, Score, ScoringContext
from promptarena.plan import Arm
from promptarena.store import ResultsStore
from promptarena.store._predictions import ROUNDS
from promptarena.suite import Spec, Suite
from promptarena.types import Case, Generation, GenerationRequest, Prediction, case_latency
from promptarena.variants import Item, Variant

ProgressFn = Callable[[str, int, int], None]  # (phase, done, total)
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
class Throughput:
    """An arm's completion tokens generated in this run and the span they were generated in."""

    tokens: int = 0
    fresh: int = 0
    start: float = float("inf")
    end: float = float("-inf")

    def add(self, tasks: Sequence[Task], spans: Mapping[str, tuple[float, float]]) -> None:
        """Count the generations these tasks got from this chunk's generating (each key once)."""
        fresh = {k: g for t in tasks for k, g in zip(t.keys, (g for r in t.history for g in r), strict=True)}
        fresh = {k: g for k, g in fresh.items() if k in spans}
        if fresh:
            self.fresh += len(fresh)
            self.tokens += sum(g.completion_tokens for g in fresh.values())
            self.start = min(self.start, *(spans[k][0] for k in fresh))
            self.end = max(self.end, *(spans[k][1] for k in fresh))

    @property
    def per_s(self) -> float:
        span = self.end - self.start
        return self.tokens / span if self.fresh and span > 0 else float("nan")


class Generator:
    """Answers rounds of requests from the cache, generating only the misses, storing as they arrive."""

    def __init__(
        self, backend: Backend, results: ResultsStore, progress: ProgressFn | None, clock: Clock = WALL_CLOCK
    ) -> None:
        self.backend = backend
        self.clock = clock  # what load, generation and the generations' spans are timed on
        self.results = results
        self.progress = progress
        self.generated = self.cached = self.generated_tokens = 0
        self.generation_s = self.load_s = 0.0
        self.spans: dict[str, tuple[float, float]] = {}  # key -> (admitted, finished), generated in this chunk
        self._fits: set[str] = set()  # keys whose prompts were checked against the context
        self.made: set[str] = set()  # keys generated in this run: an earlier chunk's are not counted as cached

    def __call__(self, requests: Sequence[GenerationRequest], places: Sequence[str]) -> list[tuple[str, Generation]]:
        """Each request's generation with its cache key; ``places`` name each request's case for errors."""
        keys = self._keys(requests)
        found = self.results.cached_generations(keys)
        missing = self._missing(keys, found, requests, places)
        self.cached += len({k for k in found if k not in self.made})
        if missing:
            self._generate([(key, request) for key, (request, _) in missing.items()], found)
        return [(key, found[key]) for key in keys]

    def check(self, requests: Sequence[GenerationRequest], places: Sequence[str]) -> None:
        """Refuse prompts of the cache misses that do not fit the model's context (reads keys only)."""
        keys = self._keys(requests)
        self._missing(keys, self.results.cached_keys(keys), requests, places)

    def take_spans(self) -> dict[str, tuple[float, float]]:
        """The spans of the generations made since the last call, forgotten here."""
        spans, self.spans = self.spans, {}
        return spans

    def _keys(self, requests: Sequence[GenerationRequest]) -> list[str]:
        fingerprint = self.backend.fingerprint
        return [r.key(fingerprint) for r in requests]

    def _missing(
        self, keys: list[str], found: Iterable[str], requests: Sequence[GenerationRequest], places: Sequence[str]
    ) -> dict[str, tuple[GenerationRequest, str]]:
        found = set(found)
        missing: dict[str, tuple[GenerationRequest, str]] = {}
        for key, request, place in zip(keys, requests, places, strict=True):
            if key not in found:
                missing.setdefault(key, (request, place))
        check_context(self.backend, [todo for key, todo in missing.items() if key not in self._fits])
        self._fits.update(missing)
        return missing

    def _generate(self, todo: list[tuple[str, GenerationRequest]], found: dict[str, Generation]) -> None:
        fingerprint = self.backend.fingerprint
        if self.progress:
            self.progress("load model", 0, 1)
        start = self.clock.now()
        self.backend.load()
        self.load_s += self.clock.now() - start
        buffer: list[tuple[str, str, dict[str, Any], Generation]] = []
        last_flush = time.monotonic()
        start = self.clock.now()
        done = 0
        if self.progress:
            self.progress("generate", 0, len(todo))
        try:
            for index, generation in self.backend.generate([r for _, r in todo]):
                key, request = todo[index]
                now = self.clock.now()
                self.spans[key] = (now - generation.latency_s, now)
                found[key] = generation
                self.made.add(key)
                buffer.append((key, fingerprint, dataclasses.asdict(request), generation))
                done += 1
                self.generated_tokens += generation.completion_tokens
                if len(buffer) >= 64 or time.monotonic() - last_flush > 1.0:
                    self.results.put_generations(buffer)
                    buffer.clear()
                    last_flush = time.monotonic()
                if self.progress:
                    self.progress("generate", done, len(todo))
        finally:
            # what was generated before a failure or an interrupt is kept, so a rerun resumes from it
            if buffer:
                self.results.put_generations(buffer)
        self.generated += done
        self.generation_s += self.clock.now() - start


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
    """Refuse a first-round prompt that does not fit its model's context, before anything runs."""
    for name, rounds in by_model(_next_round(tasks), generators):
        generators[name].check(*requests(suite, rounds))


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


def _score_key(metric: Metric, spec: Spec, salt: Any, prediction: Prediction, case: Case) -> str:
    """What a case's score depends on: the metric, its options and salt, the prediction and the case (its
    assertions only for a metric that reads them, so that editing them rescores nothing else)."""
    return content_hash(
        {
            "metric": metric.name,
            "version": metric.version,
            "options": spec.options,
            "salt": salt,
            "answer": prediction.answer,
            "output": prediction.output,
            "confidence": prediction.confidence,
            "latency": prediction.latency_s,
            "tokens": [prediction.prompt_tokens, prediction.completion_tokens],
            "references": case.references,
            "vars": case.vars,
            **({"assertions": case.assertions} if metric.needs_assertions else {}),
            # what else the case holds (its rubric), but not where it is written; only when it holds something
            **({"meta": meta} if (meta := {k: v for k, v in case.meta.items() if k != "where"}) else {}),
        }
    )


def score(
    results: ResultsStore,
    suite: Suite,
    columns: Sequence[Column],
    context: ScoringContext,
    progress: ProgressFn | None,
) -> None:
    """Score every prediction of these columns with every metric, from the score cache when it can.

    Each column gets every metric's values, reasons and errors, per case in its order.
    """
    pairs = [(col, i) for col in columns for i in range(len(col.predictions))]
    for spec in suite.metrics:
        metric = suite.metric(spec.name)
        options = metric.validate_options(spec.options)
        salt = metric.cache_salt(options, context) if metric.cache_salt else None
        keys = [_score_key(metric, spec, salt, col.predictions[i], col.cases[i]) for col, i in pairs]
        scored = results.scores_through(metric.name, keys, _scorer(metric, options, pairs, context, progress))
        for col in columns:
            for per_metric in (col.scores, col.reasons, col.errors):
                per_metric[spec.name] = [None] * len(col.predictions)
        for (col, i), s in zip(pairs, scored, strict=True):
            col.scores[spec.name][i] = s.value
            col.reasons[spec.name][i] = s.reason
            col.errors[spec.name][i] = s.error


def _scorer(
    metric: Metric,
    options: dict[str, Any],
    pairs: Sequence[tuple[Column, int]],
    context: ScoringContext,
    progress: ProgressFn | None,
) -> Callable[[list[int]], list[Score]]:
    """Scores the pairs at the indices it is given, for the score cache's misses."""

    def compute(todo: list[int]) -> list[Score]:
        if progress:
            progress(f"score {metric.name}", 0, len(todo))
        picked = [pairs[j] for j in todo]
        predictions = [col.predictions[i] for col, i in picked]
        scored = metric.score_batch(predictions, [col.cases[i] for col, i in picked], options, context)
        if progress:
            progress(f"score {metric.name}", len(todo), len(todo))
        return scored

    return compute


def result_rows(run_id: str, suite: Suite, tasks: Sequence[Task], column: Column) -> Iterator[dict[str, Any]]:
    """One stored row per task; its details keep the generations per round, to rebuild its latency.

    A perturbed or reformatted case is stored under its column's label, with its input in the details.
    """
    for i, (task, pred) in enumerate(zip(tasks, column.predictions, strict=True)):
        v, arm = task.arm.version, task.arm
        extra = {"input": column.inputs[i]} if task.column else {}
        for key, per_metric in (("reasons", column.reasons), ("errors", column.errors)):
            if found := {m: v[i] for m, v in per_metric.items() if v[i] is not None}:
                extra[key] = found
        sizes = [len(r) for r in task.history]
        yield {
            "run_id": run_id,
            "suite": suite.name,
            "prompt": v.name,
            "version": v.label,
            "commit_sha": v.commit,
            "blob": v.blob,
            "variant": arm.variant.name,
            "model": arm.model,
            "case_id": task.item.case.id,
            "perturbation": task.column,
            "output": pred.output,
            "answer": pred.answer,
            "confidence": pred.confidence,
            "reasoning": pred.reasoning,
            "details": json.dumps({**pred.details, ROUNDS: sizes, **extra}, ensure_ascii=False),
            "generation_keys": json.dumps(task.keys),
            "scores": json.dumps({m: s[i] for m, s in column.scores.items()}),
        }
