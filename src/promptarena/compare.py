"""Compare arms on the same cases: paired statistics per metric, cases sorted by disagreement, calibration."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from promptarena.agreement import ArmAgreement
from promptarena.engine import ArmResult
from promptarena.errors import ConfigError
from promptarena.holistic import HolisticRow, worst_case
from promptarena.metrics import as_score
from promptarena.metrics.assertions import failed_assertions
from promptarena.stats import Bin, PairedComparison, brier, compare_family, ece, reliability_table
from promptarena.suite import Suite
from promptarena.tools import case_calls, prediction_calls
from promptarena.types import Prediction, ToolCall


@dataclass(frozen=True)
class MetricRow:
    metric: str
    a: str  # arm label of the baseline
    b: str
    comparison: PairedComparison


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    references: tuple[str, ...]
    outputs: dict[str, str]
    answers: dict[str, str]
    scores: dict[str, dict[str, float | None]]
    disagreement: float
    failed_assertions: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # arm -> which failed and why
    reasons: dict[str, dict[str, str]] = field(default_factory=dict)  # arm -> metric -> why it scored so
    errors: dict[str, dict[str, str]] = field(default_factory=dict)  # arm -> metric -> how scoring failed
    conversations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # arm -> its turns, if it converses
    expected_calls: tuple[ToolCall, ...] | None = None  # the function calls the case expects, if it states them
    calls: dict[str, tuple[ToolCall, ...]] = field(default_factory=dict)  # arm -> the calls it made, if offered tools


@dataclass(frozen=True)
class Calibration:
    """How well self-consistency agreement predicts correctness (scored by ``metric``)."""

    metric: str
    n: int
    ece: float
    brier: float
    bins: list[Bin]


@dataclass
class Comparison:
    suite: Suite
    baseline: ArmResult
    arms: list[ArmResult]
    rows: list[MetricRow]
    cases: CaseRows  # most disagreement first
    calibration: dict[str, Calibration] = field(default_factory=dict)
    maj_at_k: dict[str, list[float]] = field(default_factory=dict)  # arm -> accuracy of maj@k, k = 1..N
    holistic: list[MetricRow] = field(default_factory=list)  # worst cases under perturbations, paired per case
    agreement: list[ArmAgreement] = field(default_factory=list)  # judges against people's votes, per arm


def _judged_metric(suite: Suite) -> str | None:
    """The first pass/fail quality metric: the one calibration and maj@k are judged by."""
    for spec in suite.metrics:
        metric = suite.metric(spec.name)
        if metric.kind == "binary" and metric.higher_is_better:
            return spec.name
    return None


def compare_arms(suite: Suite, arms: Sequence[ArmResult], alpha: float = 0.05) -> Comparison:
    """Compare every arm with the first (the baseline), per metric, on the same cases.

    The arms of one metric form a family: with more than two arms, p-values and intervals are Holm-adjusted
    together (see ``stats.compare_family``), so each verdict is the one its interval shows.
    """
    if len(arms) < 2:
        raise ConfigError("a comparison needs at least two arms, for example HEAD~1 HEAD.")
    base, others = arms[0], list(arms[1:])
    rows: list[MetricRow] = []
    for spec in suite.metrics:
        metric = suite.metric(spec.name)
        pairs = [(base.scores[spec.name], arm.scores[spec.name]) for arm in others]
        comps = compare_family(pairs, metric.kind, metric.higher_is_better, alpha=alpha, bounds=metric.range)
        rows.extend(
            MetricRow(spec.name, base.arm.label, arm.arm.label, c) for arm, c in zip(others, comps, strict=True)
        )

    primary = next((s.name for s in suite.metrics if suite.metric(s.name).higher_is_better), suite.metrics[0].name)
    cases = CaseRows(suite, arms, _disagreements(arms, primary))
    out = Comparison(suite, base, list(arms), rows, cases, holistic=_holistic_rows(suite, arms, alpha))
    judged = _judged_metric(suite)
    if judged:
        for arm in arms:
            _calibrate(suite, arm, judged, out)
    return out


def _disagreements(arms: Sequence[ArmResult], primary: str) -> list[float]:
    """Per case, the spread of the primary metric between arms, plus a little when their answers differ."""
    out = []
    for i, predictions in enumerate(zip(*(a.predictions for a in arms), strict=True)):
        values = [v for a in arms if (v := a.scores[primary][i]) is not None]
        spread = (max(values) - min(values)) if values else 0.0
        out.append(float(spread) + (0.001 if len({p.answer for p in predictions}) > 1 else 0.0))
    return out


class CaseRows(Sequence[CaseRow]):
    """The cases, most disagreement first; each row is built when read, so only the rows shown hold outputs."""

    def __init__(self, suite: Suite, arms: Sequence[ArmResult], disagreement: list[float]) -> None:
        self._suite, self._arms, self._disagreement = suite, arms, disagreement
        self._order = sorted(range(len(disagreement)), key=lambda i: -disagreement[i])

    def __len__(self) -> int:
        return len(self._order)

    def case_ids(self) -> list[str]:
        """The case ids in this order, without building their rows (a page that lists some of them)."""
        return [self._suite.cases[i].id for i in self._order]

    @overload
    def __getitem__(self, index: int) -> CaseRow: ...
    @overload
    def __getitem__(self, index: slice) -> list[CaseRow]: ...
    def __getitem__(self, index: int | slice) -> CaseRow | list[CaseRow]:
        if isinstance(index, slice):
            return [self[j] for j in range(len(self))[index]]
        i = self._order[index]
        case, predictions = self._suite.cases[i], {a.arm.label: a.predictions[i] for a in self._arms}
        return CaseRow(
            case_id=case.id,
            references=case.references,
            outputs={label: p.output for label, p in predictions.items()},
            answers={label: p.answer for label, p in predictions.items()},
            scores={a.arm.label: {m: s[i] for m, s in a.scores.items()} for a in self._arms},
            disagreement=self._disagreement[i],
            failed_assertions={label: failed_assertions(p.details) for label, p in predictions.items()},
            reasons={label: dict(p.details.get("reasons") or {}) for label, p in predictions.items()},
            errors={label: dict(p.details.get("errors") or {}) for label, p in predictions.items()},
            conversations={
                label: list(p.details["conversation"])
                for label, p in predictions.items()
                if p.details.get("conversation")
            },
            expected_calls=case_calls(case),
            calls={
                label: prediction_calls(p)
                for label, p in predictions.items()
                if any(g.tool_calls is not None for g in p.generations)
            },
        )


def _worst_cases(row: HolisticRow, dimension: str, higher: bool | None) -> tuple[float | None, ...] | None:
    """Per case, the worst score under the robustness perturbations, or under every counterfactual."""
    if dimension == "robust worst case":
        return row.robustness.worst_case if row.robustness else None
    if not row.fairness:
        return None
    return tuple(worst_case([f.worst_case for f in row.fairness.values()], higher))


def _holistic_rows(suite: Suite, arms: Sequence[ArmResult], alpha: float) -> list[MetricRow]:
    """Robustness and fairness compared between arms: each arm's worst case per case, paired, Holm per dimension."""
    heads = [a.holistic for a in arms]
    if not all(heads):
        return []
    metric = suite.metric(heads[0].metric)  # type: ignore[union-attr]
    rows = []
    for dimension in ("robust worst case", "fair worst case"):
        columns = [_worst_cases(h, dimension, metric.higher_is_better) for h in heads]  # type: ignore[arg-type]
        if any(c is None for c in columns):
            continue
        pairs = [(columns[0], c) for c in columns[1:]]
        comps = compare_family(pairs, metric.kind, metric.higher_is_better, alpha=alpha, bounds=metric.range)
        name = f"{metric.name} ({dimension})"
        rows.extend(MetricRow(name, arms[0].arm.label, a.arm.label, c) for a, c in zip(arms[1:], comps, strict=True))
    return rows


