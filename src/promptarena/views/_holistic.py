"""The holistic view for the workbench: each HELM dimension over a prompt's commits, and a case's perturbed runs.

Dimensions come from the holistic rows that completed runs stored in their records; a case's perturbed
inputs and outputs from the results stored under each perturbation or layout.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from promptarena.stats import Interval
from promptarena.store import ArmRecord, ResultsStore
from promptarena.views._arms import ArmChoice
from promptarena.views._history import OverviewCell, arm_cell, latest_arms

_NAN = float("nan")

DIMENSIONS = (
    "accuracy",
    "calibration (ECE)",
    "robustness (worst case)",
    "fairness (worst case)",
    "fairness gap",
    "bias (largest)",
    "toxicity (share)",
    "sensitivity (spread)",
    "latency p50 (s)",
    "tokens/s",
)
"""The dimensions of the holistic view, in the order the workbench draws them."""


def _interval(d: dict[str, Any] | None) -> Interval:
    if not d:
        return Interval(_NAN, _NAN, _NAN, 0)

    def num(x: Any) -> float:
        return _NAN if x is None else float(x)

    return Interval(num(d.get("mean")), num(d.get("low")), num(d.get("high")), int(d.get("n") or 0))


def _point(value: Any) -> Interval:
    """A single figure drawn as an interval without bounds; none (``n == 0``) when missing or NaN."""
    if value is None or math.isnan(float(value)):
        return Interval(_NAN, _NAN, _NAN, 0)
    return Interval(float(value), _NAN, _NAN, 1)


def _gap(fairness: dict[str, Any] | None) -> Interval:
    gaps = [axis["gap"] for axis in (fairness or {}).get("axes", {}).values() if axis.get("gap") is not None]
    return _point(max(gaps) if gaps else None)


def _bias(bias: dict[str, float | None] | None) -> Interval:
    values = [v for v in (bias or {}).values() if v is not None]
    return _point(max(values) if values else None)


_READERS: dict[str, Callable[[dict[str, Any], ArmRecord], Interval]] = {
    "accuracy": lambda h, arm: _interval(h["accuracy"]),
    "calibration (ECE)": lambda h, arm: _point(h.get("calibration_ece")),
    "robustness (worst case)": lambda h, arm: _interval((h.get("robustness") or {}).get("worst_case")),
    "fairness (worst case)": lambda h, arm: _interval((h.get("fairness") or {}).get("worst_case")),
    "fairness gap": lambda h, arm: _gap(h.get("fairness")),
    "bias (largest)": lambda h, arm: _bias(h.get("bias")),
    "toxicity (share)": lambda h, arm: _interval((h.get("toxicity") or {}).get("toxic_share")),
    "sensitivity (spread)": lambda h, arm: _point((h.get("sensitivity") or {}).get("spread")),
    "latency p50 (s)": lambda h, arm: _point(arm.latency_p50_s),
    "tokens/s": lambda h, arm: _point(arm.tokens_per_s),
}


def _gap_reason(fairness: dict[str, Any] | None) -> str:
    """Why no axis has a gap (its counterfactuals changed no case), or "" when one has."""
    axes = (fairness or {}).get("axes", {}).values()
    reasons = [axis.get("reason") for axis in axes]
    return reasons[0] if reasons and all(reasons) else ""


_REASONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "fairness gap": lambda h: _gap_reason(h.get("fairness")),
    "sensitivity (spread)": lambda h: (h.get("sensitivity") or {}).get("reason") or "",
}


def holistic_cells(results: ResultsStore, suite: str) -> list[OverviewCell]:
    """One cell per (version, variant, dimension) that has a value, or a reason for having none ("no layout to
    vary"), from the latest completed run of each arm.

    The cell's ``metric`` names the dimension, so ``metric_history`` lays the cells out over the commits.
    """
    cells: list[OverviewCell] = []
    for run, arm in latest_arms(results, suite, needs="holistic"):
        holistic = arm.holistic or {}
        for dimension in DIMENSIONS:
            interval = _READERS[dimension](holistic, arm)
            reason = "" if interval.n else _REASONS.get(dimension, lambda h: "")(holistic)
            if interval.n or reason:
                cells.append(replace(arm_cell(run, arm, dimension, interval), note=reason))
    return cells


@dataclass(frozen=True)
class PerturbedSample:
    """One arm's answer to one case under one perturbation or prompt layout (``format:1``...)."""

    choice: ArmChoice
    case_id: str
    label: str
    input: Any  # the perturbed variables, or the layout's text
    output: str
    answer: str
    scores: dict[str, float | None]


def perturbed_samples(results: ResultsStore, choice: ArmChoice, case_id: str) -> list[PerturbedSample]:
    """The case under each perturbation and layout the arm's latest run evaluated, in the order they were stored."""
    rows = results.perturbed_results(choice.run_id, choice.blob, choice.variant, case_id, choice.model)
    return [
        PerturbedSample(choice, case_id, label, r["details"].get("input"), r["output"], r["answer"], r["scores"])
        for label, r in rows.items()
    ]
