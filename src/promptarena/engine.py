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

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from promptarena import response_format
from promptarena.backends import Backend, get_backend
from promptarena.clock import WALL_CLOCK, Clock
from promptarena.conversation import conversed, item_for, opening
from promptarena.energy import measure_energy
from promptarena.errors import Interrupted, PromptArenaError
from promptarena.generator import Generator, ProgressFn, Throughput
from promptarena.gitstore import PromptStore, PromptVersion
from promptarena.hashing import content_hash
from promptarena.holistic import (
    HolisticRow,
    bias_measurer,
    expand_items,
    holistic_json,
    summarize_holistic,
    toxicity_scorer,
)
from promptarena.metrics import ScoringContext
from promptarena.plan import Arm, make_arms, model_options, select_versions
from promptarena.provenance import model_label, peak_memory_mb, provenance
from promptarena.rounds import Column, Task, check, chunks, play, reduce, result_rows
from promptarena.scoring import score
from promptarena.stats import Interval, mean_ci, percentile
from promptarena.store import ArmRecord, ResultsStore, RunRecord, Stopped, StoredPredictions
from promptarena.suite import Spec, Suite
from promptarena.tools import check_cases
from promptarena.types import Generation, GenerationRequest, GenParams, Message, Prediction
from promptarena.variants import Item, Variant, make_variant

if TYPE_CHECKING:
    from promptarena.promptfile import PromptFile

__all__ = ["ArmResult", "ProgressFn", "SuiteResult", "run_suite", "summarize_arm"]
CHUNK = 4096
"""Requests of first rounds generated, scored and stored together: enough to keep a batched backend full."""


@dataclass
class ArmResult:
    arm: Arm
    predictions: Sequence[Prediction]  # aligned with suite.cases; after a run, read back from the store
    scores: dict[str, list[float | None]]  # metric -> per case, aligned with suite.cases
    summary: dict[str, Interval] = field(default_factory=dict)
    latency_p50: float = float("nan")  # per case, seconds (see the module docstring)
    latency_p95: float = float("nan")
    tokens_per_s: float = float("nan")  # the arm's throughput in this run; NaN when all was cached
    mean_output_tokens: float = float("nan")
    perturbed: dict[str, Column] = field(default_factory=dict)  # perturbation or layout -> its predictions
    holistic: HolisticRow | None = None
    errors: dict[str, int] = field(default_factory=dict)  # metric -> cases whose scoring failed (no score)
    first_error: dict[str, str] = field(default_factory=dict)  # metric -> the first such case and its error


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

    @cached_property
    def record(self) -> RunRecord:
        """The run's typed record: what the store keeps, and what the terminal, JSON and workbench read back."""
        return RunRecord(
            suite=self.suite.name,
            prompt=self.suite.prompt,
            run_id=self.run_id,
            model=self.model,
            cases=len(self.suite.cases),
            generated=self.generated,
            cached=self.cached,
            generated_tokens=self.generated_tokens,
            generation_s=self.generation_s,
            load_s=self.load_s,
            wall_s=self.wall_s,
            peak_memory_mb=self.peak_memory_mb,
            energy_j=self.energy_j,
            energy_sources=list(self.energy_sources),
            arms=[_arm_record(self.suite, arm) for arm in self.arms],
        )


def _arm_record(suite: Suite, arm: ArmResult) -> ArmRecord:
    v = arm.arm.version
    return ArmRecord(
        arm=arm.arm.label,
        version=v.label,
        commit=v.commit,
        blob=v.blob,
        dirty=v.dirty,
        message=v.message,
        variant=arm.arm.variant.name,
        model=arm.arm.model,
        metrics=dict(arm.summary),
        errors={s.name: arm.errors.get(s.name, 0) for s in suite.metrics},  # cases not scored
        first_error=dict(arm.first_error),
        latency_p50_s=arm.latency_p50,
        latency_p95_s=arm.latency_p95,
        tokens_per_s=arm.tokens_per_s,
        mean_output_tokens=arm.mean_output_tokens,
        holistic=holistic_json(arm.holistic) if arm.holistic else None,
    )


