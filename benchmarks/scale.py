"""Cost as the work grows: wall time and peak memory of the transformers backend for 100, 1,000 and 10,000 generations.

Each size runs in a fresh process on the embedded model (CPU), so that its peak RSS is its own. Requests are
distinct short prompts (the workload's questions, numbered) with a small ``max_new_tokens``; generations are
consumed as they arrive and not kept, as the engine's store writer does. The table shows seconds per
generation (flat when time grows linearly) and the peak RSS beside the RSS after loading the model (flat
when memory is bounded by the batch, not by the number of requests).

    python benchmarks/scale.py --sizes 100 1000 10000 --max-new-tokens 16

``--fake`` measures the engine itself instead: ``run_suite`` on the fake backend, one arm, each case's output
about ``--output-chars`` long, and the peak RSS over the RSS before the run (``--trace``: the Python heap's
peak by tracemalloc, slower). Memory that grows with the outputs would show as growth per case.

    python benchmarks/scale.py --fake --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
if "PYTHONPATH" not in os.environ:  # a PYTHONPATH names the sources to measure (e.g. another checkout)
    sys.path.insert(0, str(HERE.parent / "src"))


def rss_mib() -> float:
    """This process's resident memory now (Linux ``/proc``), in MiB."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_size(size: int, max_new: int, threads: int | None, prompts: Path) -> dict[str, Any]:
    """Generate ``size`` answers in this process; wall time, tokens and memory."""
    from promptarena.backends.transformers import TransformersBackend
    from promptarena.types import GenerationRequest, GenParams, Message

    questions = json.loads(prompts.read_text(encoding="utf-8"))
    params = GenParams(max_new_tokens=max_new)
    backend = TransformersBackend(threads=threads)
    backend.load()
    list(backend.generate([GenerationRequest((Message("user", questions[0]),), params, seed=0)]))
    loaded = rss_mib()
    requests = [
        GenerationRequest((Message("user", f"{questions[i % len(questions)]} (#{i})"),), params, seed=0)
        for i in range(size)
    ]
    start = time.perf_counter()
    tokens = sum(g.completion_tokens for _, g in backend.generate(requests))
    wall = time.perf_counter() - start
    return {
        "generations": size,
        "tokens": tokens,
        "wall_s": round(wall, 2),
        "ms_per_generation": round(1000 * wall / size, 2),
        "tok_s": round(tokens / wall, 1),
        "rss_loaded_mib": round(loaded, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def fake_answer(request: Any) -> str:
    """A short answer that depends on the question, then filler up to the output length."""
    text = request.messages[-1].content
    return ["Paris", "Rome", "Oslo"][len(text) % 3] + " " + "filler " * (int(os.environ["SCALE_CHARS"]) // 7)


def one_fake(size: int, chars: int, trace: bool) -> dict[str, Any]:
    """Run ``size`` fake cases through the engine in this process; wall time and memory over the start."""
    import dataclasses
    import inspect
    import tempfile
    import tracemalloc

    sys.path.insert(0, str(HERE.parent))
    from promptarena.backends.fake import FakeBackend
    from promptarena.engine import run_suite
    from promptarena.gitstore import PromptStore
    from promptarena.store import ResultsStore
    from promptarena.suite import load_suite
    from promptarena.types import Case
    from tests.support.repos import qa_repo

    os.environ["SCALE_CHARS"] = str(chars)
    tmp = Path(tempfile.mkdtemp())
    repo = qa_repo(tmp / "repo")
    with PromptStore(repo.root) as store, ResultsStore(tmp / "results.db") as results:
        suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
        cases = tuple(Case(f"c{i:06d}", {"country": f"Country {i}"}, ("Paris",)) for i in range(size))
        suite = dataclasses.replace(suite, cases=cases)
        version = [store.resolve("qa@HEAD")]
        # a first small run imports and warms everything, so the peak below is the run's own
        run_suite(
            dataclasses.replace(suite, cases=cases[:10]),
            store,
            results,
            backend=FakeBackend(fn=fake_answer),
            versions=version,
        )
        if trace:
            tracemalloc.start()
        start_rss, heap0 = rss_mib(), tracemalloc.get_traced_memory()[0]
        start = time.perf_counter()
        out = run_suite(suite, store, results, backend=FakeBackend(fn=fake_answer), versions=version)
        wall = time.perf_counter() - start
        heap = (tracemalloc.get_traced_memory()[1] - heap0) / 2**20 if trace else None
    return {
        "cases": size,
        "generated": out.generated,
        "output_chars": chars,
        "chunked": "chunk_size" in inspect.signature(run_suite).parameters,
        "wall_s": round(wall, 2),
        "rss_start_mib": round(start_rss, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "rss_growth_mib": round(peak_rss_mib() - start_rss, 1),
        "heap_peak_mib": None if heap is None else round(heap, 1),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    parser.add_argument("--prompts", type=Path, default=HERE / "workloads" / "questions64.json")
    parser.add_argument("--fake", action="store_true", help="measure the engine on the fake backend instead")
    parser.add_argument("--output-chars", type=int, default=2000, help="--fake: characters per output")
    parser.add_argument("--trace", action="store_true", help="--fake: also the Python heap's peak (tracemalloc)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child measuring one size
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    if args.one and args.fake:
        print(json.dumps(one_fake(args.sizes[0], args.output_chars, args.trace)))
        return []
    if args.one:
        print(json.dumps(one_size(args.sizes[0], args.max_new_tokens, args.threads, args.prompts)))
        return []
    rows = []
    for size in args.sizes:
        cmd = [sys.executable, __file__, "--one", "--sizes", str(size), "--max-new-tokens", str(args.max_new_tokens)]
        cmd += ["--prompts", str(args.prompts)] + (["--threads", str(args.threads)] if args.threads else [])
        cmd += ["--fake", "--output-chars", str(args.output_chars)] * args.fake + ["--trace"] * args.trace
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr)
    if args.fake:
        print(json.dumps({"benchmark": "scale-engine", "rows": rows}))
        return rows
    header = f"{'generations':>12}{'wall s':>10}{'ms/gen':>10}{'tok/s':>8}{'RSS loaded MiB':>16}{'peak RSS MiB':>14}"
    print(header)
    for r in rows:
        print(
            f"{r['generations']:>12}{r['wall_s']:>10}{r['ms_per_generation']:>10}{r['tok_s']:>8}"
            f"{r['rss_loaded_mib']:>16}{r['peak_rss_mib']:>14}"
        )
    print(json.dumps({"benchmark": "scale", "max_new_tokens": args.max_new_tokens, "rows": rows}))
    return rows


if __name__ == "__main__":
    main()
