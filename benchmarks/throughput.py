"""Throughput of the transformers backend beside plain ``transformers`` ``generate()`` on the same requests.

Both run in the same process, on the same model, device and dtype, alternating over ``--repeats`` rounds;
the table reports medians, so that a machine shared with other work skews both sides alike. Tokens are
counted as real completion tokens up to and including the end-of-sequence token.

    python benchmarks/throughput.py --prompts benchmarks/workloads/questions64.json --max-new-tokens 64
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

from promptarena.backends.transformers import TransformersBackend  # noqa: E402
from promptarena.models import resolve_model  # noqa: E402
from promptarena.types import GenerationRequest, GenParams, Message  # noqa: E402


def load_plain(backend: TransformersBackend) -> tuple[Any, Any]:
    """The same model loaded the ordinary way, for ``generate()``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = str(resolve_model(backend.model_id).path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, backend.dtype))
    return tokenizer, model.to(backend.device).eval()


def count_tokens(rows: Any, eos: int) -> list[int]:
    """Real tokens per generated row: everything before the first EOS, plus the EOS itself."""
    counts = []
    for row in rows.tolist():
        counts.append(row.index(eos) + 1 if eos in row else len(row))
    return counts


def plain_generate(tokenizer: Any, model: Any, questions: list[str], max_new: int, **kwargs: Any) -> tuple[int, float]:
    """One left-padded batch through ``model.generate``; returns (tokens, seconds)."""
    import torch

    texts = [
        tokenizer.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False)
        for q in questions
    ]
    start = time.perf_counter()
    with torch.inference_mode():
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        out = model.generate(**enc, max_new_tokens=max_new, pad_token_id=tokenizer.eos_token_id, **kwargs)
        tokens = sum(count_tokens(out[:, enc["input_ids"].shape[1] :], tokenizer.eos_token_id))
    return tokens, time.perf_counter() - start


def engine_generate(backend: TransformersBackend, requests: list[GenerationRequest]) -> tuple[int, float]:
    """All requests through the backend; returns (tokens, seconds)."""
    start = time.perf_counter()
    tokens = sum(g.completion_tokens for _, g in backend.generate(requests))
    return tokens, time.perf_counter() - start


def requests_for(questions: list[str], params: GenParams, samples: int = 1) -> list[GenerationRequest]:
    """One request per question and sample index."""
    return [
        GenerationRequest((Message("user", q),), params, seed=0, sample_index=i)
        for q in questions
        for i in range(samples)
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=Path, default=HERE / "workloads" / "questions64.json")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--model", default="default")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    parser.add_argument("--naive", type=int, default=4, help="prompts for the one-at-a-time loop (0: skip)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    questions = json.loads(args.prompts.read_text(encoding="utf-8"))
    backend = TransformersBackend(model=args.model, device=args.device, dtype=args.dtype, threads=args.threads)
    requests = requests_for(questions, GenParams(max_new_tokens=args.max_new_tokens))
    list(backend.generate(requests[:1]))  # load and warm up
    tokenizer, model = load_plain(backend)
    plain_generate(tokenizer, model, questions[:2], 4, do_sample=False)

    engine_tps, plain_tps = [], []
    for repeat in range(args.repeats):
        tokens, seconds = engine_generate(backend, requests)
        engine_tps.append(tokens / seconds)
        p_tokens, p_seconds = plain_generate(tokenizer, model, questions, args.max_new_tokens, do_sample=False)
        plain_tps.append(p_tokens / p_seconds)
        print(
            f"repeat {repeat + 1}: engine {tokens} tok in {seconds:.2f}s, "
            f"generate() {p_tokens} tok in {p_seconds:.2f}s",
            file=sys.stderr,
        )
    naive = None
    if args.naive > 0:
        tokens = 0
        start = time.perf_counter()
        for q in questions[: args.naive]:
            tokens += plain_generate(tokenizer, model, [q], args.max_new_tokens, do_sample=False)[0]
        naive = tokens / (time.perf_counter() - start)

    result = {
        "benchmark": "throughput",
        "prompts": len(questions),
        "max_new_tokens": args.max_new_tokens,
        "repeats": args.repeats,
        "device": backend.device,
        "dtype": backend.dtype,
        "engine_tok_s": round(statistics.median(engine_tps), 1),
        "generate_batch_tok_s": round(statistics.median(plain_tps), 1),
        "naive_loop_tok_s": round(naive, 1) if naive is not None else None,
        "speedup_vs_generate": round(statistics.median(engine_tps) / statistics.median(plain_tps), 2),
    }
    print(f"{'engine':<34}{'tokens/s (median)':>18}")
    print(f"{'promptarena transformers backend':<34}{result['engine_tok_s']:>18}")
    print(f"{'generate(), one left-padded batch':<34}{result['generate_batch_tok_s']:>18}")
    if naive is not None:
        print(f"{f'generate(), one at a time ({args.naive})':<34}{result['naive_loop_tok_s']:>18}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
