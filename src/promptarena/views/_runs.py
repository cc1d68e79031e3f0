"""Runs with the figures their table shows: commits, model and seed from the provenance, efficiency over arms."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from promptarena.stats import percentile
from promptarena.store import ResultsStore, RunRow


@dataclass(frozen=True)
class RunView:
    """A stored run (``row``: its record, error and provenance) with the figures a table of runs shows."""

    row: RunRow
    commits: list[str]  # "label (dirty)" per evaluated version
    model: str
    seed: Any
    packages: dict[str, str | None]
    latency_p50_s: float | None  # the median over arms of each arm's median per-case latency
    latency_p95_s: float | None  # the worst arm's p95
    tokens_per_s: float | None  # the median over arms
    peak_memory_mb: float | None


def _num(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def run_views(results: ResultsStore, suite: str | None = None, limit: int = 200) -> list[RunView]:
    """The latest runs, newest first, with provenance and efficiency (worst p95 over arms, median tokens/s)."""
    out = []
    for run in results.runs(suite=suite, limit=limit):
        prov = run.provenance or {}
        arms = run.record.arms if run.record else []
        p95 = [_num(a.latency_p95_s) for a in arms]
        commits = [
            f"{label}{' (dirty)' if info.get('dirty') else ''}" for label, info in (prov.get("versions") or {}).items()
        ]
        peak = run.record.peak_memory_mb if run.record else prov.get("peak_memory_mb")
        out.append(
            RunView(
                row=run,
                commits=commits,
                model=str(prov.get("model", "")),
                seed=prov.get("seed"),
                packages=dict(prov.get("packages") or {}),
                latency_p50_s=_num(percentile([_num(a.latency_p50_s) for a in arms], 50)) if arms else None,
                latency_p95_s=max((x for x in p95 if x is not None), default=None),
                tokens_per_s=_num(percentile([_num(a.tokens_per_s) for a in arms], 50)) if arms else None,
                peak_memory_mb=_num(peak),
            )
        )
    return out
