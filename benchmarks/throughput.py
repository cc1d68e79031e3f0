"""Throughput of the transformers backend beside ``generate()`` and llama.cpp's batched decoding, same requests.

All run in the same process, on the same model, device and dtype, alternating over ``--repeats`` rounds;
the table reports medians, so that a machine shared with other work skews both sides alike. Tokens are
counted as real completion tokens up to and including the end-of-sequence token. On a CPU the backend runs
in both decoding modes, batch-invariant and fast (``batch_invariant: false``), and the table gives what
the invariant mode costs.

    python benchmarks/throughput.py --prompts benchmarks/workloads/questions64.json --max-new-tokens 64
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
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

from promptarena.backends.transformers import TransformersBackend, resolve_model  # noqa: E402
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


class LlamaCppBatched:
    """llama.cpp decoding every prompt as a parallel sequence (its batched API, a KV cache per sequence).

    The reference the issue names: the embedded GGUF file itself (Q4_1 weights), greedy, finished sequences
    leave the batch. Prompts are the same chat-templated texts the other engines see. The context is built
    once; each round clears its KV memory, so rounds time decoding only, as for the other engines.
    """

    def __init__(self, gguf: Path, texts: list[str], max_new: int, threads: int) -> None:
        import llama_cpp as L  # noqa: N812  (the C API's own names)

        self.L = L
        L.llama_backend_init()
        self._quiet = L.llama_log_callback(lambda level, text, data: None)
        L.llama_log_set(self._quiet, ctypes.c_void_p())
        self.model = L.llama_model_load_from_file(str(gguf).encode(), L.llama_model_default_params())
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        self.prompts = [self._tokenize(t) for t in texts]
        self.max_new = max_new
        n = len(self.prompts)
        params = L.llama_context_default_params()
        params.n_seq_max = n
        params.n_ctx = n * (max(len(p) for p in self.prompts) + max_new + 8)
        params.n_batch = max(n, sum(len(p) for p in self.prompts))
        params.n_ubatch = 512
        params.n_threads = params.n_threads_batch = threads
        if hasattr(params, "kv_unified"):
            params.kv_unified = False
        self.ctx = L.llama_init_from_model(self.model, params)
        self.batch = L.llama_batch_init(params.n_batch, 0, n)

    def _tokenize(self, text: str) -> list[int]:
        data = text.encode()
        buf = (self.L.llama_token * (len(data) + 16))()
        n = self.L.llama_tokenize(self.vocab, data, len(data), buf, len(buf), False, True)
        return list(buf[:n])

    def _add(self, token: int, pos: int, seq: int) -> int:
        b = self.batch
        i = b.n_tokens
        b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, 1, True
        b.seq_id[i][0] = seq
        b.n_tokens += 1
        return i

    def generate(self) -> tuple[int, float]:
        """Prefill every prompt in one batch, then decode all live sequences a step at a time; (tokens, seconds)."""
        import numpy as np

        L = self.L  # noqa: N806
        L.llama_memory_clear(L.llama_get_memory(self.ctx), True)
        start = time.perf_counter()
        self.batch.n_tokens = 0
        out: dict[int, int] = {}
        for s, prompt in enumerate(self.prompts):
            for j, token in enumerate(prompt):
                i = self._add(token, j, s)
                self.batch.logits[i] = j == len(prompt) - 1
            out[s] = i
        pos = {s: len(p) for s, p in enumerate(self.prompts)}
        made = dict.fromkeys(out, 0)
        tokens = 0
        while True:
            if L.llama_decode(self.ctx, self.batch) != 0:
                raise RuntimeError("llama_decode failed")
            nxt = {}
            for s, i in out.items():
                logits = np.ctypeslib.as_array(L.llama_get_logits_ith(self.ctx, i), shape=(self.n_vocab,))
                token = int(logits.argmax())
                made[s] += 1
                tokens += 1
                if not L.llama_vocab_is_eog(self.vocab, token) and made[s] < self.max_new:
                    nxt[s] = token
            if not nxt:
                return tokens, time.perf_counter() - start
            self.batch.n_tokens = 0
            out = {}
            for s, token in nxt.items():
                out[s] = self._add(token, pos[s], s)
                pos[s] += 1


def count_tokens(rows: Any, eos: int) -> list[int]:
    """Real tokens per generated row: everything before the first EOS, plus the EOS itself."""
    counts = []
    for row in rows.tolist():
        counts.append(row.index(eos) + 1 if eos in row else len(row))
    return counts


def chat_texts(tokenizer: Any, questions: list[str]) -> list[str]:
    """Each question as one user turn under the model's chat template, ready for the assistant's answer."""
    return [
        tokenizer.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False)
        for q in questions
    ]


def llamacpp_reference(model: str, texts: list[str], max_new: int, threads: int | None) -> LlamaCppBatched | None:
    """The llama.cpp reference for a GGUF model (the embedded one by default); ``None`` where it cannot run."""
    from promptarena.backends.transformers._device import cpu_threads
    from promptarena.backends.transformers._weights import DEFAULT_ALIASES, embedded_gguf

    if importlib.util.find_spec("llama_cpp") is None:
        print("llama-cpp-python is not installed: no llama.cpp reference", file=sys.stderr)
        return None
    gguf = embedded_gguf() if model in DEFAULT_ALIASES else Path(model)
    if gguf.suffix != ".gguf":
        print(f"{model!r} is not a GGUF file: no llama.cpp reference", file=sys.stderr)
        return None
    return LlamaCppBatched(gguf, texts, max_new, threads or cpu_threads())


def plain_generate(tokenizer: Any, model: Any, questions: list[str], max_new: int, **kwargs: Any) -> tuple[int, float]:
    """One left-padded batch through ``model.generate``; returns (tokens, seconds)."""
    import torch

    texts = chat_texts(tokenizer, questions)
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
    parser.add_argument(
        "--no-llamacpp", dest="llamacpp", action="store_false", help="skip the llama.cpp batched reference"
    )
    parser.add_argument("--naive", type=int, default=4, help="prompts for the one-at-a-time loop (0: skip)")
    parser.add_argument("--count", type=int, default=None, help="batch size: this many distinct prompts, cycling")
    parser.add_argument("--decode", default="auto", help="the engine's decode path: auto, slots or dynamic")
    parser.add_argument(
        "--one-mode", dest="both_modes", action="store_false", help="on CPU, skip the other decoding mode"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    questions = json.loads(args.prompts.read_text(encoding="utf-8"))
    if args.count:  # distinct prompts, so that no two share a prefill
        questions = [
            q if i < len(questions) else f"({i // len(questions)}) {q}"
            for i, q in enumerate(questions[i % len(questions)] for i in range(args.count))
        ]
    backend = TransformersBackend(
        model=args.model, device=args.device, dtype=args.dtype, threads=args.threads, decode=args.decode
    )
    requests = requests_for(questions, GenParams(max_new_tokens=args.max_new_tokens))
    list(backend.generate(requests[:1]))  # load and warm up
    other = None  # the other decoding mode, on CPU where there are two
    if args.both_modes and backend.device == "cpu" and args.decode == "auto":
        other = TransformersBackend(
            model=args.model,
            device=args.device,
            dtype=args.dtype,
            threads=args.threads,
            batch_invariant=not backend.batch_invariant,
        )
        list(other.generate(requests[:1]))
    tokenizer, model = load_plain(backend)
    plain_generate(tokenizer, model, questions[:2], 4, do_sample=False)
    llama = None
    if args.llamacpp and backend.device == "cpu":
        llama = llamacpp_reference(args.model, chat_texts(tokenizer, questions), args.max_new_tokens, args.threads)

    tps: dict[str, list[float]] = {"engine": [], "other": [], "generate": [], "llamacpp": []}
    for repeat in range(args.repeats):
        runs = {"engine": engine_generate(backend, requests)}
        if other is not None:
            runs["other"] = engine_generate(other, requests)
        runs["generate"] = plain_generate(tokenizer, model, questions, args.max_new_tokens, do_sample=False)
        if llama is not None:
            runs["llamacpp"] = llama.generate()
        for name, (tokens, seconds) in runs.items():
            tps[name].append(tokens / seconds)
        print(
            f"repeat {repeat + 1}: " + ", ".join(f"{k} {t} tok in {s:.2f}s" for k, (t, s) in runs.items()),
            file=sys.stderr,
        )
    naive = None
    if args.naive > 0:
        tokens = 0
        start = time.perf_counter()
        for q in questions[: args.naive]:
            tokens += plain_generate(tokenizer, model, [q], args.max_new_tokens, do_sample=False)[0]
        naive = tokens / (time.perf_counter() - start)

    med = {k: statistics.median(v) for k, v in tps.items() if v}
    modes = {backend.decoding: med["engine"]}
    if other is not None:
        modes[other.decoding] = med["other"]
    result = {
        "benchmark": "throughput",
        "prompts": len(questions),
        "max_new_tokens": args.max_new_tokens,
        "repeats": args.repeats,
        "device": backend.device,
        "decode": args.decode,
        "dtype": backend.dtype,
        "threads": args.threads or torch_threads(),
        "decoding": backend.decoding,
        "engine_tok_s": round(med["engine"], 1),
        "invariant_tok_s": round(modes["batch-invariant"], 1) if "batch-invariant" in modes else None,
        "fast_tok_s": round(modes["fast"], 1) if "fast" in modes else None,
        "invariant_over_fast": round(modes["batch-invariant"] / modes["fast"], 3) if len(modes) == 2 else None,
        "generate_batch_tok_s": round(med["generate"], 1),
        "llamacpp_batched_tok_s": round(med["llamacpp"], 1) if "llamacpp" in med else None,
        "naive_loop_tok_s": round(naive, 1) if naive is not None else None,
        "speedup_vs_generate": round(med["engine"] / med["generate"], 2),
        "speedup_vs_llamacpp_batched": round(med["engine"] / med["llamacpp"], 2) if "llamacpp" in med else None,
    }
    print(f"{'engine':<40}{'tokens/s (median)':>18}{'engine is x':>12}")
    print(f"{'promptarena, ' + backend.decoding + ' (default)':<40}{result['engine_tok_s']:>18}{'':>12}")
    if other is not None:
        print(
            f"{'promptarena, ' + other.decoding:<40}{round(med['other'], 1):>18}{med['engine'] / med['other']:>12.3f}"
        )
    print(
        f"{'generate(), one left-padded batch':<40}{result['generate_batch_tok_s']:>18}"
        f"{result['speedup_vs_generate']:>12}"
    )
    if "llamacpp" in med:
        print(
            f"{'llama.cpp batched (Q4_1, a seq per prompt)':<40}{result['llamacpp_batched_tok_s']:>18}"
            f"{result['speedup_vs_llamacpp_batched']:>12}"
        )
    if naive is not None:
        print(f"{f'generate(), one at a time ({args.naive})':<40}{result['naive_loop_tok_s']:>18}")
    print(json.dumps(result))
    return result


def torch_threads() -> int:
    """The threads torch computes with (set by the backend when it loads)."""
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
