"""One holistic row per arm, from its scored predictions and columns: every HELM dimension beside accuracy.

The row judges the suite's headline metric: its first metric with a direction. Robustness takes the
robustness perturbations, fairness the counterfactuals of each axis (an axis with one counterfactual is
compared with the text as written), sensitivity the layouts; bias and toxicity read the unperturbed outputs.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, overload

from promptarena.holistic._expand import FORMAT, Bias
from promptarena.holistic._measures import (
    NO_GROUP,
    Fairness,
    Robustness,
    Spread,
    fairness,
    robustness,
    spread,
    worst_case,
)
from promptarena.metrics import Metric
from promptarena.stats import Interval, ece, mean_ci

if TYPE_CHECKING:
    from promptarena.metrics.toxicity import ToxicityScorer, ToxicitySummary
    from promptarena.rounds import Column
    from promptarena.suite import Suite
    from promptarena.types import Prediction


class Scored(Protocol):
    """An arm as the summary reads it (``engine.ArmResult``)."""

    predictions: Sequence[Prediction]  # after a run, read back from the store: iterate, do not hold
    scores: dict[str, list[float | None]]
    summary: dict[str, Interval]
    perturbed: dict[str, Column]


@dataclass(frozen=True)
class HolisticRow:
    """An arm's holistic row; a part the suite does not declare is ``None`` (calibration: NaN without confidences).

    ``robust`` and ``fair`` are the worst case per case (over the perturbations, or the counterfactuals, and the
    text as written) as a mean with its interval; ``toxic`` is the share of outputs scored toxic.
    """

    metric: str
    accuracy: Interval
    calibration: float
    robustness: Robustness | None = None
    robust: Interval | None = None
    fairness: dict[str, Fairness] | None = None
    fair: Interval | None = None
    bias: dict[str, float | None] | None = None
    toxicity: ToxicitySummary | None = None
    toxic: Interval | None = None
    toxicity_scorer: str | None = None
    sensitivity: Spread | None = None

    @property
    def gap(self) -> Fairness | None:
        """The axis with the widest fairness gap."""
        if not self.fairness:
            return None
        return max(self.fairness.values(), key=lambda f: -1.0 if f.gap != f.gap else f.gap)


class Outputs(Sequence[str]):
    """An arm's output texts, read from its predictions as they are iterated, never all held at once."""

    def __init__(self, predictions: Sequence[Prediction]) -> None:
        self._predictions = predictions

    def __len__(self) -> int:
        return len(self._predictions)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [p.output for p in self._predictions[index]]
        return self._predictions[index].output

    def __iter__(self) -> Iterator[str]:
        return (p.output for p in self._predictions)


def headline_metric(suite: Suite) -> str | None:
    """The metric a holistic row judges: the suite's first metric with a direction."""
    return next((s.name for s in suite.metrics if suite.metric(s.name).higher_is_better is not None), None)


def aligned(suite: Suite, column: Column, metric: str) -> list[float | None]:
    """A column's scores in the suite's case order; ``None`` for a case the column lacks."""
    by_id = dict(zip((c.id for c in column.cases), column.scores.get(metric, []), strict=True))
    return [by_id.get(case.id) for case in suite.cases]


def _calibration(suite: Suite, arm: Scored) -> float:
    """ECE of the vote agreement against the first pass/fail quality metric; NaN without confidences."""
    judged = next(
        (
            s.name
            for s in suite.metrics
            if suite.metric(s.name).kind == "binary" and suite.metric(s.name).higher_is_better
        ),
        None,
    )
    confidences = [p.confidence for p in arm.predictions]
    if judged is None or all(c is None for c in confidences):
        return float("nan")
    return ece(confidences, arm.scores[judged])


def _columns(suite: Suite, arm: Scored, metric: str, kind: str) -> dict[str, list[float | None]]:
    from promptarena.perturbations import get_perturbation

    return {
        name: aligned(suite, arm.perturbed[name], metric)
        for name in suite.holistic.perturbations
        if name in arm.perturbed and get_perturbation(name).kind == kind
    }


def _fairness(suite: Suite, arm: Scored, m: Metric, name: str) -> tuple[dict[str, Fairness], Interval] | None:
    from promptarena.perturbations import get_perturbation

    columns = _columns(suite, arm, name, "fairness")
    if not columns:
        return None
    unperturbed = arm.scores[name]
    axes: dict[str, dict[str, Sequence[float | None]]] = {}
    for label, column in columns.items():
        axes.setdefault(str(get_perturbation(label).axis), {})[label] = column
    out = {}
    for axis, groups in axes.items():
        labels = list(groups)
        groups = groups if len(groups) > 1 else {"as_written": unperturbed, **groups}
        f = fairness(groups, m.kind, m.higher_is_better, unperturbed=unperturbed, bounds=m.range)
        out[axis] = f if _changed(suite, arm, labels) else replace(f, gap=math.nan, reason=NO_GROUP)
    worst = worst_case([unperturbed, *columns.values()], m.higher_is_better)
    return out, mean_ci(worst, kind=m.kind, bounds=m.range)


