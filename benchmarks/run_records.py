"""How long the workbench takes to read every completed run's typed record, beside parsing the same rows as
plain JSON (what reading a run cost before runs had a typed record), measured in the same process.

The database holds ``--runs`` completed runs of ``--arms`` arms with two metrics each, as the engine writes
them; the overview and the prompt history read all of them on each render.

    .venv/bin/python benchmarks/run_records.py [--runs 1000] [--arms 6] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from promptarena.stats import Interval
from promptarena.store import ArmRecord, ResultsStore, RunRecord


def _record(arms: int) -> RunRecord:
    metric = Interval(0.5, 0.19, 0.81, 500)
    return RunRecord(
        suite="math",
        prompt="math",
        run_id="r",
        cases=500,
        arms=[
            ArmRecord(
                arm=f"{i:07x}:plain",
                version=f"{i:07x}",
                blob=f"{i:040x}",
                variant="plain",
                metrics={"exact_match": metric, "contains": metric},
                latency_p50_s=0.01,
                tokens_per_s=1000.0,
            )
            for i in range(arms)
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--arms", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    db = Path(tempfile.mkdtemp()) / "results.db"
    text = json.dumps(_record(args.arms).model_dump())
    with ResultsStore(db) as results:
        ids = [results.start_run("math", "math", {"seed": 0}) for _ in range(args.runs)]
    with sqlite3.connect(db) as conn:
        conn.executemany("UPDATE runs SET status = 'completed', summary = ? WHERE id = ?", [(text, i) for i in ids])
    typed, plain = [], []
    with ResultsStore(db) as results:
        for _ in range(args.repeat):
            start = time.perf_counter()
            assert len(results.completed_runs()) == args.runs
            typed.append(time.perf_counter() - start)
            with sqlite3.connect(db) as conn:
                start = time.perf_counter()
                rows = conn.execute("SELECT summary FROM runs WHERE status = 'completed' ORDER BY started_at DESC")
                assert len([json.loads(s) for (s,) in rows]) == args.runs
                plain.append(time.perf_counter() - start)
    print(f"{args.runs} completed runs of {args.arms} arms, median of {args.repeat}:")
    print(f"  typed records (store.completed_runs): {statistics.median(typed) * 1000:7.1f} ms")
    print(f"  reference, the rows as plain JSON:    {statistics.median(plain) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
