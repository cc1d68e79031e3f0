"""Sampling kernels: pick each row's next token, greedy or sampled, reproducibly and independent of the batch.

Sampling noise is a counter-based hash of (row key, step) computed on the device, where the row key hashes
(prompt, seed, sample index): a sample does not depend on which other rows share its batch, a run is
reproducible, and no per-row Python runs in a decode step. Imported only once the model is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from promptarena.types import TokenLogprobs

_NUCLEUS_TOPK = 512
_GOLDEN = 0x9E3779B97F4A7C15 - (1 << 64)  # splitmix64's constants, as signed 64-bit integers
_MIX1 = 0xBF58476D1CE4E5B9 - (1 << 64)
_MIX2 = 0x94D049BB133111EB - (1 << 64)


def _shr(x: Any, k: int) -> Any:
    """Logical right shift of signed 64-bit integers (torch shifts arithmetically)."""
    return (x >> k) & ((1 << (64 - k)) - 1)


def noise(keys: Any, steps: Any) -> Any:
    """Uniform numbers in [0, 1), one per row, that depend only on the row's key and the step (splitmix64)."""
    z = keys + steps * _GOLDEN
    z = (z ^ _shr(z, 30)) * _MIX1
    z = (z ^ _shr(z, 27)) * _MIX2
    z = z ^ _shr(z, 31)
    return _shr(z, 11).double() / float(1 << 53)


def choose(logits: Any, temps: Any, top_p: Any, keys: Any, steps: Any, *, sampled: bool, nucleus: bool) -> Any:
    """Each row's next token: argmax when its temperature is 0, else inverse-CDF sampling with the row's noise.

    ``temps``, ``top_p``, ``keys`` and ``steps`` are per-row tensors on the logits' device; ``sampled`` and
    ``nucleus`` say whether any row samples or uses top-p, so that greedy batches skip the sampling work.
    """
    greedy = logits.max(dim=-1).indices  # the first maximum, as argmax, but faster on CPU
    if not sampled:
        return greedy
    scaled = logits.float().div_(temps.clamp(min=1e-6)[:, None])
    weights = scaled.sub_(scaled.max(dim=-1, keepdim=True).values).exp_()
    if nucleus:
        probs = weights / weights.sum(dim=-1, keepdim=True)
        weights = torch.where((top_p < 1.0)[:, None], nucleus_weights(probs, top_p), weights)
    tokens = inverse_cdf(weights, noise(keys, steps))
    return torch.where(temps > 0, tokens, greedy)


def inverse_cdf(weights: Any, u: Any, block: int = 128) -> Any:
    """For each row, the token where the cumulative weight first exceeds ``u`` times the row's total.

    Works in two levels (block sums, then one block) instead of a cumulative sum over the whole
    vocabulary, which costs as much as the rest of a sampling step. Zero-weight tokens are never picked.
    """
    rows, vocab = weights.shape
    extra = (-vocab) % block
    if extra:
        weights = torch.nn.functional.pad(weights, (0, extra))
    blocks = weights.view(rows, -1, block)
    sums = blocks.sum(dim=-1)
    cdf = sums.cumsum(dim=-1)
    target = u.to(cdf.dtype) * cdf[:, -1]
    positions = torch.arange(sums.shape[1], device=weights.device)
    last_block = torch.where(sums > 0, positions, 0).max(dim=-1).values
    b = torch.searchsorted(cdf, target[:, None], right=True).squeeze(1).clamp(max=last_block)
    below = torch.where(b > 0, cdf.gather(1, (b - 1).clamp(min=0)[:, None]).squeeze(1), torch.zeros_like(target))
    inner = blocks[torch.arange(rows, device=weights.device), b]
    inner_cdf = inner.cumsum(dim=-1)
    offsets = torch.arange(block, device=weights.device)
    last_inner = torch.where(inner > 0, offsets, 0).max(dim=-1).values
    j = torch.searchsorted(inner_cdf, (target - below)[:, None], right=True).squeeze(1).clamp(max=last_inner)
    return b * block + j


def nucleus_weights(probs: Any, top_p: Any) -> Any:
    """Zero the probabilities outside each row's top-p nucleus: the tokens at least as probable as the last one
    that the smallest set with mass >= top_p needs.

    Ties with that token are all kept, so a row's nucleus depends neither on the order of equal probabilities
    (bf16 logits make them common) nor on whether the top ``_NUCLEUS_TOPK`` tokens or the whole vocabulary were
    sorted, which the other rows of the batch decide.
    """
    k = min(_NUCLEUS_TOPK, probs.shape[-1])
    values = probs.topk(k, dim=-1).values
    if not bool(((values.sum(dim=-1) >= top_p) | (top_p >= 1.0)).all()):
        values = probs.sort(dim=-1, descending=True).values
    before = values.cumsum(dim=-1) - values
    last = (before < top_p[:, None]).sum(dim=-1, keepdim=True) - 1
    threshold = values.gather(1, last.clamp(min=0))
    return torch.where(probs >= threshold, probs, torch.zeros_like(probs))


def keep_top(rows: Sequence[Any], logits: Any, chosen: Any) -> None:
    """For the rows that ask for top log-probabilities, append this step's (chosen token, its log-probability,
    [(token, log-probability), ...]) to ``row.top``: read back at once, as only a grader's short verdicts ask."""
    asking = [i for i, row in enumerate(rows) if row.request.params.top_logprobs]
    idx = torch.tensor(asking, device=logits.device)
    logprobs = logits.index_select(0, idx).float().log_softmax(dim=-1)
    k = min(max(rows[i].request.params.top_logprobs for i in asking), logprobs.shape[-1])
    top = logprobs.topk(k, dim=-1)
    tokens = chosen.index_select(0, idx)
    picked = logprobs.gather(1, tokens[:, None])[:, 0]
    steps = zip(asking, tokens.tolist(), picked.tolist(), top.indices.tolist(), top.values.tolist(), strict=True)
    for i, token, logprob, ids, values in steps:
        n = rows[i].request.params.top_logprobs
        rows[i].top.append((token, logprob, list(zip(ids[:n], values[:n], strict=True))))


def token_logprobs(tokenizer: Any, steps: Sequence[Any]) -> tuple[TokenLogprobs, ...]:
    """Kept steps (see ``keep_top``) with each token as its text."""
    text = tokenizer.decode
    return tuple(TokenLogprobs(text([token]), lp, tuple((text([t]), v) for t, v in top)) for token, lp, top in steps)
