"""Metrics: one frozen ``Metric`` holds everything about a metric, and ``metrics`` names them all.

Most metrics score predictions; their scoring functions live in ``metrics.text`` and ``metrics.semantic``
and are registered lazily, so importing this package is cheap: rouge-score, sacrebleu,
sentence-transformers and torch are imported only when a metric that needs them scores something (a fully
cached evaluation never does). ``thumbs_up`` is a metric whose values are people's votes in the results
store (``source="feedback"``): reported and gated like the others, never computed from an output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from promptarena.errors import ConfigError, did_you_mean
from promptarena.hashing import content_hash
from promptarena.registry import Registry
from promptarena.types import Case, Generation, GenerationRequest, Prediction

if TYPE_CHECKING:
    from promptarena.gitstore import PromptStore
    from promptarena.store import ResultsStore

__all__ = [
    "FactoryContext",
    "Metric",
    "MetricFactory",
    "Score",
    "ScoreFn",
    "ScoringContext",
    "as_score",
    "get_metric",
    "metric_factories",
    "metric_scores",
    "metrics",
    "scores_through_cache",
    "thumbs_up",
]


@dataclass(frozen=True)
class Score:
    """One case's score. ``value`` is ``None`` where the metric does not apply (or failed); ``reason`` says why
    it scored so (a judge's or a scorer's words, shown beside the output); ``error`` says that scoring this
    case failed, and how: such a case is counted and shown as an error, never as a score of 0."""

    value: float | None
    reason: str | None = None
    error: str | None = None


ScoreValue = float | bool | None | Score
ScoreFn = Callable[..., Sequence[ScoreValue]]
"""Scores a batch: ``fn(predictions, cases, options)`` (and ``context`` for a metric that ``needs_context``)
returns one value per (prediction, case) pair: a number, a bool, ``None`` (not applicable) or a ``Score``."""


def as_score(value: Any) -> Score:
    """A scoring function's value for one case as a ``Score``; raises ``TypeError`` for anything else."""
    if isinstance(value, Score):
        return value
    if value is None:
        return Score(None)
    if isinstance(value, bool):
        return Score(float(value))
    if isinstance(value, int | float) and value == value:  # NaN is no score
        return Score(float(value))
    raise TypeError(f"a score is a number, a bool, None or a Score, not {type(value).__name__} ({value!r})")


@dataclass
class ScoringContext:
    """What a metric that ``needs_context`` gets besides the predictions: the repository, the results store, and
    ``generate``, which answers requests with a model named by options as in a suite's ``model:`` (its
    ``backend`` and that backend's options) through the results store's cache and the backend's batching."""

    root: Path
    prompts: PromptStore
    results: ResultsStore
    generate: Callable[[Mapping[str, Any], Sequence[GenerationRequest]], list[Generation]]
    fingerprint: Callable[[Mapping[str, Any]], str] | None = None
    """The fingerprint of the model that ``generate`` answers with for these options (a grader's, for its cache
    salt), without loading it; ``None``: build the backend to ask it."""