def _params(base: Any, overrides: dict[str, Any]) -> GenParams:
    values = {
        "max_new_tokens": base.max_new_tokens,
        "temperature": base.temperature,
        "top_p": base.top_p,
        "stop": tuple(base.stop),
        "tools": tuple(getattr(base, "tools", ())),
        "response_format": base.response_format,
    }
    convert = {"stop": tuple, "response_format": response_format.encode}
    values.update({k: convert.get(k, lambda v: v)(v) for k, v in overrides.items()})
    return GenParams(**values)


def summarize_arm(suite: Suite, arm: ArmResult) -> None:
    """Each metric's mean with its interval, and the arm's per-case latency and output length."""
    for spec in suite.metrics:
        metric = suite.metric(spec.name)
        values = [v for v in arm.scores[spec.name] if v is not None]
        arm.summary[spec.name] = mean_ci(values, kind=metric.kind, bounds=metric.range)
    latencies, tokens = [], 0
    for p in arm.predictions:  # one pass: after a run they are read back from the store
        tokens += p.completion_tokens
        if p.generations:  # an arm rebuilt from stored results may lack generations whose rows are gone
            latencies.append(p.latency_s)
    arm.latency_p50 = percentile(latencies, 50)
    arm.latency_p95 = percentile(latencies, 95)
    if arm.predictions:
        arm.mean_output_tokens = tokens / len(arm.predictions)


def run_suite(
    suite: Suite,
    prompts: PromptStore,
    results: ResultsStore,
    *,
    versions: Sequence[PromptVersion] | None = None,
    variants: Sequence[Spec] | None = None,
    arms: Sequence[Arm] | None = None,
    backend: Backend | Mapping[str, Backend] | None = None,
    progress: ProgressFn | None = None,
    chunk_size: int = CHUNK,
    clock: Clock = WALL_CLOCK,
) -> SuiteResult:
    """Evaluate a suite's arms on its cases and store everything.

    The arms are ``arms`` when given, else versions x variants (by default the suite's own) x models.
    ``backend`` serves every arm, or maps model names to backends; the others are built from the suite.
    Tasks run ``chunk_size`` first-round requests at a time, and only their scores stay in memory.
    Generations are timed on ``clock``, the one the backends measure latency on (real time by default).
    """
    wall = time.perf_counter()
    if arms is None:
        arms = make_arms(suite, versions if versions is not None else select_versions(suite, prompts), variants)
    arms = list(arms)
    versions = list({a.version.label: a.version for a in arms}.values())
    variant_specs = list({id(a.variant): a.variant for a in arms}.values())

    # Everything that can be wrong with the input fails here, before any model call or write.
    rendered: dict[str, list[tuple[str, Item]]] = {}
    by_id = {c.id: c for c in suite.cases}
    loaded = {version.label: prompts.load(version) for version in versions}
    check_cases(list(loaded.values()), suite.cases)
    tools = any(prompt.parameters.tools for prompt in loaded.values())
    for version in versions:
        prompt = loaded[version.label]
        params = _params(prompt.parameters, suite.parameters)
        every = suite.score_turns == "every"
        items = [
            item_for(prompt, c, Item(c, opening(prompt, c), params, suite.seed, prompt.answer), every)
            for c in suite.cases
        ]

        def render(vars: Mapping[str, Any], case_id: str, prompt: PromptFile = prompt) -> tuple[Message, ...]:
            return opening(prompt, by_id[case_id], vars)

        rendered[version.label] = [("", item) for item in items] + expand_items(suite, items, render)
    made: dict[int, Variant] = {id(s): make_variant(s.name, s.options) for s in variant_specs}
    backends = _backends(suite, arms, backend)
    generators = {name: Generator(b, results, progress, clock) for name, b in backends.items()}

    def tasks() -> Iterator[Task]:
        return (
            Task(arm, conversed(made[id(arm.variant)], it), it, col)
            for arm in arms
            for col, it in rendered[arm.version.label]
        )

    for chunk in chunks(tasks(), chunk_size):  # too long a prompt: refused before the run
        check(suite, chunk, generators)
    scorer, bias = toxicity_scorer(suite, results), bias_measurer(suite, results)
    context = scoring_context(suite, prompts, results, generators, progress)
    run_id = results.start_run(suite.name, suite.prompt, provenance(suite, arms, backends, prompts, scorer, tools))
    try:
        arm_results = [ArmResult(arm, [], {s.name: [] for s in suite.metrics}) for arm in arms]
        by_arm = {id(a.arm): a for a in arm_results}
        speed = {id(arm): Throughput() for arm in arms}
        gens = list(generators.values())
        with measure_energy() as energy:
            for chunk in chunks(tasks(), chunk_size):
                play(suite, chunk, generators)
                spans = {key: span for g in gens for key, span in g.take_spans().items()}
                for arm in arms:
                    speed[id(arm)].add([t for t in chunk if t.arm is arm], spans)
                _store_chunk(results, suite, run_id, by_arm, reduce(chunk), context, progress)
        for arm_result in arm_results:
            arm = arm_result.arm
            key = (arm.version.blob, arm.variant.name, arm.model)
            arm_result.predictions = StoredPredictions(results, run_id, key, suite.cases)
            summarize_arm(suite, arm_result)
            arm_result.holistic = summarize_holistic(suite, arm_result, scorer, bias)
            arm_result.tokens_per_s = speed[id(arm)].per_s
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
        results.finish_run(run_id, "completed", outcome.record)
        return outcome
    except BaseException as err:
        status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
        detail = str(err) if isinstance(err, PromptArenaError) else repr(err)
        if isinstance(err, KeyboardInterrupt):  # Ctrl-C, or a stop signal (its name, as the command says it)
            detail = f"interrupted by {err}" if isinstance(err, Interrupted) else "interrupted"
        gens = list(generators.values())  # what it did before it stopped: the rerun resumes from there
        generated, cached = sum(max(g.generated, len(g.made)) for g in gens), sum(g.cached for g in gens)
        results.finish_run(run_id, status, stopped=Stopped(detail, generated, cached, time.perf_counter() - wall))
        raise


