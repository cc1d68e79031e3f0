"""Runs with their provenance and efficiency, flattened for a table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from promptarena.stats import percentile
from promptarena.store import ResultsStore

_NAN = float("nan")

# --- runs ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunView:
    """A run with its provenance and efficiency, flattened for a table."""

    id: str
    suite: str
    prompt: str
    status: str
    started_at: str
    finished_at: str | None
    commits: list[str]  # "label (dirty)" per evaluated version
    model: str
    seed: Any
    packages: dict[str, str | None]
    generated: int | None
    cached: int | None
    wall_s: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    tokens_per_s: float | None
    peak_memory_mb: float | None
    arms: list[dict[str, Any]]
    provenance: dict[str, Any]
    error: str | None


def _num(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def run_views(results: ResultsStore, suite: str | None = None, limit: int = 200) -> list[RunView]:
    """The latest runs, newest first, with provenance and efficiency (worst p95 over arms, median tokens/s)."""
    out = []
    for run in results.runs(suite=suite, limit=limit):
        prov, summary = run.provenance or {}, run.summary or {}
        arms = list(summary.get("arms", []))
        p50 = [a.get("latency_p50_s") for a in arms]
        p95 = [a.get("latency_p95_s") for a in arms]
        tps = [a.get("tokens_per_s") for a in arms]
        commits = [
            f"{label}{' (dirty)' if info.get('dirty') else ''}" for label, info in (prov.get("versions") or {}).items()
        ]
        peak = summary.get("peak_memory_mb", prov.get("peak_memory_mb"))
        out.append(
            RunView(
                id=run.id,
                suite=run.suite,
                prompt=run.prompt,
                status=run.status,
                started_at=run.started_at,
                finished_at=run.finished_at,
                commits=commits,
                model=str(prov.get("model", "")),
                seed=prov.get("seed"),
                packages=dict(prov.get("packages") or {}),
                generated=summary.get("generated"),
                cached=summary.get("cached"),
                wall_s=_num(summary.get("wall_s")),
                latency_p50_s=_num(percentile([_num(x) for x in p50], 50)) if arms else None,
                latency_p95_s=_num(max((x for x in map(_num, p95) if x is not None), default=_NAN)),
                tokens_per_s=_num(percentile([_num(x) for x in tps], 50)) if arms else None,
                peak_memory_mb=_num(peak),
                arms=arms,
                provenance=prov,
                error=summary.get("error"),
            )
        )
    return out
