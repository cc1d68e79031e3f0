"""The evaluation engine: plan -> cache lookup -> batched generation of the misses -> variants -> metrics.

`run_suite` is the one entry point; the CLI, the UI and the CI gate all call it. Everything that can be
wrong with the input (suite, prompt versions, variables) fails before the first model call and before
anything is written; generations are stored as they arrive, so a killed run resumes where it stopped.
A prompt that with its ``max_new_tokens`` does not fit the model's context is bad input too, refused
before the first model call (unless the suite's model sets ``truncate: left``).

Latency and throughput in a batched engine:

* a generation's latency runs from its admission into the backend's batch to its last token (the
  end-to-end latency of serving systems; see ``promptarena.backends``);
* a case's latency runs from its first request's admission to its last answer: the generations of one
  round (e.g. self-consistency samples) run concurrently, rounds (the judge's candidates, then its
  verdict) one after another, so it is the sum over rounds of each round's slowest generation;
* an arm's throughput is the completion tokens generated for it in this run over the span in which they
  were generated (from the first one's admission to the last one's finish); arms sharing batches share
  that time, so it is the rate the arm saw, not the hardware's total. NaN when everything was cached.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptarena.backends import Backend, check_context, get_backend
from promptarena.energy import measure_energy
from promptarena.errors import PromptArenaError
from promptarena.feedback import arm_feedback
from promptarena.gitstore import PromptStore, PromptVersion
from promptarena.hashing import content_hash
from promptarena.holistic import Column, HolisticRow, expand_items, summarize_holistic, toxicity_scorer
from promptarena.metrics import Metric, get_metric
from promptarena.plan import Arm, make_arms, model_options, select_versions
from promptarena.provenance import model_label, peak_memory_mb, provenance
from promptarena.report.json import summary_json
from promptarena.stats import Interval, mean_ci, percentile
from promptarena.store import ResultsStore
from promptarena.suite import Spec, Suite
from promptarena.types import Case, Generation, GenerationRequest, GenParams, Prediction, case_latency
from promptarena.variants import Item, Variant, make_variant

ProgressFn = Callable[[str, int, int], None]  # (phase, done, total)
ROUNDS = "rounds"  # key of a stored result's details: generations per round, in generation_keys order


@dataclass
class ArmResult:
    arm: Arm
    predictions: list[Prediction]  # aligned with suite.cases
    scores: dict[str, list[float | None]]  # metric -> per case, aligned with suite.cases
    summary: dict[str, Interval] = field(default_factory=dict)
    latency_p50: float = float("nan")  # per case, seconds (see the module docstring)
    latency_p95: float = float("nan")
    tokens_per_s: float = float("nan")  # the arm's throughput in this run; NaN when all was cached
    mean_output_tokens: float = float("nan")
    perturbed: dict[str, Column] = field(default_factory=dict)  # perturbation or layout -> its predictions
    holistic: HolisticRow | None = None


@dataclass
class SuiteResult:
    suite: Suite
    run_id: str
    arms: list[ArmResult]
    model: str
    generated: int  # generations made in this run
    cached: int  # generations found in the results store
    generated_tokens: int
    generation_s: float
    wall_s: float
    load_s: float = 0.0
    peak_memory_mb: float = float("nan")
    energy_j: float | None = None  # joules while generating; None: the hardware has no counter this can read
    energy_sources: tuple[str, ...] = ()

    def arm(self, label: str) -> ArmResult:
        return next(a for a in self.arms if a.arm.label == label)


def _params(base: Any, overrides: dict[str, Any]) -> GenParams:
    values = {
        "max_new_tokens": base.max_new_tokens,
        "temperature": base.temperature,
        "top_p": base.top_p,
        "stop": tuple(base.stop),
    }
    values.update({k: (tuple(v) if k == "stop" else v) for k, v in overrides.items()})
    return GenParams(**values)


def _score_key(metric: Metric, spec: Spec, prediction: Prediction, case: Any) -> str:
    return content_hash(
        {
            "metric": metric.name,
            "version": metric.version,
            "options": spec.options,
            "answer": prediction.answer,
            "output": prediction.output,
            "confidence": prediction.confidence,
            "latency": prediction.latency_s,
            "tokens": [prediction.prompt_tokens, prediction.completion_tokens],
            "references": case.references,
            "vars": case.vars,
        }
    )


class _Generator:
    """Answers rounds of requests from the cache, generating only the misses, storing as they arrive."""

    def __init__(self, backend: Backend, results: ResultsStore, progress: ProgressFn | None) -> None:
        self.backend = backend
        self.results = results
        self.progress = progress
        self.generated = self.cached = self.generated_tokens = 0
        self.generation_s = self.load_s = 0.0
        self.spans: dict[str, tuple[float, float]] = {}  # key -> (admitted, finished), generated in this run
        self._fits: set[str] = set()  # keys whose prompts were checked against the context

    def __call__(self, requests: Sequence[GenerationRequest], places: Sequence[str]) -> list[tuple[str, Generation]]:
        """Each request's generation with its cache key; ``places`` name each request's case for errors."""
        keys, found, missing = self._lookup(requests, places)
        self.cached += len(set(keys)) - len(missing)
        if missing:
            self._generate([(key, request) for key, (request, _) in missing.items()], found)
        return [(key, found[key]) for key in keys]

    def check(self, requests: Sequence[GenerationRequest], places: Sequence[str]) -> None:
        """Refuse prompts of the cache misses that do not fit the model's context (reads only)."""
        self._lookup(requests, places)

    def _lookup(
        self, requests: Sequence[GenerationRequest], places: Sequence[str]
    ) -> tuple[list[str], dict[str, Generation], dict[str, tuple[GenerationRequest, str]]]:
        fingerprint = self.backend.fingerprint
        keys = [r.key(fingerprint) for r in requests]
        found = self.results.cached_generations(keys)
        missing: dict[str, tuple[GenerationRequest, str]] = {}
        for key, request, place in zip(keys, requests, places, strict=True):
            if key not in found:
                missing.setdefault(key, (request, place))
        check_context(self.backend, [todo for key, todo in missing.items() if key not in self._fits])
        self._fits.update(missing)
        return keys, found, missing

    def _generate(self, todo: list[tuple[str, GenerationRequest]], found: dict[str, Generation]) -> None:
        fingerprint = self.backend.fingerprint
        if self.progress:
            self.progress("load model", 0, 1)
        start = time.perf_counter()
        self.backend.load()
        self.load_s += time.perf_counter() - start
        buffer: list[tuple[str, str, dict[str, Any], Generation]] = []
        last_flush = time.monotonic()
        start = time.perf_counter()
        done = 0
        if self.progress:
            self.progress("generate", 0, len(todo))
        try:
            for index, generation in self.backend.generate([r for _, r in todo]):
                key, request = todo[index]
                now = time.perf_counter()
                self.spans[key] = (now - generation.latency_s, now)
                found[key] = generation
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
        self.generation_s += time.perf_counter() - start