OptionsCheck = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Metric:
    """Everything about one metric: where its values come from, how to read them, and their statistics.

    Attributes:
        name: The canonical name (aliases resolve to the same object).
        description: One sentence for reports and ``--help``.
        score: The batched scoring function (see ``ScoreFn``); ``None`` for a feedback metric.
        kind: ``"binary"`` for 0/1 pass/fail scores, else ``"continuous"``; picks the statistics (Wilson or t).
        higher_is_better: The direction of improvement; ``None`` for efficiency figures with none.
        range: The possible values, or ``None`` when unbounded.
        version: Bumped whenever scoring changes; part of the score cache key.
        options: The option names the metric accepts.
        check_options: Checks and normalizes options that passed the name check; raises ``ConfigError``.
        source: ``"prediction"``: scored from each case's prediction (a suite lists it under ``metrics:``);
            ``"feedback"``: people's votes on an arm's outputs (a suite may set a threshold on it).
        needs_reference: Compares the answer with the case's references, so a case without one scores nothing.
        needs_context: ``score`` takes a fourth argument, the run's ``ScoringContext`` (a metric that generates,
            or reads the repository).
        cache_salt: What else keys its scores in the score cache besides its name, version, options and the
            prediction, given the validated options and the context: a scorer's source hash, a grader's
            fingerprint and prompt blob. Must be JSON-serializable.
        needs_assertions: Scores the case's ``assert:`` list, so its scores are keyed by that list too.
        sources: Files of the repository its scores rest on (a scorer's source): `--baseline` evaluates a suite
            again when one of them changed since the base, as when its prompt or cases did.
    """

    name: str
    description: str
    score: ScoreFn | None
    kind: Literal["binary", "continuous"] = "continuous"
    higher_is_better: bool | None = True
    range: tuple[float, float] | None = (0.0, 1.0)
    version: int = 1
    options: tuple[str, ...] = ()
    check_options: OptionsCheck | None = None
    source: Literal["prediction", "feedback"] = "prediction"
    needs_reference: bool = False
    needs_context: bool = False
    cache_salt: Callable[[Mapping[str, Any], ScoringContext], Any] | None = None
    needs_assertions: bool = False
    sources: tuple[Path, ...] = ()

    def score_batch(
        self,
        predictions: Sequence[Prediction],
        cases: Sequence[Case],
        options: Mapping[str, Any],
        context: ScoringContext,
    ) -> list[Score]:
        """Score a batch as ``Score`` objects, passing the context to a metric that needs it."""
        assert self.score is not None, f"metric {self.name!r} is not scored from predictions"
        args = (predictions, cases, options, context) if self.needs_context else (predictions, cases, options)
        return [as_score(v) for v in self.score(*args)]

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return the options as a plain dict, or raise ``ConfigError`` saying what is wrong and the fix."""
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise ConfigError(
                f"options of metric {self.name!r} must be a mapping of names to values, not {type(options).__name__}."
            )
        for key in options:
            if key not in self.options:
                if not self.options:
                    raise ConfigError(f"metric {self.name!r} takes no options; remove {key!r}.")
                raise ConfigError(
                    f"metric {self.name!r} has no option {key!r}{did_you_mean(str(key), self.options)}; "
                    f"it takes: {', '.join(self.options)}."
                )
        checked = dict(options)
        return self.check_options(checked) if self.check_options else checked


def scores_through_cache(
    results: ResultsStore,
    name: str,
    identities: Sequence[Mapping[str, Any]],
    compute: Callable[[list[int]], Sequence[Score]],
) -> list[Score]:
    """Each item's score from the score cache, keyed by the content hash of its identity (all that the score rests
    on). ``compute`` gets the index of the first item of every identity not stored and returns their scores, which
    are stored under ``name``, failed ones excepted, so that they are scored again next time."""
    keys = [content_hash(dict(identity)) for identity in identities]
    found = results.cached_scores(keys)
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key not in found:
            first.setdefault(key, i)
    if first:
        computed = list(compute(list(first.values())))
        results.put_scores([(key, name, score) for key, score in zip(first, computed, strict=True)])
        found.update(zip(first, computed, strict=True))
    return [found[key] for key in keys]


def metric_scores(
    metric: Metric,
    written: Mapping[str, Any],
    options: Mapping[str, Any],
    salt: Any,
    predictions: Sequence[Prediction],
    cases: Sequence[Case],
    context: ScoringContext,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Score]:
    """A metric's score of each (prediction, case) through the score cache of ``context.results``, keyed by the
    options as ``written`` and the ``salt`` (its ``cache_salt``), scored with the validated ``options``;
    ``progress`` hears of the cases scored (phase ``score NAME``)."""

    def compute(todo: list[int]) -> list[Score]:
        if progress:
            progress(f"score {metric.name}", 0, len(todo))
        scored = metric.score_batch([predictions[i] for i in todo], [cases[i] for i in todo], options, context)
        if progress:
            progress(f"score {metric.name}", len(todo), len(todo))
        return scored

    identities = [_identity(metric, written, salt, p, c) for p, c in zip(predictions, cases, strict=True)]
    return scores_through_cache(context.results, metric.name, identities, compute)


def _identity(metric: Metric, written: Mapping[str, Any], salt: Any, prediction: Prediction, case: Case) -> dict:
    """What a case's score rests on: the metric, its options and salt, the prediction and the case (its assertions
    only for a metric that reads them, so that editing them rescores nothing else)."""
    meta = {k: v for k, v in case.meta.items() if k != "where"}  # what else the case holds (its rubric), not where
    return {
        "metric": metric.name,
        "version": metric.version,
        "options": written,
        "salt": salt,
        "answer": prediction.answer,
        "output": prediction.output,
        "confidence": prediction.confidence,
        "latency": prediction.latency_s,
        "tokens": [prediction.prompt_tokens, prediction.completion_tokens],
        "references": case.references,
        "vars": case.vars,
        **({"assertions": case.assertions} if metric.needs_assertions else {}),
        **({"tool_calls": calls} if (calls := [g.tool_calls for g in prediction.generations if g.tool_calls]) else {}),
        **({"meta": meta} if meta else {}),
    }


metrics: Registry[Metric] = Registry("metric", "promptarena.metrics", adapt="promptarena.scorers:plugin_entry")
"""Every metric a suite can name: the built-in ones, and those that installed packages add (entry points)."""

_TEXT = "promptarena.metrics.text"
for _name, _attr in [
    ("exact_match", "exact_match"),
    ("contains", "contains"),
    ("regex", "regex"),
    ("json_valid", "json_valid"),
    ("rouge1", "rouge1"),
    ("rouge2", "rouge2"),
    ("rougeL", "rouge_l"),
    ("rouge_l", "rouge_l"),
    ("rouge_1", "rouge1"),
    ("rouge_2", "rouge2"),
    ("bleu", "bleu"),
    ("chrf", "chrf"),
    ("latency_s", "latency_s"),
    ("latency", "latency_s"),
    ("prompt_tokens", "prompt_tokens"),
    ("completion_tokens", "completion_tokens"),
]:
    metrics.register(_name, f"{_TEXT}:{_attr}")
metrics.register("semantic_similarity", "promptarena.metrics.semantic:semantic_similarity")
metrics.register("tool_call_match", "promptarena.metrics.tool_calls:tool_call_match")
metrics.register("tool_call_f1", "promptarena.metrics.tool_calls:tool_call_f1")
del _name, _attr

thumbs_up = Metric(
    name="thumbs_up",
    description="Share of people's votes on the arm's outputs that are thumbs-up.",
    score=None,
    kind="binary",
    source="feedback",
)
"""People's votes, read from the results store by ``promptarena.feedback`` for every arm that has some."""
metrics.register(thumbs_up.name, thumbs_up)