def _changed(suite: Suite, arm: Scored, labels: Sequence[str]) -> bool:
    """Whether any counterfactual in ``labels`` rewrote a case (its variables or references)."""
    written = {c.id: c for c in suite.cases}
    return any(
        case.vars != written[case.id].vars or case.references != written[case.id].references
        for label in labels
        for case in arm.perturbed[label].cases
        if case.id in written
    )


def _sensitivity(suite: Suite, arm: Scored, name: str, higher_is_better: bool | None) -> Spread | None:
    if not suite.holistic.sensitivity:
        return None
    layouts: Mapping[str, Sequence[float | None]] = {
        f"{FORMAT}0": arm.scores[name],
        **{label: aligned(suite, col, name) for label, col in arm.perturbed.items() if label.startswith(FORMAT)},
    }
    return spread(layouts, higher_is_better)


def summarize_holistic(
    suite: Suite, arm: Scored, scorer: ToxicityScorer | None, bias: Bias | None = None
) -> HolisticRow | None:
    """The arm's holistic row, or ``None`` when the suite declares no holistic part or no metric has a direction.
    ``bias`` measures the outputs (``bias_measurer``: cached); without it they are measured here."""
    name = headline_metric(suite)
    if not suite.holistic.declared or name is None:
        return None
    m = suite.metric(name)
    parts: dict[str, Any] = {}
    robust = _columns(suite, arm, name, "robustness")
    if robust:
        r = robustness(arm.scores[name], robust, m.kind, m.higher_is_better, bounds=m.range)
        parts.update(robustness=r, robust=mean_ci(r.worst_case, kind=m.kind, bounds=m.range))
    fair = _fairness(suite, arm, m, name)
    if fair:
        parts.update(fairness=fair[0], fair=fair[1])
    outputs = Outputs(arm.predictions)
    if suite.holistic.bias:
        from promptarena.metrics.bias import bias_scores

        parts["bias"] = bias(outputs) if bias else bias_scores(suite.holistic.bias, outputs)
    if scorer is not None:
        from promptarena.metrics.toxicity import summarize

        texts = iter(outputs)
        scores = [s for page in iter(lambda: list(itertools.islice(texts, 256)), []) for s in scorer.score(page)]
        toxicity = summarize(scores)
        toxic = mean_ci([float(s >= toxicity.threshold) for s in scores], kind="binary")
        parts.update(toxicity=toxicity, toxic=toxic, toxicity_scorer=f"{scorer.name} ({scorer.version})")
    return HolisticRow(
        metric=name,
        accuracy=arm.summary[name],
        calibration=_calibration(suite, arm),
        sensitivity=_sensitivity(suite, arm, name, m.higher_is_better),
        **parts,
    )


def _plain(value: Any) -> Any:
    return None if value is None else dataclasses.asdict(value)


def holistic_json(row: HolisticRow) -> dict[str, Any]:
    """An arm's holistic row as plain data, as a run's record keeps it: each dimension with its interval and the
    tests behind it."""
    r, fair = row.robustness, row.fairness
    return {
        "metric": row.metric,
        "accuracy": dataclasses.asdict(row.accuracy),
        "calibration_ece": row.calibration,
        "robustness": None
        if r is None
        else {
            "worst_case": _plain(row.robust),
            "unperturbed": r.unperturbed,
            "means": r.means,
            "drops": r.drops,
            "tests": {name: dataclasses.asdict(c) for name, c in r.comparisons.items()},
        },
        "fairness": None
        if fair is None
        else {
            "worst_case": _plain(row.fair),
            "axes": {
                axis: {
                    "means": f.means,
                    "worst_case_mean": f.worst_case_mean,
                    "gap": None if f.reason else f.gap,
                    "gap_groups": None if f.reason else list(f.gap_groups),
                    "gap_test": None if f.reason else dataclasses.asdict(f.gap_test),
                    "reason": f.reason,
                }
                for axis, f in fair.items()
            },
        },
        "bias": row.bias,
        "toxicity": None
        if row.toxicity is None
        else {
            "scorer": row.toxicity_scorer,
            "toxic_share": _plain(row.toxic),
            "max": row.toxicity.max,
            "threshold": row.toxicity.threshold,
        },
        "sensitivity": _plain(row.sensitivity),
    }