def arm_throughput(tasks: Sequence[_Task], spans: dict[str, tuple[float, float]]) -> float:
    """Completion tokens generated in this run for these tasks over the span they were generated in."""
    fresh = {
        key: generation
        for task in tasks
        for key, generation in zip(task.keys, (g for round_ in task.history for g in round_), strict=True)
        if key in spans
    }
    if not fresh:
        return float("nan")
    span = max(spans[k][1] for k in fresh) - min(spans[k][0] for k in fresh)
    return sum(g.completion_tokens for g in fresh.values()) / span if span > 0 else float("nan")


def _score(
    results: ResultsStore, suite: Suite, arms: list[tuple[Sequence[Case], Any]], progress: ProgressFn | None
) -> None:
    """Score every prediction of each (cases, arm or column) with every metric, from the score cache when it can."""
    cases_of = {id(arm): cases for cases, arm in arms}
    for spec in suite.metrics:
        metric = get_metric(spec.name)
        options = metric.validate_options(spec.options)
        keyed = [
            (arm, i, _score_key(metric, spec, pred, cases[i]))
            for cases, arm in arms
            for i, pred in enumerate(arm.predictions)
        ]
        cached = results.cached_scores(k for _, _, k in keyed)
        todo = [(arm, i, k) for arm, i, k in keyed if k not in cached]
        if todo:
            if progress:
                progress(f"score {metric.name}", 0, len(todo))
            unique = list({k: (arm, i) for arm, i, k in todo}.items())
            values = metric.score(
                [arm.predictions[i] for _, (arm, i) in unique],
                [cases_of[id(arm)][i] for _, (arm, i) in unique],
                options,
            )
            results.put_scores([(k, metric.name, v) for (k, _), v in zip(unique, values, strict=True)])
            cached.update({k: v for (k, _), v in zip(unique, values, strict=True)})
            if progress:
                progress(f"score {metric.name}", len(todo), len(todo))
        for _, arm in arms:
            arm.scores[spec.name] = [None] * len(arm.predictions)
        for arm, i, k in keyed:
            arm.scores[spec.name][i] = cached[k]