@dataclass(frozen=True)
class FactoryContext:
    """Where a suite's metric entry is: the repository's top folder (paths in the entry are relative to it) and
    ``where``, the entry's place (``evals/qa.yaml:7: metrics[2]``) for messages; ``model``, the suite's model
    options as written (a grader's default), and ``cases``, the suite's cases, to check the entry against them
    before anything runs."""

    root: Path
    where: str
    model: Mapping[str, Any] = field(default_factory=dict)
    cases: Sequence[Case] = ()


MetricFactory = Callable[[Mapping[str, Any], FactoryContext], Metric]
"""Builds a suite's own metric from its entry, a mapping whose first key names the factory
(``{python: evals/scorers.py:polite, name: ...}``); raises ``ConfigError`` naming ``context.where``."""

metric_factories: Registry[MetricFactory] = Registry("kind of metric entry", "promptarena.metric_factories")
"""The keys of a suite's metric entries that build a metric of the suite's own (a scorer, a rubric judge)."""
metric_factories.register("python", "promptarena.scorers:python_metric")
metric_factories.register("rubric", "promptarena.judge:rubric_metric")


def get_metric(name: str) -> Metric:
    """Return the metric registered as ``name`` (or an alias), or raise ``ConfigError`` with a suggestion."""
    return metrics.get(name)
