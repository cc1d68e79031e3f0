"""KV-cache surgery on transformers' ``DynamicCache``: copy, stack, reorder, compact and trim batch rows.

Continuous batching needs what ``model.generate`` never does: rows join and leave a cache in the middle
of decoding. This works on the per-layer ``keys``/``values`` of transformers' cache layers (transformers
>= 4.56), and on our ``BufferedLayer``, which appends into spare capacity instead of copying at each step.
Imported only once the model is loaded, so it imports torch and transformers freely.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from promptarena.errors import BackendError

KV_SPARE = 64  # positions allocated ahead, so that a decode step writes in place instead of concatenating


class BufferedLayer(DynamicLayer):
    """A ``DynamicLayer`` that appends into spare capacity (one copy per 64 steps, not one per step)."""

    def __init__(self) -> None:
        super().__init__()
        self.kbuf: Any = None
        self.vbuf: Any = None
        self.length = 0

    def _views(self) -> None:
        self.keys = self.kbuf[:, :, : self.length]
        self.values = self.vbuf[:, :, : self.length]

    def assign(self, keys: Any, values: Any, spare: int = KV_SPARE) -> None:
        if not self.is_initialized:
            self.lazy_initialization(keys, values)
        b, n = keys.shape[0], keys.shape[2]
        self.kbuf = keys.new_empty((b, keys.shape[1], n + spare, keys.shape[3]))
        self.vbuf = values.new_empty((b, values.shape[1], n + spare, values.shape[3]))
        self.kbuf[:, :, :n] = keys
        self.vbuf[:, :, :n] = values
        self.length = n
        self._views()

    def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        n = key_states.shape[2]
        if self.kbuf is None:
            self.assign(key_states, value_states)
            return self.keys, self.values
        if self.length + n > self.kbuf.shape[2]:
            self.assign(self.keys, self.values, max(KV_SPARE, n))
        self.kbuf[:, :, self.length : self.length + n] = key_states
        self.vbuf[:, :, self.length : self.length + n] = value_states
        self.length += n
        self._views()
        return self.keys, self.values

    def select(self, idx: Any) -> None:
        self.kbuf = self.kbuf.index_select(0, idx)
        self.vbuf = self.vbuf.index_select(0, idx)
        self._views()

    def compact(self, holes: Any, movers: Any, n: int) -> None:
        if holes.numel():
            self.kbuf[holes] = self.kbuf[movers]
            self.vbuf[holes] = self.vbuf[movers]
        self.kbuf = self.kbuf[:n]
        self.vbuf = self.vbuf[:n]
        self._views()

    def trim(self, start: int) -> None:
        self.kbuf = self.kbuf[:, :, start:]
        self.vbuf = self.vbuf[:, :, start:]
        self.length -= start
        self._views()


def new_cache(model: Any) -> Any:
    """A ``DynamicCache`` whose plain layers are replaced by buffered ones (others are left as they are)."""
    try:
        cache = DynamicCache(config=model.config)
    except TypeError:  # older transformers: no config argument
        cache = DynamicCache()
    layers = getattr(cache, "layers", None)
    if layers and all(type(layer) is DynamicLayer for layer in layers):
        cache.layers = [BufferedLayer() for _ in layers]
    return cache


def cache_layers(cache: Any) -> list[Any]:
    """The cache's layers, each with ``keys`` and ``values`` (or the error naming the transformers floor)."""
    layers = getattr(cache, "layers", None)
    if layers is None or not all(hasattr(layer, "keys") and hasattr(layer, "values") for layer in layers):
        raise BackendError(
            "this transformers version's KV cache has no per-layer keys/values: upgrade transformers (>= 4.56)."
        )
    return layers


def _assign(layer: Any, keys: Any, values: Any) -> None:
    if hasattr(layer, "assign"):
        layer.assign(keys, values)
    else:
        if not layer.is_initialized:
            layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys, values


def fill(cache: Any, kv: list[tuple[Any, Any]], idx: Any) -> None:
    """Initialise an empty cache with rows ``idx`` of the given per-layer keys and values."""
    for layer, (keys, values) in zip(cache_layers(cache), kv, strict=True):
        _assign(layer, keys.index_select(0, idx), values.index_select(0, idx))


def select(cache: Any, idx: Any) -> Any:
    """Keep (or repeat) the batch rows ``idx`` of every layer's keys and values."""
    for layer in cache_layers(cache):
        if hasattr(layer, "select"):
            layer.select(idx)
        elif layer.keys is not None and layer.keys.numel():
            layer.keys = layer.keys.index_select(0, idx)
            layer.values = layer.values.index_select(0, idx)
    return cache


def merge(cache_a: Any, mask_a: Any, cache_b: Any, mask_b: Any) -> tuple[Any, Any]:
    """Stack two caches along the batch, left-padding the shorter one (its mask hides the padding)."""
    length = max(mask_a.shape[1], mask_b.shape[1])

    def pad(t: Any, n: int, dim: int) -> Any:
        if n == 0:
            return t
        shape = list(t.shape)
        shape[dim] = n
        return torch.cat([t.new_zeros(shape), t], dim=dim)

    na, nb = length - mask_a.shape[1], length - mask_b.shape[1]
    for la, lb in zip(cache_layers(cache_a), cache_layers(cache_b), strict=True):
        keys = torch.cat([pad(la.keys, na, 2), pad(lb.keys, nb, 2)], dim=0)
        values = torch.cat([pad(la.values, na, 2), pad(lb.values, nb, 2)], dim=0)
        _assign(la, keys, values)
    mask = torch.cat([pad(mask_a, na, 1), pad(mask_b, nb, 1)])
    return cache_a, mask


def compaction(keep: list[int]) -> tuple[list[int], list[int], list[int]]:
    """How to keep only the rows ``keep``: the last kept rows move into the gaps (so only those are copied).

    Returns (holes, movers, order): row ``movers[i]`` moves to ``holes[i]``; ``order[i]`` is the old index
    of the row now at ``i``.
    """
    n = len(keep)
    kept = set(keep)
    holes = [i for i in range(n) if i not in kept]
    movers = [j for j in keep if j >= n]
    order = list(range(n))
    for hole, mover in zip(holes, movers, strict=True):
        order[hole] = mover
    return holes, movers, order


def compact(cache: Any, keep: list[int], device: Any) -> tuple[Any, Any]:
    """Drop the rows not in ``keep`` (see :func:`compaction`).

    Returns the cache and the new row order as old row indices (a tensor, to reorder per-row state).
    """
    holes, movers, order = compaction(keep)
    n = len(keep)
    order_t = torch.tensor(order, device=device)
    holes_t = torch.tensor(holes, dtype=torch.long, device=device)
    movers_t = torch.tensor(movers, dtype=torch.long, device=device)
    for layer in cache_layers(cache):
        if hasattr(layer, "compact"):
            layer.compact(holes_t, movers_t, n)
        elif layer.keys is not None and layer.keys.numel():
            layer.keys = layer.keys.index_select(0, order_t)
            layer.values = layer.values.index_select(0, order_t)
    return cache, order_t


def trim(cache: Any, mask: Any) -> tuple[Any, Any]:
    """Drop leading cache positions that no remaining row attends to (left by rows that left)."""
    used = mask.any(dim=0).nonzero()
    start = int(used[0]) if used.numel() else 0
    if start == 0:
        return cache, mask
    for layer in cache_layers(cache):
        if hasattr(layer, "trim"):
            layer.trim(start)
        else:
            layer.keys = layer.keys[:, :, start:, :]
            layer.values = layer.values[:, :, start:, :]
    return cache, mask[:, start:]
