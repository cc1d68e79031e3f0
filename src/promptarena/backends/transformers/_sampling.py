"""Sampling kernels: pick each row's next token, greedy or sampled, reproducibly and independent of the batch.

Sampling noise is a hash of (prompt, seed, sample index, step), so a sample does not depend on which other
rows share its batch, and a run is reproducible. Imported only once the model is loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from promptarena.backends.transformers._scheduler import Row

_NUCLEUS_TOPK = 512


def noise(row_key: bytes, step: int) -> float:
    """A uniform number in [0, 1) that depends only on the row and the step (counter-based sampling)."""
    digest = hashlib.blake2b(row_key + step.to_bytes(4, "little"), digest_size=8).digest()
    return (int.from_bytes(digest, "little") >> 11) / float(1 << 53)


def choose(rows: Sequence[Row], logits: Any) -> Any:
    """Pick each row's next token: argmax when greedy, else inverse-CDF sampling with per-row noise.

    Appends the token to each row and returns them as a tensor, to feed the next step.
    """
    device = logits.device
    sampled = [i for i, r in enumerate(rows) if r.request.params.temperature > 0]
    if not sampled:
        tokens = logits.max(dim=-1).indices  # the first maximum, as argmax, but faster on CPU
    else:
        tokens = torch.empty(len(rows), dtype=torch.long, device=device)
        greedy = [i for i, r in enumerate(rows) if r.request.params.temperature <= 0]
        if greedy:
            gi = torch.tensor(greedy, device=device)
            tokens[gi] = logits.index_select(0, gi).max(dim=-1).indices
        si = torch.tensor(sampled, device=device)
        temps = torch.tensor([rows[i].request.params.temperature for i in sampled], device=device)
        scaled = logits.index_select(0, si).float().div_(temps[:, None])
        weights = scaled.sub_(scaled.max(dim=-1, keepdim=True).values).exp_()
        nucleus = [j for j, i in enumerate(sampled) if rows[i].request.params.top_p < 1.0]
        if nucleus:
            sub = torch.tensor(nucleus, device=device)
            top_p = torch.tensor([rows[sampled[j]].request.params.top_p for j in nucleus], device=device)
            part = weights[sub]
            weights[sub] = nucleus_weights(part / part.sum(dim=-1, keepdim=True), top_p)
        u = torch.tensor([noise(rows[i].row_key, len(rows[i].tokens)) for i in sampled], device=device)
        tokens[si] = inverse_cdf(weights, u)
    for row, token in zip(rows, tokens.tolist(), strict=True):
        row.tokens.append(token)
    return tokens


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
    """Zero the probabilities outside each row's top-p nucleus (smallest set with mass >= top_p)."""
    k = min(_NUCLEUS_TOPK, probs.shape[-1])
    values, order = probs.topk(k, dim=-1)
    if not bool((values.sum(dim=-1) >= top_p).all()):
        values, order = probs.sort(dim=-1, descending=True)
    before = values.cumsum(dim=-1) - values
    values = torch.where(before < top_p[:, None], values, torch.zeros_like(values))
    return torch.zeros_like(probs).scatter_(1, order, values)
