"""Per-step cost of three grammar engines in a batched decode step, on the embedded model's vocabulary.

xgrammar, llguidance and outlines-core each constrain 32 rows to the same JSON Schema: a step fills every
row's token mask, applies the masks to (rows, vocab) bf16 logits, picks the greedy token and advances each
row's matcher. Logits are the embedded model's own over a few real prompts' next-token distributions kept
fixed (the model's forward pass costs the same for every engine, so it is left out); the table gives the
median time of a step, beside the time of the same step unconstrained, and how long each engine takes to
compile the schema for this vocabulary. This is the worst case, every row masked at every step: the backend
masks only the rows whose own choice the matcher refuses (see backends/transformers/_grammar.py).

    pip install xgrammar outlines-core   # llguidance comes with promptarena[local]; the other two are only for this
    python benchmarks/grammar_engines.py --rows 32 --steps 48
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
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from promptarena.backends.transformers import resolve_model  # noqa: E402

SCHEMA = {
    "type": "object",
    "properties": {"item": {"type": "string", "maxLength": 24}, "quantity": {"type": "integer", "minimum": 1}},
    "required": ["item", "quantity"],
    "additionalProperties": False,
}


class Xgrammar:
    name = "xgrammar 0.2.8"

    def __init__(self, tokenizer: Any, vocab: int, eos: list[int]) -> None:
        import xgrammar as xgr

        self.xgr = xgr
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab, stop_token_ids=eos)
        self.compiler = xgr.GrammarCompiler(info)
        self.vocab = vocab

    def compile(self) -> Any:
        return self.compiler.compile_json_schema(json.dumps(SCHEMA), any_whitespace=False)

    def matchers(self, grammar: Any, n: int) -> list[Any]:
        self.mask = self.xgr.allocate_token_bitmask(n, self.vocab)
        return [self.xgr.GrammarMatcher(grammar) for _ in range(n)]

    def constrain(self, matchers: list[Any], logits: Any) -> None:
        for i, m in enumerate(matchers):
            if not m.is_terminated():
                m.fill_next_token_bitmask(self.mask, i)
        self.xgr.apply_token_bitmask_inplace(logits, self.mask[: len(matchers)])

    def accept(self, matchers: list[Any], tokens: list[int]) -> None:
        for m, t in zip(matchers, tokens, strict=True):
            if not m.is_terminated():
                m.accept_token(t)


class Llguidance:
    name = "llguidance 1.9.1"

    def __init__(self, tokenizer: Any, vocab: int, eos: list[int]) -> None:
        import llguidance
        import llguidance.hf
        import llguidance.torch

        self.ll = llguidance
        self.tok = llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab)
        self.vocab = vocab

    def compile(self) -> Any:
        return self.ll.LLMatcher.grammar_from_json_schema(SCHEMA, defaults={"whitespace_flexible": False})

    def matchers(self, grammar: Any, n: int) -> list[Any]:
        self.mask = self.ll.torch.allocate_token_bitmask(n, self.vocab)
        return [self.ll.LLMatcher(self.tok, grammar) for _ in range(n)]

    def constrain(self, matchers: list[Any], logits: Any) -> None:
        for i, m in enumerate(matchers):
            self.ll.torch.fill_next_token_bitmask(m, self.mask, i)
        self.ll.torch.apply_token_bitmask_inplace(logits, self.mask[: len(matchers)])

    def accept(self, matchers: list[Any], tokens: list[int]) -> None:
        for m, t in zip(matchers, tokens, strict=True):
            if not m.is_stopped():
                m.consume_token(t)


class OutlinesCore:
    name = "outlines-core 0.2.14"

    def __init__(self, tokenizer: Any, vocab: int, eos: list[int]) -> None:
        import outlines_core
        from outlines_core.json_schema import build_regex_from_schema
        from outlines_core.kernels import torch as kernels

        self.oc, self.kernels, self.vocab = outlines_core, kernels, vocab
        self.regex = build_regex_from_schema(json.dumps(SCHEMA), whitespace_pattern="")
        decoder = {v: k for k, v in _bytes_to_unicode().items()}
        tokens: dict[bytes, list[int]] = {}
        special = set(tokenizer.all_special_ids)
        for token, i in tokenizer.get_vocab().items():
            if i in special:
                continue
            tokens.setdefault(bytes(decoder[c] for c in token), []).append(i)
        self.vocabulary = outlines_core.Vocabulary(eos[0], tokens)

    def compile(self) -> Any:
        return self.oc.Index(self.regex, self.vocabulary)

    def matchers(self, grammar: Any, n: int) -> list[Any]:
        self.mask = self.kernels.allocate_token_bitmask(self.vocab)  # one row: its fill takes a 1-row mask
        self.masks = self.mask.repeat(n, 1)
        return [self.oc.Guide(grammar) for _ in range(n)]

    def constrain(self, matchers: list[Any], logits: Any) -> None:
        for i, g in enumerate(matchers):
            self.kernels.fill_next_token_bitmask(g, self.mask)
            self.masks[i] = self.mask[0]
        self.kernels.apply_token_bitmask_inplace(logits, self.masks[: len(matchers)])

    def accept(self, matchers: list[Any], tokens: list[int]) -> None:
        for g, t in zip(matchers, tokens, strict=True):
            if not g.is_finished():
                g.advance(t)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-character table, which byte-level BPE vocabularies are written in."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    path = str(resolve_model("default").path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16).eval()
    vocab = model.config.vocab_size
    eos = [tokenizer.eos_token_id]
    prompts = ["Order: two coffees.", "Order: five croissants.", "Order: one tea.", "Order: four sandwiches."]
    with torch.inference_mode():
        ids = tokenizer(prompts, return_tensors="pt", padding=True)
        base = model(**ids).logits[:, -1, :]
    logits0 = base.repeat(-(-args.rows // len(prompts)), 1)[: args.rows].contiguous()
    print(f"{args.rows} rows x {args.steps} steps, vocabulary {vocab}, bf16 logits, {torch.get_num_threads()} threads")

    def plain_step() -> float:
        logits = logits0.clone()
        start = time.perf_counter()
        logits.max(dim=-1).indices.tolist()
        return time.perf_counter() - start

    plain = statistics.median(plain_step() for _ in range(args.steps * args.repeats))
    print(f"{'engine':22} {'compile s':>10} {'step ms':>9} {'unconstrained ms':>17} {'ms per row':>11}")
    for cls in (Xgrammar, Llguidance, OutlinesCore):
        try:
            engine = cls(tokenizer, vocab, eos)
            start = time.perf_counter()
            grammar = engine.compile()
            compile_s = time.perf_counter() - start
        except Exception as err:  # an engine that cannot take this vocabulary or schema is reported, not fatal
            print(f"{cls.name:22} failed: {type(err).__name__}: {str(err)[:120]}")
            continue
        times = []
        for _ in range(args.repeats):
            matchers = engine.matchers(grammar, args.rows)
            for _step in range(args.steps):
                logits = logits0.clone()
                start = time.perf_counter()
                engine.constrain(matchers, logits)
                engine.accept(matchers, logits.max(dim=-1).indices.tolist())
                times.append(time.perf_counter() - start)
        step = statistics.median(times)
        print(f"{cls.name:22} {compile_s:10.2f} {step * 1e3:9.2f} {plain * 1e3:17.2f} {step * 1e3 / args.rows:11.3f}")


if __name__ == "__main__":
    main()