def summarize_arm(suite: Suite, arm: ArmResult) -> None:
    """Each metric's mean with its interval, and the arm's per-case latency and output length."""
    for spec in suite.metrics:
        metric = get_metric(spec.name)
        values = [v for v in arm.scores[spec.name] if v is not None]
        arm.summary[spec.name] = mean_ci(values, kind=metric.kind, bounds=metric.range)
    # an arm rebuilt from stored results may lack generations whose rows are gone: no latency to count
    latencies = [p.latency_s for p in arm.predictions if p.generations]
    arm.latency_p50 = percentile(latencies, 50)
    arm.latency_p95 = percentile(latencies, 95)
    if arm.predictions:
        arm.mean_output_tokens = sum(p.completion_tokens for p in arm.predictions) / len(arm.predictions)


def run_suite(
    suite: Suite,
    store: PromptStore,
    results: ResultsStore,
    *,
    versions: Sequence[PromptVersion] | None = None,
    variants: Sequence[Spec] | None = None,
    arms: Sequence[Arm] | None = None,
    backend: Backend | Mapping[str, Backend] | None = None,
    progress: ProgressFn | None = None,
) -> SuiteResult:
    """Evaluate a suite's arms on its cases and store everything.

    The arms are ``arms`` when given, else versions x variants (by default the suite's own) x models.
    ``backend`` serves every arm, or maps model names to backends; the others are built from the suite.
    """
    wall = time.perf_counter()
    if arms is None:
        arms = make_arms(suite, versions if versions is not None else select_versions(suite, store), variants)
    arms = list(arms)
    versions = list({a.version.label: a.version for a in arms}.values())
    variant_specs = list({id(a.variant): a.variant for a in arms}.values())

    # Everything that can be wrong with the input fails here, before any model call or write.
    rendered: dict[str, list[Item]] = {}
    for version in versions:
        prompt = store.load(version)
        params = _params(prompt.parameters, suite.parameters)
        items = [Item(c, prompt.render(c.vars, c.id), params, suite.seed, prompt.answer) for c in suite.cases]
        rendered[version.label] = [("", item) for item in items] + expand_items(suite, items, prompt.render)
    made: dict[int, Variant] = {id(s): make_variant(s.name, s.options) for s in variant_specs}
    backends = _backends(suite, arms, backend)
    generators = {name: _Generator(b, results, progress) for name, b in backends.items()}
    tasks = [_Task(arm, made[id(arm.variant)], it, col) for arm in arms for col, it in rendered[arm.version.label]]
    for name, rounds in _by_model(_next_round(tasks), generators):  # too long a prompt: refused before the run
        generators[name].check(*_requests(suite, rounds))
    scorer = toxicity_scorer(suite, results)
    run_id = results.start_run(suite.name, suite.prompt, provenance(suite, arms, backends, store, scorer))
    try:
        with measure_energy() as energy:
            while next_round := _next_round(tasks):
                for name, rounds in _by_model(next_round, generators):
                    answered = iter(generators[name](*_requests(suite, rounds)))
                    for task, reqs in rounds:
                        pairs = [next(answered) for _ in reqs]
                        task.history.append([g for _, g in pairs])
                        task.keys.extend(k for k, _ in pairs)
        gens = list(generators.values())
        spans = {key: span for g in gens for key, span in g.spans.items()}
        arm_results = [ArmResult(arm, [], {}) for arm in arms]
        by_arm = {id(a.arm): a for a in arm_results}
        for task in tasks:
            prediction = task.variant.reduce(task.item, task.history)
            prediction = dataclasses.replace(prediction, latency_s=case_latency(task.history))
            arm_result = by_arm[id(task.arm)]
            if task.column:
                arm_result.perturbed.setdefault(task.column, Column(task.column)).add(task.item, prediction)
            else:
                arm_result.predictions.append(prediction)
        columns = [(c.cases, c) for a in arm_results for c in a.perturbed.values()]
        _score(results, suite, [(suite.cases, a) for a in arm_results] + columns, progress)
        for arm_result in arm_results:
            summarize_arm(suite, arm_result)
            arm_result.holistic = summarize_holistic(suite, arm_result, scorer)
            arm_result.tokens_per_s = arm_throughput([t for t in tasks if t.arm is arm_result.arm], spans)
            arm = arm_result.arm
            arm_result.summary.update(arm_feedback(results, suite.name, arm.version.blob, arm.variant.name))
        outcome = SuiteResult(
            suite=suite,
            run_id=run_id,
            arms=arm_results,
            model=model_label(backends),
            generated=sum(g.generated for g in gens),
            cached=sum(g.cached for g in gens),
            generated_tokens=sum(g.generated_tokens for g in gens),
            generation_s=sum(g.generation_s for g in gens),
            load_s=sum(g.load_s for g in gens),
            wall_s=time.perf_counter() - wall,
            peak_memory_mb=peak_memory_mb(),
            energy_j=energy.joules,
            energy_sources=energy.sources,
        )
        rounds = {(id(t.arm), t.column, t.item.case.id): (t.keys, [len(r) for r in t.history]) for t in tasks}
        results.finish_run(run_id, "completed", _result_rows(outcome, rounds), summary_json(outcome))
        return outcome
    except BaseException as err:
        status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
        detail = str(err) if isinstance(err, PromptArenaError) else repr(err)
        results.finish_run(run_id, status, [], {"error": detail})
        raise


