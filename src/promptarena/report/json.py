"""Reports for machines: the plain-data documents `--json` prints, from a run's record and its gates."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptarena.report._format import agreement_note, fmt_detect
from promptarena.report.gates import gate_detail

if TYPE_CHECKING:
    from promptarena.agreement import ArmAgreement
    from promptarena.compare import Comparison, MetricRow
    from promptarena.engine import ArmResult, SuiteResult
    from promptarena.gate import SuiteOutcome
    from promptarena.types import Case


def summary_json(outcome: SuiteResult) -> dict[str, Any]:
    """A suite result's record as plain data: what `--json` prints for the run (people's votes are added apart)."""
    return outcome.record.plain()


def agreement_json(rows: Sequence[ArmAgreement]) -> list[dict[str, Any]]:
    """Each arm and pair of raters (``thumbs_up``: people's votes) as plain data: outputs both judged, raw
    agreement, kappa with its interval, the confusion counts, ties, and a note where kappa is not given."""
    return [
        {
            "arm": r.arm,
            "version": r.version,
            "variant": r.variant,
            "model": r.model,
            "a": r.a,
            "b": r.b,
            "outputs": r.agreement.n,
            "agreement": r.agreement.observed,
            "kappa": r.agreement.kappa,
            "ci": [r.agreement.low, r.agreement.high],
            "ci_confidence": r.agreement.confidence,
            "confusion": {
                "both_pass": r.agreement.both_pass,
                "only_a": r.agreement.only_a,
                "only_b": r.agreement.only_b,
                "both_fail": r.agreement.both_fail,
            },
            "ties": r.ties,
            "voted": r.voted,
            "note": agreement_note(r.agreement, r.a, r.b, r.ties),
        }
        for r in rows
    ]


def outcome_json(outcome: SuiteOutcome) -> dict[str, Any]:
    """A gated suite: its warnings, summary (unless skipped), every gate, and the baseline comparisons behind them."""
    doc: dict[str, Any] = {"suite": outcome.suite.name, "skipped": outcome.skipped}
    doc["warnings"] = list(outcome.suite.warnings)
    if outcome.result:
        doc.update(summary_json(outcome.result))
        for entry in doc["arms"]:  # people's votes, as read when gated
            votes = outcome.votes.get(entry["arm"], {})
            entry["metrics"].update({m: dataclasses.asdict(iv) for m, iv in votes.items()})
        if any(s.metric and s.metric.needs_assertions for s in outcome.suite.metrics):
            for entry, arm in zip(doc["arms"], outcome.result.arms, strict=True):
                entry["failed_assertions"] = _failed_assertions(outcome.result.suite.cases, arm)
    doc["gates"] = [{"name": g.name, "passed": g.passed, "detail": gate_detail(g)} for g in outcome.gates]
    doc["comparisons"] = [
        {
            "metric": r.metric,
            "a": r.a,
            "b": r.b,
            "mean_a": r.comparison.mean_a,
            "mean_b": r.comparison.mean_b,
            "diff": r.comparison.diff,
            "ci": [r.comparison.ci_low, r.comparison.ci_high],
            "ci_confidence": r.comparison.confidence,
            "p_value": r.comparison.p_value,
            "p_raw": r.comparison.p_raw,
            "verdict": r.comparison.verdict,
            "detectable": r.comparison.detectable,
            "cases_needed": r.comparison.cases_needed,
            "power_note": fmt_detect(r.comparison),
        }
        for c in outcome.comparisons
        for r in c.rows
    ]
    doc["agreement"] = agreement_json(outcome.agreement)
    return doc


def _failed_assertions(cases: Sequence[Case], arm: ArmResult) -> list[dict[str, Any]]:
    """Each case of the arm with an assertion that failed: which ones, and why."""
    from promptarena.metrics.assertions import failed_assertions

    found = ((case.id, failed_assertions(p.details)) for case, p in zip(cases, arm.predictions, strict=True))
    return [{"case": case_id, "failed": failed} for case_id, failed in found if failed]


def run_json(db: Path, baseline: str | None, outcomes: Sequence[SuiteOutcome]) -> dict[str, Any]:
    """What `evals run --json` prints: the database, the baseline and every suite's outcome."""
    return {"db": str(db), "baseline": baseline, "suites": [outcome_json(o) for o in outcomes]}


def _rows(rows: Sequence[MetricRow]) -> list[dict[str, Any]]:
    return [{"metric": r.metric, "a": r.a, "b": r.b, **dataclasses.asdict(r.comparison)} for r in rows]


def comparison_json(comp: Comparison) -> dict[str, Any]:
    """What `evals compare --json` prints: every paired comparison, calibration, maj@k and the cases."""
    return {
        "suite": comp.suite.name,
        "arms": [a.arm.label for a in comp.arms],
        "metrics": _rows(comp.rows),
        "calibration": {k: dataclasses.asdict(v) for k, v in comp.calibration.items()},
        "maj_at_k": comp.maj_at_k,
        "holistic": _rows(comp.holistic),
        "agreement": agreement_json(comp.agreement),
        "cases": [dataclasses.asdict(c) for c in comp.cases],
    }