def _calibrate(suite: Suite, arm: ArmResult, metric_name: str, out: Comparison) -> None:
    conf, samples = [], []
    for p in arm.predictions:  # one pass: a run's predictions are read back from the store
        conf.append(p.confidence)
        samples.append(p.details.get("maj_at_k"))
    if all(c is None for c in conf):
        return
    correct = arm.scores[metric_name]
    pairs = [(c, s) for c, s in zip(conf, correct, strict=True) if c is not None and s is not None]
    if not pairs:
        return
    cs, ss = [c for c, _ in pairs], [s for _, s in pairs]
    out.calibration[arm.arm.label] = Calibration(
        metric_name, len(pairs), ece(cs, ss), brier(cs, ss), reliability_table(cs, ss)
    )
    metric = suite.metric(metric_name)
    if all(samples) and not metric.needs_context:  # maj@k rescores each sample; a judge would grade them all again
        spec = next(s for s in suite.metrics if s.name == metric_name)
        options = metric.validate_options(spec.options)
        n = min(len(s) for s in samples)  # type: ignore[arg-type]
        accuracy = []
        for k in range(n):
            preds = [Prediction(output=s[k], answer=s[k]) for s in samples]  # type: ignore[index]
            scores = [s.value for s in map(as_score, metric.score(preds, list(suite.cases), options))]
            scores = [v for v in scores if v is not None]
            accuracy.append(sum(scores) / len(scores) if scores else math.nan)
        out.maj_at_k[arm.arm.label] = accuracy