Round = list[tuple["_Task", list[GenerationRequest]]]


def _backends(suite: Suite, arms: Sequence[Arm], given: Backend | Mapping[str, Backend] | None) -> dict[str, Backend]:
    """One backend per model the arms name: the one given for all, the mapping's, or built from the suite's options."""
    out: dict[str, Backend] = {}
    for name in dict.fromkeys(a.model for a in arms):
        if given is not None and not isinstance(given, Mapping):
            out[name] = given
        elif given is not None and name in given:
            out[name] = given[name]
        else:
            options = model_options(suite, name)
            out[name] = get_backend(options.pop("backend", "transformers"), **options)
    return out


def _by_model(rounds: Round, models: Mapping[str, Any]) -> list[tuple[str, Round]]:
    """A round's requests split by the model of their arm, model by model, leaving out models with none."""
    return [(name, part) for name in models if (part := [r for r in rounds if r[0].arm.model == name])]


def _next_round(tasks: Sequence[_Task]) -> Round:
    """The tasks that want another round, with its requests."""
    return [(task, reqs) for task in tasks if (reqs := task.variant.requests(task.item, task.history))]


def _requests(
    suite: Suite, rounds: list[tuple[_Task, list[GenerationRequest]]]
) -> tuple[list[GenerationRequest], list[str]]:
    """A round's requests, flat, and the place of each one's case (for error messages)."""
    return [r for _, reqs in rounds for r in reqs], [task.place(suite) for task, reqs in rounds for _ in reqs]


@dataclass
class _Task:
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


def _result_rows(
    outcome: SuiteResult, rounds: dict[tuple[int, str, str], tuple[list[str], list[int]]]
) -> list[dict[str, Any]]:
    """One stored row per (arm, column, case); its details keep the generations per round, to rebuild its latency.

    A perturbed or reformatted case is stored under its column's label, with its input in the details.
    """
    rows = []
    for arm in outcome.arms:
        v = arm.arm.version
        columns = [("", outcome.suite.cases, arm.predictions, arm.scores, None)]
        columns += [(c.label, c.cases, c.predictions, c.scores, c.inputs) for c in arm.perturbed.values()]
        for label, cases, predictions, scores, inputs in columns:
            for i, (case, pred) in enumerate(zip(cases, predictions, strict=True)):
                keys, sizes = rounds[(id(arm.arm), label, case.id)]
                details = {**pred.details, ROUNDS: sizes, **({"input": inputs[i]} if inputs else {})}
                rows.append(
                    {
                        "run_id": outcome.run_id,
                        "suite": outcome.suite.name,
                        "prompt": v.name,
                        "version": v.label,
                        "commit_sha": v.commit,
                        "blob": v.blob,
                        "variant": arm.arm.variant.name,
                        "model": arm.arm.model,
                        "case_id": case.id,
                        "perturbation": label,
                        "output": pred.output,
                        "answer": pred.answer,
                        "confidence": pred.confidence,
                        "reasoning": pred.reasoning,
                        "details": json.dumps(details, ensure_ascii=False),
                        "generation_keys": json.dumps(keys),
                        "scores": json.dumps({m: s[i] for m, s in scores.items()}),
                    }
                )
    return rows
