"""Scoring a chunk: every prediction of its columns with every metric of the suite, through the score cache, so
that only what changed since an earlier run is scored again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from promptarena.metrics import ScoringContext, metric_scores

if TYPE_CHECKING:
    from promptarena.generator import ProgressFn
    from promptarena.rounds import Column
    from promptarena.suite import Suite


def score(suite: Suite, columns: Sequence[Column], context: ScoringContext, progress: ProgressFn | None) -> None:
    """Score every prediction of these columns with every metric, from the score cache of ``context.results``
    where it can; each column gets every metric's values, reasons and errors, per case in its order."""
    pairs = [(col, i) for col in columns for i in range(len(col.predictions))]
    predictions = [col.predictions[i] for col, i in pairs]
    cases = [col.cases[i] for col, i in pairs]
    for spec in suite.metrics:
        metric = suite.metric(spec.name)
        options = metric.validate_options(spec.options)
        salt = metric.cache_salt(options, context) if metric.cache_salt else None
        scored = metric_scores(metric, spec.options, options, salt, predictions, cases, context, progress)
        for col in columns:
            for per_metric in (col.scores, col.reasons, col.errors):
                per_metric[spec.name] = [None] * len(col.predictions)
        for (col, i), s in zip(pairs, scored, strict=True):
            col.scores[spec.name][i] = s.value
            col.reasons[spec.name][i] = s.reason
            col.errors[spec.name][i] = s.error
