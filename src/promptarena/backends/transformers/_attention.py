"""Decode-step attention for the CPU: two small matmuls where SDPA's flash kernel pays its tiling overhead.

A decode step attends one query per row to a short cache. On CPU, SDPA's flash kernel spends most of such
a call on splitting and scheduling work that is a few megaflops; plain batched matmuls over the grouped
query heads (no copy of the shared key/value heads) do the same sums 1.6 to 2.8 times faster. Only
fp32 takes this path: it computes the softmax in the input's own precision, which in bf16 would round
more than the flash kernel (it accumulates in fp32). Everything else (prefill, bf16, GPUs, masks this does
not read) goes to transformers' SDPA function unchanged. Imported only once the model is loaded.
"""

from __future__ import annotations

from typing import Any

import torch

try:
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
except ImportError:  # a transformers without pluggable attention: the model keeps its own SDPA
    AttentionInterface = None

NAME = "promptarena_sdpa"  # SDPA, with the CPU decode step below; the masks are SDPA's


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


def install(model: Any) -> bool:
    """Switch ``model`` from SDPA to :func:`attention`; ``False`` (nothing changed) for other attention."""
    sdpa = getattr(model.config, "_attn_implementation", None) == "sdpa"
    if not sdpa or AttentionInterface is None or not hasattr(model, "set_attn_implementation"):
        return False
    AttentionInterface.register(NAME, attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    model.set_attn_implementation(NAME)
    return True
