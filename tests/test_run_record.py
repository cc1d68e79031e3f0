"""A run's record: the engine returns it, the store writes it and reads it back by attribute, and rows written
before records had a version still read, without the votes they froze."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path

from promptarena import views
from promptarena.backends.fake import FakeBackend
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.stats import Interval
from promptarena.store import ResultsStore, RunRecord
from promptarena.suite import load_suite
from tests.support.repos import COUNTRIES, qa_repo

# What a completed run's summary looked like before it had a version: the votes known at run time in its metrics.
V1_SUMMARY = {
    "suite": "qa",
    "prompt": "qa",
    "run_id": "old",
    "model": "fake:fake:0",
    "cases": 6,
    "generated": 6,
    "cached": 0,
    "generated_tokens": 12,
    "generation_s": 0.01,
    "load_s": 0.0,
    "wall_s": 0.5,
    "peak_memory_mb": float("nan"),
    "energy_j": None,
    "energy_sources": [],
    "arms": [
        {
            "arm": "abc1234:plain",
            "version": "abc1234",
            "commit": "abc1234" + "0" * 33,
            "blob": "b" * 40,
            "dirty": False,
            "message": "qa: first version",
            "variant": "plain",
            "model": "",
            "metrics": {
                "exact_match": {"mean": 0.5, "low": 0.19, "high": 0.81, "n": 6, "confidence": 0.95},
                "thumbs_up": {"mean": 1.0, "low": 0.21, "high": 1.0, "n": 1, "confidence": 0.95},
            },
            "errors": {"exact_match": 0},
            "first_error": {},
            "latency_p50_s": 0.01,
            "latency_p95_s": 0.02,
            "tokens_per_s": 1200.0,
            "mean_output_tokens": 2.0,
        }
    ],
}


def _store_old(db: Path, run_id: str, status: str, summary: dict) -> None:
    """A runs row as an older promptarena wrote it (the summary as plain JSON, NaN as Python's json writes it)."""
    with ResultsStore(db) as results:
        started = results.start_run("qa", "qa", {"seed": 0})
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE runs SET id = ?, status = ?, summary = ? WHERE id = ?",
            (run_id, status, json.dumps(summary), started),
        )


def test_the_engine_returns_the_record_the_store_reads_back(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    with PromptStore(repo.root) as prompts, ResultsStore(tmp_path / "r.db") as results:
        suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
        outcome = run_suite(suite, prompts, results, backend=FakeBackend(fn=lambda r: "Paris"))
        (run,) = results.runs()
    assert isinstance(run.record, RunRecord) and run.error is None
    assert json.dumps(run.record.model_dump()) == json.dumps(outcome.record.model_dump())
    head, previous = run.record.arms
    assert (head.variant, head.metrics["exact_match"].n, head.metrics["exact_match"].mean) == ("plain", 6, 1 / 6)
    assert isinstance(previous.metrics["exact_match"], Interval) and run.record.cases == len(COUNTRIES)
    assert run.record.generated == 2 * len(COUNTRIES) and run.record.record_version == 2


def test_a_row_written_before_records_had_a_version_still_reads(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    _store_old(db, "old", "completed", V1_SUMMARY)
    _store_old(db, "broken", "failed", {"error": "the model server went away"})
    _store_old(db, "odd", "completed", {"suite": "qa", "arms": "none"})
    with ResultsStore(db) as results:
        runs = {r.id: r for r in results.runs()}
        cells = views.overview(results)
        row = next(v for v in views.run_views(results) if v.row.id == "old")
    old = runs["old"].record
    assert old is not None and old.record_version == 2 and old.wall_s == 0.5 and math.isnan(old.peak_memory_mb)
    (arm,) = old.arms
    assert arm.metrics == {"exact_match": Interval(0.5, 0.19, 0.81, 6)}  # the frozen votes are gone
    assert [(c.metric, c.interval.mean) for c in cells] == [("exact_match", 0.5)]  # and no vote is stored now
    assert (runs["broken"].record, runs["broken"].error) == (None, "the model server went away")
    assert runs["odd"].record is None and "does not read" in (runs["odd"].error or "")  # the others still read
    assert (row.tokens_per_s, row.latency_p95_s, row.peak_memory_mb) == (1200.0, 0.02, None)


def test_the_engine_builds_its_record_without_the_reporting_layer() -> None:
    code = "import sys, promptarena.engine; print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich' or "
    code += "m.startswith('promptarena.report')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
