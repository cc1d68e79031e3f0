"""Scoring a chunk: every prediction of its columns with every metric of the suite, through the score cache, so
that only what changed since an earlier run is scored again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from promptarena.metrics import Score, ScoringContext, metric_scores

if TYPE_CHECKING:
    from promptarena.generator import ProgressFn
    from promptarena.rounds import Column
    from promptarena.suite import Suite


def score(suite: Suite, columns: Sequence[Column], context: ScoringContext, progress: ProgressFn | None) -> None:
    """Score every prediction of these columns with every metric, from the score cache of ``context.results``
    where it can; each column gets every metric's values, reasons and errors, per case in its order."""
    pairs = [(col, i) for col in columns for i in range(len(col.predictions))]
    # a conversation scored on every turn is scored once per answer (``Prediction.turns``), then averaged
    units = [(n, turn) for n, (col, i) in enumerate(pairs) for turn in col.predictions[i].turns or [col.predictions[i]]]
    predictions = [turn for _, turn in units]
    cases = [pairs[n][0].cases[pairs[n][1]] for n, _ in units]
    for spec in suite.metrics:
        metric = suite.metric(spec.name)
        options = metric.validate_options(spec.options)
        salt = metric.cache_salt(options, context) if metric.cache_salt else None
        scored = metric_scores(metric, spec.options, options, salt, predictions, cases, context, progress)
        for col in columns:
            for per_metric in (col.scores, col.reasons, col.errors):
                per_metric[spec.name] = [None] * len(col.predictions)
        per_pair: dict[int, list[Score]] = {}
        for (n, _), s in zip(units, scored, strict=True):
            per_pair.setdefault(n, []).append(s)
        for n, found in per_pair.items():
            col, i = pairs[n]
            s = found[0] if len(found) == 1 and not col.predictions[i].turns else _over_turns(found, metric.kind)
            col.scores[spec.name][i] = s.value
            col.reasons[spec.name][i] = s.reason
            col.errors[spec.name][i] = s.error


def _over_turns(scores: Sequence[Score], kind: str) -> Score:
    """A conversation's score over its turns, each turn's value in the reason: for a pass/fail metric it passes when
    every turn that scored passes, else it is the mean of the turns that scored."""
    values = [s.value for s in scores if s.value is not None]
    shown = ", ".join(f"{k + 1}: {'-' if s.value is None else f'{s.value:g}'}" for k, s in enumerate(scores))
    reasons = "; ".join(f"turn {k + 1}: {s.reason}" for k, s in enumerate(scores) if s.reason)
    error = next((f"turn {k + 1}: {s.error}" for k, s in enumerate(scores) if s.error), None)
    return Score(
        (min(values) if kind == "binary" else sum(values) / len(values)) if values else None,
        f"turns {shown}" + (f"; {reasons}" if reasons else ""),
        error,
    )
