"""Continuous batching: admit groups of rows while places are free, prefill them, decode, and let finished rows go.

Rows that finished leave the batch and the KV cache at once and waiting rows take their places (plain
``generate`` keeps computing finished rows until the longest one ends); requests that differ only in
``sample_index`` form one group, prefilled once, whose KV cache is copied to each row. Imported only once
the model is loaded.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from promptarena.backends.transformers import _kvcache as kv
from promptarena.backends.transformers._device import default_batch_size
from promptarena.backends.transformers._sampling import choose
from promptarena.errors import BackendError
from promptarena.types import Generation, GenerationRequest

MIN_SHARED_PREFIX = 8
Encode = Callable[[GenerationRequest], list[int]]  # a request's prompt tokens


@dataclass
class Row:
    """One request being decoded."""

    index: int
    request: GenerationRequest
    prompt_len: int
    row_key: bytes
    started: float = 0.0
    tokens: list[int] = field(default_factory=list)


@dataclass
class Group:
    """Requests with the same prompt and parameters: prefilled once."""

    prompt_ids: list[int]
    rows: list[Row]


def group_requests(requests: Sequence[GenerationRequest], encode: Encode) -> list[Group]:
    """Group requests sharing a prompt (shared prefill), sorted by prompt length (less padding)."""
    by_key: dict[str, Group] = {}
    for i, request in enumerate(requests):
        key = request.prompt_key()
        group = by_key.get(key)
        if group is None:
            group = by_key[key] = Group(prompt_ids=encode(request), rows=[])
        row_key = hashlib.sha256(f"{key}:{request.sample_index}".encode()).digest()
        group.rows.append(Row(i, request, len(group.prompt_ids), row_key))
    return sorted(by_key.values(), key=lambda g: len(g.prompt_ids))


def common_prefix(seqs: list[list[int]]) -> int:
    """Length of the longest common prefix of ``seqs``."""
    n = 0
    for column in zip(*seqs, strict=False):
        if any(t != column[0] for t in column):
            break
        n += 1
    return n


class Scheduler:
    """Decodes groups of rows on one loaded model; keeps the KV cache of the last shared prompt head."""

    def __init__(
        self, model: Any, tokenizer: Any, eos_ids: frozenset[int], cache_kw: str, device: str, dtype: str
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.eos_ids = eos_ids
        self.cache_kw = cache_kw
        self.device = device
        self.dtype = dtype
        self._prefix_kv: dict[tuple[int, ...], list[tuple[Any, Any]]] = {}

    def run(
        self,
        requests: Sequence[GenerationRequest],
        encode: Encode,
        batch_size: int | None,
    ) -> Iterator[tuple[int, Generation]]:
        """Yield ``(index, generation)`` as rows finish; out of GPU memory, go on with half the rows at a time."""
        oom = getattr(torch.cuda, "OutOfMemoryError", RuntimeError)
        pending = deque(group_requests(requests, encode))
        if batch_size is None:
            longest = max(len(g.prompt_ids) for g in pending) + max(
                r.request.params.max_new_tokens for g in pending for r in g.rows
            )
            batch_size = default_batch_size(self.model.config, self.device, self.dtype, longest)
        done: set[int] = set()
        while pending:
            try:
                for index, generation in self.decode(pending, batch_size):
                    done.add(index)
                    yield index, generation
            except oom as err:
                if batch_size == 1:
                    raise BackendError(
                        f"out of GPU memory even with one row at a time on {self.device}: use a smaller model "
                        "or `device: cpu`."
                    ) from err
                torch.cuda.empty_cache()
                batch_size = max(1, batch_size // 2)
                groups = group_requests(requests, encode)
                for group in groups:
                    group.rows = [r for r in group.rows if r.index not in done]
                pending = deque(g for g in groups if g.rows)

    def decode(self, pending: deque[Group], batch_size: int) -> Iterator[tuple[int, Generation]]:
        """Continuous batching over ``pending``: admit groups while rows are free, drop rows that finish."""
        model, device = self.model, self.device
        active: list[Row] = []
        cache: Any = None
        mask: Any = None  # (rows, cache length + 1) attention mask, long
        last: Any = None  # (rows,) token to feed next
        with torch.inference_mode():
            while pending or active:
                # A short tail (up to a quarter batch) joins now rather than costing a wave of its own:
                # a step costs nearly the same for 64 rows as for 80.
                waiting = sum(len(g.rows) for g in pending)
                limit = batch_size if len(active) + waiting > batch_size + batch_size // 4 else batch_size * 2
                free = min(limit - len(active), waiting)
                if pending and (not active or free >= max(1, min(batch_size // 4, waiting))):
                    admitted = self._take(pending, free)
                    for g in admitted:  # max_new_tokens <= 0: nothing to generate
                        for row in [r for r in g.rows if r.request.params.max_new_tokens <= 0]:
                            g.rows.remove(row)
                            yield row.index, Generation("", row.prompt_len, 0, 0.0, "length")
                    admitted = [g for g in admitted if g.rows]
                    if admitted:
                        new_rows, new_cache, new_mask, logits = self._prefill(admitted)
                        first = choose(new_rows, logits)
                        if active:
                            cache, mask = kv.merge(cache, mask, new_cache, new_mask)
                            last = torch.cat([last, first])
                        else:
                            cache, mask, last = new_cache, new_mask, first
                        active += new_rows
                else:
                    ones = torch.ones((len(active), 1), dtype=mask.dtype, device=device)
                    mask = torch.cat([mask, ones], dim=1)
                    positions = torch.tensor([[r.prompt_len + len(r.tokens) - 1] for r in active], device=device)
                    out = model(
                        input_ids=last[:, None],
                        attention_mask=mask,
                        position_ids=positions,
                        use_cache=True,
                        logits_to_keep=1,
                        **{self.cache_kw: cache},
                    )
                    last = choose(active, out.logits[:, -1, :])
                keep: list[int] = []
                now = time.perf_counter()
                finished: list[tuple[int, Generation]] = []
                for i, row in enumerate(active):
                    result = self._finish(row, now)
                    if result is None:
                        keep.append(i)
                    else:
                        finished.append(result)
                if finished:
                    if keep:
                        cache, order = kv.compact(cache, keep, device)
                        mask, last = mask[order], last[order]
                        active = [active[i] for i in order.tolist()]
                        cache, mask = kv.trim(cache, mask)
                    else:
                        active, cache, mask, last = [], None, None, None
                    yield from finished

    def _take(self, pending: deque[Group], free: int) -> list[Group]:
        """Pop whole groups that fit into ``free`` rows (splitting a group only when nothing else fits)."""
        taken: list[Group] = []
        while pending and free > 0:
            group = pending[0]
            if len(group.rows) <= free:
                taken.append(pending.popleft())
                free -= len(group.rows)
            elif not taken:
                taken.append(Group(group.prompt_ids, group.rows[:free]))
                group.rows = group.rows[free:]
                free = 0
            else:
                break
        return taken

    def _prefill(self, groups: list[Group]) -> tuple[list[Row], Any, Any, Any]:
        """Run the prompts of ``groups`` once each and copy their KV cache to every row of the group.

        Prompts usually share a long head (the chat template's system prompt): that head is computed once
        (and kept for the next admission) and only the rest of each prompt goes through the model.
        """
        start = time.perf_counter()
        model, device = self.model, self.device
        prompts = [g.prompt_ids for g in groups]
        shared = min(common_prefix(prompts), min(len(p) for p in prompts) - 1) if len(prompts) > 1 else 0
        shared = shared if shared >= MIN_SHARED_PREFIX else 0
        cache = kv.new_cache(model)
        if shared:
            head = tuple(prompts[0][:shared])
            head_kv = self._prefix_kv.get(head)
            if head_kv is None:
                head_cache = kv.new_cache(model)
                model(
                    input_ids=torch.tensor([head], device=device),
                    use_cache=True,
                    logits_to_keep=1,
                    **{self.cache_kw: head_cache},
                )
                head_kv = [(layer.keys, layer.values) for layer in kv.cache_layers(head_cache)]
                self._prefix_kv = {head: head_kv}  # keep one: the next admission most likely shares it
            kv.fill(cache, head_kv, torch.zeros(len(groups), dtype=torch.long, device=device))
        tails = [p[shared:] for p in prompts]
        width = max(len(t) for t in tails)
        pad = self.tokenizer.pad_token_id
        pad = pad if pad is not None else min(self.eos_ids)
        ids = torch.tensor([[pad] * (width - len(t)) + t for t in tails], device=device)
        mask = torch.tensor([[1] * shared + [0] * (width - len(t)) + [1] * len(t) for t in tails], device=device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, shared:]
        out = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **{self.cache_kw: cache},
        )
        logits = out.logits[:, -1, :]
        rows: list[Row] = []
        source: list[int] = []
        for gi, group in enumerate(groups):
            for row in group.rows:
                row.started = start
                rows.append(row)
                source.append(gi)
        if len(source) != len(groups):
            idx = torch.tensor(source, device=self.device)
            cache, mask, logits = kv.select(cache, idx), mask[idx], logits[idx]
        return rows, cache, mask, logits

    def _finish(self, row: Row, now: float) -> tuple[int, Generation] | None:
        """The row's generation if it just finished (EOS, stop string, or length), else ``None``."""
        params = row.request.params
        ended = row.tokens[-1] in self.eos_ids
        body = row.tokens[:-1] if ended else row.tokens
        text: str | None = None
        if params.stop:
            text = self.tokenizer.decode(body, skip_special_tokens=True)
            cut = min((p for p in (text.find(s) for s in params.stop if s) if p >= 0), default=-1)
            if cut >= 0:
                text, ended = text[:cut], True
        if not ended and len(row.tokens) < params.max_new_tokens:
            return None
        if text is None:
            text = self.tokenizer.decode(body, skip_special_tokens=True)
        return row.index, Generation(
            text=text,
            prompt_tokens=row.prompt_len,
            completion_tokens=len(row.tokens),
            latency_s=now - row.started,
            finish_reason="stop" if ended else "length",
        )
