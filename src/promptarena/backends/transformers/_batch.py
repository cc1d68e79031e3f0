"""The rows being decoded and their state: a batch whose per-row state lives on the device, so that a decode
step runs no Python per row. Which rows join it is decided in ``_admission``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from promptarena.backends.transformers import _kvcache as kv
from promptarena.backends.transformers._admission import Row
from promptarena.backends.transformers._grammar import REDRAW, constrain
from promptarena.backends.transformers._sampling import choose, keep_top


@dataclass
class Batch:
    """The rows being decoded and their state as tensors on the device, one entry per row, in row order.

    Positions, token counts, limits, sampling parameters and the generated tokens stay on the device, so a
    decode step runs no Python per row.
    """

    rows: list[Row]
    cache: Any
    mask: Any  # (rows, cache length) attention mask, long
    last: Any  # (rows,) the token to feed next
    pos: Any  # (rows,) its position
    count: Any  # (rows,) tokens generated so far
    limit: Any  # (rows,) max_new_tokens
    hist: Any  # (rows, width) the generated tokens
    temps: Any
    top_p: Any
    keys: Any  # (rows,) int64 sampling keys
    sampled: bool = False  # some row samples
    nucleus: bool = False  # some row uses top-p
    stops: bool = False  # some row has stop strings
    scored: bool = False  # some row asks for top log-probabilities
    constrained: bool = False  # some row has a response format

    PER_ROW = ("last", "pos", "count", "limit", "hist", "temps", "top_p", "keys")

    @classmethod
    def start(cls, rows: list[Row], cache: Any, mask: Any, width: int) -> Batch:
        """A batch of freshly prefilled rows (no token chosen yet)."""
        device = mask.device
        params = [r.request.params for r in rows]
        n = len(rows)
        return cls(
            rows,
            cache,
            mask,
            last=torch.zeros(n, dtype=torch.long, device=device),
            pos=mask.sum(dim=1),
            count=torch.zeros(n, dtype=torch.long, device=device),
            limit=torch.tensor([p.max_new_tokens for p in params], device=device),
            hist=torch.zeros((n, width), dtype=torch.long, device=device),
            temps=torch.tensor([max(p.temperature, 0.0) for p in params], device=device),
            top_p=torch.tensor([p.top_p for p in params], device=device),
            keys=torch.tensor([int.from_bytes(r.row_key[:8], "little", signed=True) for r in rows], device=device),
        ).flags()

    def flags(self) -> Batch:
        params = [r.request.params for r in self.rows]
        self.sampled = any(p.temperature > 0 for p in params)
        self.nucleus = any(p.temperature > 0 and p.top_p < 1.0 for p in params)
        self.stops = any(p.stop for p in params)
        self.scored = any(p.top_logprobs for p in params)
        self.constrained = any(r.grammar is not None for r in self.rows)
        return self

    def advance(self, logits: Any) -> None:
        """Choose each row's next token from ``logits`` and record it."""
        self.last = choose(
            logits, self.temps, self.top_p, self.keys, self.count, sampled=self.sampled, nucleus=self.nucleus
        )
        if self.constrained:
            self.last = constrain(self.rows, logits, self.last, self._choose_again)
        if self.scored:
            keep_top(self.rows, logits, self.last)
        self.hist.scatter_(1, self.count.clamp(max=self.hist.shape[1] - 1)[:, None], self.last[:, None])
        self.count += 1

    def _choose_again(self, logits: Any, idx: Any) -> Any:
        """The tokens of the rows at ``idx`` chosen from their masked ``logits``, with noise of their own."""
        pick = (self.temps, self.top_p, self.keys, self.count + REDRAW)
        return choose(logits, *(t.index_select(0, idx) for t in pick), sampled=self.sampled, nucleus=self.nucleus)

    def step(self, model: Any, cache_kw: str) -> None:
        """One decode step: feed every row's last token, choose the next."""
        self.mask = torch.cat([self.mask, self.mask.new_ones((len(self.rows), 1))], dim=1)
        out = model(
            input_ids=self.last[:, None],
            attention_mask=self.mask,
            position_ids=self.pos[:, None],
            use_cache=True,
            logits_to_keep=1,
            **{cache_kw: self.cache},
        )
        self.pos += 1
        self.advance(out.logits[:, -1, :])

    def extend(self, other: Batch) -> Batch:
        """This batch with ``other``'s rows appended (caches stacked, the shorter one left-padded)."""
        self.cache, self.mask = kv.merge(self.cache, self.mask, other.cache, other.mask)
        return self.append_rows(other)

    def keep(self, keep: list[int]) -> Batch:
        """Only the rows at ``keep`` (moved into the gaps of those that left); the cache is trimmed."""
        self.cache, order = kv.compact(self.cache, keep, self.mask.device)
        self.mask = self.mask[order]
        self.cache, self.mask = kv.trim(self.cache, self.mask)
        return self.reorder_rows(order.tolist())

    def append_rows(self, other: Batch) -> Batch:
        """``other``'s rows and their per-row state after this batch's (the cache is the caller's)."""
        for name in self.PER_ROW:
            setattr(self, name, torch.cat([getattr(self, name), getattr(other, name)]))
        self.rows += other.rows
        return self.flags()

    def reorder_rows(self, order: list[int]) -> Batch:
        """Rows and per-row state in ``order`` (old row indices; the cache is the caller's)."""
        idx = torch.tensor(order, device=self.last.device)
        for name in self.PER_ROW:
            setattr(self, name, getattr(self, name)[idx])
        self.rows = [self.rows[i] for i in order]
        return self.flags()
