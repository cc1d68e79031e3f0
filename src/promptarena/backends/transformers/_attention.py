"""Attention for the CPU: a fast decode step, and a batch-invariant attention for every step.

Fast (:func:`attention`): a decode step attends one query per row to a short cache. On CPU, SDPA's flash
kernel spends most of such a call on splitting and scheduling work that is a few megaflops; plain batched
matmuls over the grouped query heads (no copy of the shared key/value heads) do the same sums 1.6 to 2.8
times faster. Only fp32 takes this path: it computes the softmax in the input's own precision, which in bf16 would round
more than the flash kernel (it accumulates in fp32). Everything else (prefill, bf16, GPUs, masks this does
not read) goes to transformers' SDPA function unchanged.

Batch-invariant (:func:`invariant_attention`): a row's output does not depend on the other rows of the batch,
on its padding, nor on how its prompt was split between prefills. The kernels' sums over keys group their
terms by column (SIMD lanes, blocks), so a row's keys always start at column 0 and the width is a multiple
of ``WIDTH`` in a prefill, ``STEP_WIDTH`` in a decode step (masked columns then add exact zeros in the same
places); the values' sum is taken ``KEY_CHUNK`` keys per matmul, below the size from which torch's fp32
matmul splits that sum by the key count. Imported only once the model is loaded.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from promptarena.errors import BackendError

try:
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
except ImportError:  # a transformers without pluggable attention: the model keeps its own SDPA
    AttentionInterface = None

NAME = "promptarena_sdpa"  # SDPA, with the CPU decode step below; the masks are SDPA's
INVARIANT = "promptarena_invariant"  # batch-invariant attention; the masks are SDPA's
WIDTH = 64  # a prefill's key columns are padded to a multiple of this (fp32 matmuls split other sums otherwise)
STEP_WIDTH = 16  # a decode step's key columns (one query per row) are padded to a multiple of this
KEY_CHUNK = 256  # keys per matmul of the weighted sum of values (torch's fp32 matmul splits it from 384)
SCORES = 1 << 24  # attention scores held at once in a prefill (64 MiB of fp32): longer ones go by query chunks


def attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """Attention of one query per row as two batched matmuls; any other case through SDPA."""
    b, heads, q, dim = query.shape
    mask_ok = attention_mask is None or (attention_mask.dim() == 4 and attention_mask.shape[1:3] == (1, 1))
    if (
        q != 1
        or query.device.type != "cpu"
        or query.dtype != torch.float32
        or not mask_ok
        or dropout
        or kwargs.get("softcap") is not None
        or kwargs.get("position_bias") is not None
    ):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    kv_heads = key.shape[1]
    grouped = query.reshape(b, kv_heads, heads // kv_heads, dim)  # query head i reads key/value head i // group
    scores = torch.matmul(grouped, key.transpose(-1, -2)).mul_(dim**-0.5 if scaling is None else scaling)
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            scores.masked_fill_(~attention_mask, float("-inf"))
        else:
            scores.add_(attention_mask)
    out = torch.matmul(scores.softmax(dim=-1), value)
    return out.reshape(b, 1, heads, value.shape[-1]), None  # values may be narrower than queries and keys


def invariant_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    rows_aligned: bool = False,
    row_floor: int = 1,
    **kwargs: Any,
) -> tuple[Any, None]:
    """Attention whose result for a row is the same whatever else is in the batch.

    ``rows_aligned``: the caller's keys already start at column 0 of each row and their width is a multiple
    of ``STEP_WIDTH`` (decoding in slots); otherwise each row's keys are first gathered so, to a multiple of
    ``WIDTH`` (a prefill). A bf16 decode step runs SDPA's flash kernel (fp32 sums inside, invariant so
    aligned); everything else takes scores and softmax in fp32 and sums values ``KEY_CHUNK`` keys at a time.
    A prefill's matmuls get at least ``row_floor`` rows (torch's fp32 matmul takes another kernel below 4): a
    short chunk of queries is padded. A decode step always has one query per row, so the same number of rows
    at every step.
    """
    if dropout or kwargs.get("softcap") is not None or kwargs.get("position_bias") is not None:
        raise NotImplementedError("batch-invariant attention supports neither dropout, softcap nor position bias")
    b, heads, q, dim = query.shape
    scale = dim**-0.5 if scaling is None else scaling
    kv_heads = key.shape[1]
    group = heads // kv_heads
    if not rows_aligned:
        key, value, attention_mask = align_rows(key, value, attention_mask, q)
    elif attention_mask is not None and attention_mask.dtype != torch.bool:
        attention_mask = attention_mask == 0
    if rows_aligned and q == 1 and query.dtype == torch.bfloat16:
        packed = query.reshape(b, kv_heads, group, dim)  # query head i reads key/value head i // group
        out = torch.nn.functional.scaled_dot_product_attention(
            packed, key, value, attn_mask=attention_mask, scale=scale
        )
        return out.reshape(b, heads, 1, value.shape[-1]).transpose(1, 2), None
    width = key.shape[2]
    grouped = query.float().reshape(b, kv_heads, group, q, dim)
    keys_t, values = key.float().transpose(-1, -2), value.float()
    step = max(1, SCORES // (b * heads * width))
    parts = []
    for start in range(0, q, step):
        n = min(q, start + step) - start
        chunk = grouped[:, :, :, start : start + n]
        allowed = None
        if attention_mask is not None:
            allowed = attention_mask if attention_mask.shape[2] == 1 else attention_mask[:, :, start : start + n]
        padded = n if rows_aligned else max(n, -(-row_floor // group))  # queries given to the matmuls
        if padded > n:
            chunk = torch.nn.functional.pad(chunk, (0, 0, 0, padded - n))
            if allowed is not None and allowed.shape[2] > 1:
                allowed = torch.nn.functional.pad(allowed, (0, 0, 0, padded - n), value=True)
        chunk = chunk.reshape(b, kv_heads, group * padded, dim)
        scores = torch.matmul(chunk, keys_t).mul_(scale).view(b, kv_heads, group, padded, width)
        if allowed is not None:
            scores.masked_fill_(~allowed[:, :, None], float("-inf"))
        probs = scores.softmax(dim=-1).view(b, kv_heads, group * padded, width)
        total = torch.matmul(probs[..., :KEY_CHUNK], values[:, :, :KEY_CHUNK])
        for first in range(KEY_CHUNK, width, KEY_CHUNK):
            total += torch.matmul(probs[..., first : first + KEY_CHUNK], values[:, :, first : first + KEY_CHUNK])
        parts.append(total.view(b, kv_heads, group, padded, -1)[:, :, :, :n])
    out = parts[0] if len(parts) == 1 else torch.cat(parts, dim=3)
    return out.reshape(b, heads, q, -1).transpose(1, 2).to(query.dtype), None


def align_rows(key: Any, value: Any, mask: Any, q: int) -> tuple[Any, Any, Any]:
    """Each row's keys moved to columns 0..n-1 (the columns any of its queries attends to, in order), to a width
    that is a multiple of ``WIDTH``; the (rows, 1, queries, width) boolean mask that goes with them. The columns
    after a row's tokens hold other (finite) keys of the cache: masked, their weight is an exact zero.

    ``mask`` is SDPA's: boolean or additive, ``(rows, 1, queries, keys)``; ``None`` means causal, no padding.
    """
    b, kv_heads, length, dim = key.shape
    width = -(-length // WIDTH) * WIDTH
    device = key.device
    if mask is None:  # the queries are the last q keys, causal
        columns = torch.arange(width, device=device)
        rows = torch.arange(length - q, length, device=device)[:, None]
        allowed = (columns[None, :] <= rows).expand(b, 1, q, width)
        if width != length:
            pad = (0, 0, 0, width - length)
            key, value = torch.nn.functional.pad(key, pad), torch.nn.functional.pad(value, pad)
        return key, value, allowed
    allowed = mask if mask.dtype == torch.bool else mask == 0
    allowed = allowed.expand(b, 1, allowed.shape[2], length)
    used = allowed.any(dim=2)  # (b, 1, keys): the row's real tokens
    counts = used.sum(dim=-1)  # (b, 1)
    width = max(WIDTH, -(-int(counts.max()) // WIDTH) * WIDTH)
    order = torch.argsort((~used).to(torch.int8), dim=-1, stable=True)  # the used columns first, in order
    if order.shape[-1] < width:
        order = torch.nn.functional.pad(order, (0, width - order.shape[-1]))
    order = order[..., :width]  # (b, 1, width)
    inside = torch.arange(width, device=device)[None, None, :] < counts[..., None]  # (b, 1, width)
    key = key.gather(2, order[..., None].expand(b, kv_heads, width, dim))  # after the row's tokens: masked keys
    value = value.gather(2, order[..., None].expand(b, kv_heads, width, value.shape[-1]))
    allowed = allowed.gather(3, order[:, :, None, :].expand(b, 1, allowed.shape[2], width)) & inside[:, :, None]
    allowed = allowed | ~allowed.any(dim=-1, keepdim=True)  # a padding query attends to nothing: any finite output
    return key, value, allowed


def matmul_floor(config: Any) -> int:
    """The fewest rows from which torch's fp32 matmul gives a row of a prefill's scores and weighted values the
    same result whatever the rows beside it (probed once per load).

    Raises:
        BackendError: this CPU's matmul has no such floor.
    """
    from promptarena.backends.transformers._device import row_floor

    dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    floors = []
    for inner, outer in ((dim, WIDTH), (KEY_CHUNK, dim)):  # scores: over the head; values: over the keys
        weight = torch.randn(1, 3, inner, outer, generator=torch.Generator().manual_seed(0))
        product = functools.partial(_batched, weight=weight)
        floors.append(row_floor(product, inner, torch.float32))
    if None in floors:
        raise BackendError(
            "this CPU's fp32 matmul gives a row a result that depends on the rows beside it, so decoding cannot be "
            "batch-invariant here: set `batch_invariant: false` in the suite's model."
        )
    return max(f for f in floors if f is not None)


def _batched(x: Any, weight: Any) -> Any:
    """``x`` (rows, inner) times each of ``weight``'s matrices, as attention's batched matmul; the first result."""
    return torch.matmul(x[None, None].repeat(1, weight.shape[1], 1, 1), weight)[0, 0]


def install(model: Any, invariant: bool = False) -> bool:
    """Switch ``model`` from SDPA to :func:`attention` (or :func:`invariant_attention`); ``False`` (nothing
    changed) for other attention."""
    sdpa = getattr(model.config, "_attn_implementation", None) == "sdpa"
    if not sdpa or AttentionInterface is None or not hasattr(model, "set_attn_implementation"):
        return False
    name, function = NAME, attention
    if invariant:
        floor = matmul_floor(model.config)
        name, function = INVARIANT, functools.partial(invariant_attention, row_floor=floor)
    AttentionInterface.register(name, function)
    AttentionMaskInterface.register(name, sdpa_mask)
    model.set_attn_implementation(name)
    return True
