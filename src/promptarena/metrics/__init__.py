"""Metrics: one frozen ``Metric`` holds everything about a metric, and ``metrics`` names them all.

Most metrics score predictions; their scoring functions live in ``metrics.text`` and ``metrics.semantic``
and are registered lazily, so importing this package is cheap: rouge-score, sacrebleu,
sentence-transformers and torch are imported only when a metric that needs them scores something (a fully
cached evaluation never does). ``thumbs_up`` is a metric whose values are people's votes in the results
store (``source="feedback"``): reported and gated like the others, never computed from an output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from promptarena.errors import ConfigError, did_you_mean
from promptarena.registry import Registry
from promptarena.types import Case, Prediction

__all__ = ["Metric", "ScoreFn", "get_metric", "metrics", "thumbs_up"]

ScoreFn = Callable[[Sequence[Prediction], Sequence[Case], Mapping[str, Any]], list[float | None]]
"""Scores a batch: one value per (prediction, case) pair, ``None`` where a needed reference is missing."""

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


metrics: Registry[Metric] = Registry("metric")

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


def get_metric(name: str) -> Metric:
    """Return the metric registered as ``name`` (or an alias), or raise ``ConfigError`` with a suggestion."""
    return metrics.get(name)
