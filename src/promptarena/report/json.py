"""Reports for machines: the plain-data documents `--json` prints and the runs table keeps."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptarena.report._format import fmt_detect

if TYPE_CHECKING:
    from promptarena.compare import Comparison, MetricRow
    from promptarena.engine import SuiteResult
    from promptarena.gate import SuiteOutcome
    from promptarena.holistic import HolisticRow


def _plain(value: Any) -> Any:
    return None if value is None else dataclasses.asdict(value)


def holistic_json(row: HolisticRow) -> dict[str, Any]:
    """An arm's holistic row as plain data: each dimension with its interval and the tests behind it."""
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
                    "gap": f.gap,
                    "gap_groups": list(f.gap_groups),
                    "gap_test": dataclasses.asdict(f.gap_test),
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


def summary_json(outcome: SuiteResult) -> dict[str, Any]:
    """A plain-data summary of a suite result: what `--json` prints and the runs table keeps."""
    arms = []
    for arm in outcome.arms:
        v = arm.arm.version
        arms.append(
            {
                "arm": arm.arm.label,
                "version": v.label,
                "commit": v.commit,
                "blob": v.blob,
                "dirty": v.dirty,
                "message": v.message,
                "variant": arm.arm.variant.name,
                "model": arm.arm.model,
                "metrics": {m: dataclasses.asdict(iv) for m, iv in arm.summary.items()},
                "errors": dict(arm.errors),  # metric -> cases whose scoring failed (not in the mean, never a 0)
                "latency_p50_s": arm.latency_p50,
                "latency_p95_s": arm.latency_p95,
                "tokens_per_s": arm.tokens_per_s,
                "mean_output_tokens": arm.mean_output_tokens,
                **({"holistic": holistic_json(arm.holistic)} if arm.holistic else {}),
            }
        )
    return {
        "suite": outcome.suite.name,
        "prompt": outcome.suite.prompt,
        "run_id": outcome.run_id,
        "model": outcome.model,
        "cases": len(outcome.suite.cases),
        "generated": outcome.generated,
        "cached": outcome.cached,
        "generated_tokens": outcome.generated_tokens,
        "generation_s": outcome.generation_s,
        "load_s": outcome.load_s,
        "wall_s": outcome.wall_s,
        "peak_memory_mb": outcome.peak_memory_mb,
        "energy_j": outcome.energy_j,
        "energy_sources": list(outcome.energy_sources),
        "arms": arms,
    }


def outcome_json(outcome: SuiteOutcome) -> dict[str, Any]:
    """A gated suite: its warnings, summary (unless skipped), every gate, and the baseline comparisons behind them."""
    doc: dict[str, Any] = {"suite": outcome.suite.name, "skipped": outcome.skipped}
    doc["warnings"] = list(outcome.suite.warnings)
    if outcome.result:
        doc.update(summary_json(outcome.result))
    doc["gates"] = [{"name": g.name, "passed": g.passed, "detail": g.detail} for g in outcome.gates]
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
    return doc


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
        "cases": [dataclasses.asdict(c) for c in comp.cases],
    }
