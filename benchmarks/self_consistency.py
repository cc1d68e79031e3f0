"""What self-consistency costs: N samples at temperature T per question, against one greedy answer each.

Reports the wall-time ratio (sampled / greedy) for the transformers backend (samples share their prompt's
prefill, finished rows leave the batch) beside plain ``generate(num_return_sequences=N)``, measured in the
same process over ``--repeats`` rounds: times are medians, a ratio is the median of each round's ratio.
Samples write more than N times the greedy tokens (and run for more steps), so the table also gives the
tokens ratio and the time ratio per token written: what a sampled token costs against a greedy one.

    python benchmarks/self_consistency.py --prompts benchmarks/workloads/questions16.json -n 5 -t 0.7
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from throughput import (  # same folder; sets HF_HUB_OFFLINE and the import path
    HERE,
    engine_generate,
    load_plain,
    plain_generate,
    requests_for,
)

from promptarena.backends.transformers import TransformersBackend
from promptarena.types import GenParams


def paired_ratio(sampled: list[float], greedy: list[float]) -> float:
    """The median over rounds of sampled / greedy, each pair timed back to back (robust to a drifting load)."""
    return round(statistics.median(s / g for s, g in zip(sampled, greedy, strict=True)), 2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=Path, default=HERE / "workloads" / "questions16.json")
    parser.add_argument("-n", "--samples", type=int, default=5)
    parser.add_argument("-t", "--temperature", type=float, default=0.7)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--model", default="default")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    questions = json.loads(args.prompts.read_text(encoding="utf-8"))
    backend = TransformersBackend(model=args.model, device=args.device, dtype=args.dtype, threads=args.threads)
    greedy = requests_for(questions, GenParams(max_new_tokens=args.max_new_tokens))
    sampled = requests_for(
        questions, GenParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature), args.samples
    )
    list(backend.generate(greedy[:1]))  # load and warm up
    tokenizer, model = load_plain(backend)
    plain_generate(tokenizer, model, questions[:2], 4, do_sample=False)
    sample_kwargs = {
        "do_sample": True,
        "temperature": args.temperature,
        "top_p": 1.0,
        "top_k": 0,
        "num_return_sequences": args.samples,
    }

    runs: dict[str, Any] = {
        "engine_greedy": lambda: engine_generate(backend, greedy),
        "engine_sampled": lambda: engine_generate(backend, sampled),
        "plain_greedy": lambda: plain_generate(tokenizer, model, questions, args.max_new_tokens, do_sample=False),
        "plain_sampled": lambda: plain_generate(tokenizer, model, questions, args.max_new_tokens, **sample_kwargs),
    }
    rows: dict[str, list[float]] = {k: [] for k in runs}
    tokens: dict[str, list[int]] = {k: [] for k in runs}
    for repeat in range(args.repeats):
        for name, run in runs.items():
            made, seconds = run()
            tokens[name].append(made)
            rows[name].append(seconds)
        print(f"repeat {repeat + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in rows.items()), file=sys.stderr)
    med = {k: statistics.median(v) for k, v in rows.items()}
    per_token = {k: [s / n for s, n in zip(rows[k], tokens[k], strict=True)] for k in runs}
    result = {
        "benchmark": "self_consistency",
        "questions": len(questions),
        "samples": args.samples,
        "temperature": args.temperature,
        "max_new_tokens": args.max_new_tokens,
        "repeats": args.repeats,
        "device": backend.device,
        "dtype": backend.dtype,
        **{f"{k}_s": round(v, 2) for k, v in med.items()},
        **{f"{k}_tokens": statistics.median(v) for k, v in tokens.items()},
        "engine_ratio": paired_ratio(rows["engine_sampled"], rows["engine_greedy"]),
        "generate_ratio": paired_ratio(rows["plain_sampled"], rows["plain_greedy"]),
        "engine_ratio_per_token": paired_ratio(per_token["engine_sampled"], per_token["engine_greedy"]),
        "generate_ratio_per_token": paired_ratio(per_token["plain_sampled"], per_token["plain_greedy"]),
    }
    print(f"{'engine':<36}{'greedy s':>10}{f'N={args.samples} s':>10}{'ratio':>8}{'tokens':>8}{'per token':>11}")
    lines = (  # (label, the runs' prefix, the ratios' prefix)
        ("promptarena transformers backend", "engine", "engine"),
        ("generate(num_return_sequences=N)", "plain", "generate"),
    )
    for label, who, key in lines:
        print(
            f"{label:<36}{med[f'{who}_greedy']:>10.2f}{med[f'{who}_sampled']:>10.2f}{result[f'{key}_ratio']:>8}"
            f"{result[f'{who}_sampled_tokens'] / result[f'{who}_greedy_tokens']:>8.2f}"
            f"{result[f'{key}_ratio_per_token']:>11}"
        )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
