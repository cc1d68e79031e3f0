"""Throughput of constrained decoding (a response_format's JSON Schema) beside the same requests unconstrained.

The same prompts go through the transformers backend twice per round, with and without a response_format, in
one process on the embedded model (batched path, bf16 on CPU by default), alternating over ``--repeats``
rounds; the table gives median tokens/s of real completion tokens, and what the constraint costs, measured two
ways: the ratio of the two runs' tokens/s (the median of each round's ratio, as a machine shared with other work
slows whole rounds), and the share of the constrained run's time spent in the grammar step itself (matchers,
masks and second choices, timed around it), which other work on the machine skews far less.

Two workloads. ``count``: each prompt asks to count on from its own number as a JSON array, and the schema
wants more numbers than fit, so every row of both runs writes all its tokens and tokens/s compare like with
like. ``answer``: a question answered as a small JSON object, as a suite would ask; answers end when they
will, so the constrained run (which ends once its object closes) and the free one write different lengths.

    python benchmarks/constrained.py --prompts 32 --max-new-tokens 48
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from promptarena.backends.transformers import TransformersBackend, _batch  # noqa: E402
from promptarena.hashing import canonical_json  # noqa: E402
from promptarena.types import GenerationRequest, GenParams, Message  # noqa: E402

ANSWER = {
    "type": "object",
    "properties": {"topic": {"type": "string"}, "answer": {"type": "string"}},
    "required": ["topic", "answer"],
    "additionalProperties": False,
}
COUNT = {"type": "array", "items": {"type": "integer"}, "minItems": 200}


def workload(name: str, n: int) -> tuple[list[str], str]:
    """The prompts of a workload and the response format of its constrained run."""
    if name == "count":
        prompts = [f"Count on from {10 * (i + 1)}, as a JSON array of numbers: [{10 * (i + 1)}, ..." for i in range(n)]
        schema = COUNT
    else:
        ask = ' Reply with one JSON object: "topic" (a word or two) and "answer" (one sentence).'
        prompts = [q + ask for q in json.loads((HERE / "workloads" / "questions64.json").read_text())[:n]]
        schema = ANSWER
    return prompts, canonical_json({"type": "json_schema", "json_schema": {"name": name, "schema": schema}})


class Timed:
    """The grammar step of the decode loop, with the time spent in it added up."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.inner = _batch.constrain
        _batch.constrain = self

    def __call__(self, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.inner(*args)
        finally:
            self.seconds += time.perf_counter() - start


def run(backend: TransformersBackend, requests: list[GenerationRequest]) -> tuple[int, float, int]:
    """All requests through the backend: (completion tokens, seconds, answers that parse as JSON)."""
    start = time.perf_counter()
    out = list(backend.generate(requests))
    seconds = time.perf_counter() - start
    parsed = 0
    for _, generation in out:
        try:
            json.loads(generation.text)
            parsed += 1
        except ValueError:
            pass
    return sum(g.completion_tokens for _, g in out), seconds, parsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--workload", choices=["count", "answer"], default="count")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    questions, form = workload(args.workload, args.prompts)
    backend = TransformersBackend(device=args.device, dtype=args.dtype)
    free = GenParams(max_new_tokens=args.max_new_tokens)
    bound = GenParams(max_new_tokens=args.max_new_tokens, response_format=form)
    arms = {
        "unconstrained": [GenerationRequest((Message("user", q),), free) for q in questions],
        "constrained": [GenerationRequest((Message("user", q),), bound) for q in questions],
    }
    run(backend, arms["constrained"][:4])  # load the model and compile the grammar once, outside the timings
    results: dict[str, list[tuple[int, float, int]]] = {name: [] for name in arms}
    timed, shares = Timed(), []
    for _ in range(args.repeats):
        for name, requests in arms.items():
            before = timed.seconds
            results[name].append(run(backend, requests))
            if name == "constrained":
                shares.append((timed.seconds - before) / results[name][-1][1])
    print(f"{backend.fingerprint}, workload {args.workload}: {len(questions)} prompts x {args.max_new_tokens} tokens")
    print(f"medians of {args.repeats} rounds, the two runs alternating")
    print(f"{'':15} {'tokens/s':>9} {'tokens':>7} {'seconds':>8} {'parses as JSON':>15}")
    rate = {}
    for name, runs in results.items():
        rate[name] = statistics.median(t / s for t, s, _ in runs)
        tokens, seconds, parsed = (statistics.median(column) for column in zip(*runs, strict=True))
        print(f"{name:15} {rate[name]:9.1f} {tokens:7.0f} {seconds:8.2f} {parsed:>11.0f}/{len(questions)}")
    ratio = statistics.median(c[0] / c[1] / (u[0] / u[1]) for u, c in zip(*results.values(), strict=True))
    print(f"constraint cost, tokens/s: {1 - ratio:.1%} of unconstrained throughput (target: under 15%)")
    print(f"constraint cost, time in the grammar step: {statistics.median(shares):.1%} of the constrained run")


if __name__ == "__main__":
    main()