def _store_chunk(
    results: ResultsStore,
    suite: Suite,
    run_id: str,
    by_arm: Mapping[int, ArmResult],
    parts: Mapping[tuple[int, str], tuple[list[Task], Column]],
    context: ScoringContext,
    progress: ProgressFn | None,
) -> None:
    """Score a chunk's predictions, write its result rows, and keep only the scores (and the perturbed cases)."""
    score(suite, [column for _, column in parts.values()], context, progress)
    for (arm_id, label), (tasks, column) in parts.items():
        results.put_results(result_rows(run_id, suite, tasks, column))
        arm = by_arm[arm_id]
        kept = arm.perturbed.setdefault(label, Column(label)) if label else None
        if kept is not None:
            kept.cases.extend(column.cases)
        for metric, values in column.scores.items():
            (kept.scores.setdefault(metric, []) if kept is not None else arm.scores[metric]).extend(values)
            if kept is None:
                failed = [(c.id, e) for c, e in zip(column.cases, column.errors[metric], strict=True) if e is not None]
                arm.errors[metric] = arm.errors.get(metric, 0) + len(failed)
                if failed:
                    arm.first_error.setdefault(metric, f"case {failed[0][0]!r}: {failed[0][1]}")


def scoring_context(
    suite: Suite,
    prompts: PromptStore,
    results: ResultsStore,
    generators: dict[str, Generator],
    progress: ProgressFn | None,
) -> ScoringContext:
    """The context of a run's metrics; ``generate`` keeps one cached generator per model it is asked for, on the
    backend of the arms' model where the options are that model's (a grader that is the suite's own model is
    loaded once)."""
    backends = {content_hash(model_options(suite, name)): g.backend for name, g in generators.items()}
    by_options: dict[str, Generator] = {}

    def generator(options: Mapping[str, Any]) -> Generator:
        key = content_hash(dict(options))
        if key not in by_options:
            rest = dict(options)
            backend = backends.get(key) or get_backend(rest.pop("backend", "transformers"), **rest)
            by_options[key] = Generator(backend, results, progress)
        return by_options[key]

    def generate(options: Mapping[str, Any], requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [g for _, g in generator(options)(requests, ["a grading request"] * len(requests))]

    return ScoringContext(
        root=prompts.workdir,
        prompts=prompts,
        results=results,
        generate=generate,
        fingerprint=lambda options: generator(options).backend.fingerprint,
    )


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
