"""Throughput of the openai backend with bounded concurrency beside one request at a time, on one server.

Both modes run in the same process against the same server, alternating over ``--repeats`` rounds; the
table reports medians, so that a machine shared with other work skews both sides alike. Decoding is greedy
with ``--max-new-tokens`` new tokens; tokens are the completion tokens the server reports in ``usage``.
Without ``--base-url`` the script starts llama-cpp-python's server on the embedded SmolLM2 itself
(``--server-args`` passes extra options to it, e.g. ``"--n_threads 2"``).

    python benchmarks/openai_concurrency.py --concurrency 8
    python benchmarks/openai_concurrency.py --base-url http://gpu-box:8000/v1 --model Qwen/Qwen2.5-7B-Instruct
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent))

from promptarena.backends.openai import OpenAIBackend  # noqa: E402
from promptarena.types import GenerationRequest, GenParams, Message  # noqa: E402

WORKLOAD = HERE / "workloads" / "questions16.json"


def load_questions(path: Path | None) -> list[str]:
    """The prompts: a JSON list of strings, by default the project's 16-question workload."""
    return [str(q) for q in json.loads((path or WORKLOAD).read_text())]


def measure(backend: OpenAIBackend, requests: list[GenerationRequest]) -> tuple[int, float]:
    """All requests through the backend; returns (completion tokens, seconds)."""
    start = time.perf_counter()
    tokens = sum(g.completion_tokens for _, g in backend.generate(requests))
    return tokens, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="an OpenAI-compatible API root; default: start a local llama.cpp server")
    parser.add_argument("--model", help="model id on the server (default: the local server's alias)")
    parser.add_argument("--prompts", type=Path, help="a JSON list of questions (default: questions16.json)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--server-args", default="", help="extra options for the local llama_cpp.server")
    args = parser.parse_args()

    questions = load_questions(args.prompts)
    params = GenParams(max_new_tokens=args.max_new_tokens, temperature=0.0)
    requests = [GenerationRequest((Message("user", q),), params, seed=0) for q in questions]

    server = None
    base_url, model = args.base_url, args.model
    if base_url is None:
        from tests.support.llama_server import MODEL_ALIAS, LlamaServer, server_missing

        if missing := server_missing():
            sys.exit(missing)
        log = Path(tempfile.mkdtemp(prefix="openai-bench-")) / "server.log"
        server = LlamaServer(extra_args=shlex.split(args.server_args), log=log).start(timeout_s=120)
        base_url, model = server.base_url, model or MODEL_ALIAS
        print(f"started: {' '.join(server.command()[1:])}")
    if model is None:
        sys.exit("--model is needed with --base-url")

    modes = {
        f"concurrency {args.concurrency}": OpenAIBackend(base_url, model, concurrency=args.concurrency),
        "one at a time": OpenAIBackend(base_url, model, concurrency=1),
    }
    rates: dict[str, list[float]] = {name: [] for name in modes}
    walls: dict[str, list[float]] = {name: [] for name in modes}
    try:
        measure(modes["one at a time"], requests[:2])  # warm-up: load, first prefill
        for repeat in range(args.repeats):
            order = list(modes) if repeat % 2 == 0 else list(reversed(modes))
            for name in order:
                tokens, seconds = measure(modes[name], requests)
                rates[name].append(tokens / seconds)
                walls[name].append(seconds)
                print(f"  round {repeat + 1} {name:>16}: {tokens} tokens in {seconds:.2f} s", flush=True)
    finally:
        for backend in modes.values():
            backend.close()
        if server is not None:
            server.stop()

    print(f"\n{len(requests)} prompts, greedy, {args.max_new_tokens} new tokens, {base_url} model {model}")
    print(f"{'mode':>18} | {'median tok/s':>12} | {'median wall s':>13}")
    for name in modes:
        print(f"{name:>18} | {statistics.median(rates[name]):12.1f} | {statistics.median(walls[name]):13.2f}")
    first, single = (statistics.median(rates[n]) for n in modes)
    print(f"speed-up of bounded concurrency: {first / single:.2f}x (medians of {args.repeats})")


if __name__ == "__main__":
    main()
