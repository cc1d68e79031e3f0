"""Decoding in fixed slots, replayed as CUDA graphs: the GPU path of continuous batching.

On a GPU a decode step of a small model is bound by the host launching a few hundred kernels, not by the
GPU. Here the KV cache is one fixed buffer per layer, ``(slots, kv heads, columns, head dim)``: a row owns
a slot, writes its key and value at its own next column and attends to the columns its mask marks. With
every address and shape fixed, one decode step for the first ``b`` slots is captured once as a CUDA graph
per bucket size ``b`` (powers of two) and replayed at each step. Rows stay dense in the first slots: when
some finish, the last rows move into the gaps, as in the dynamic path. Without CUDA the same steps run
eagerly, which is how the slot arithmetic is tested on CPU.

Aligned slots (batch-invariant decoding on CPU): a row's keys are moved to columns 0..n-1 of its slot when it
joins, and a step attends over the columns up to the longest row, rounded up to ``attention.STEP_WIDTH``; the
attention is told so (``rows_aligned``), and a row's sums then fall in the same places whatever the other
rows. Imported only once the model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from transformers.cache_utils import DynamicLayer

from promptarena.backends.transformers import _attention as attention
from promptarena.backends.transformers import _kvcache as kv
from promptarena.backends.transformers._batch import Batch
from promptarena.backends.transformers._device import full_attention


class SlotLayer(DynamicLayer):
    """One layer's fixed key and value buffers; ``update`` writes each row's new entry at the row's column."""

    def __init__(self, keys: Any, values: Any, slots: Slots) -> None:
        super().__init__()
        self.kbuf, self.vbuf, self.slots = keys, values, slots
        self.keys, self.values = keys, values
        self.device = keys.device
        self.is_initialized = True

    def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        b, heads = key_states.shape[:2]
        if self.slots.flat is not None:  # rows of (slot, head, column) in the buffers seen as (-1, head dim)
            self.kbuf.view(-1, self.kbuf.shape[-1]).index_copy_(0, self.slots.flat, key_states.reshape(b * heads, -1))
            self.vbuf.view(-1, self.vbuf.shape[-1]).index_copy_(0, self.slots.flat, value_states.reshape(b * heads, -1))
        else:
            rows, cols = self.slots.arange[:b], self.slots.col[:b]
            self.kbuf[rows, :, cols] = key_states[:, :, 0]
            self.vbuf[rows, :, cols] = value_states[:, :, 0]
        width = self.slots.width
        return self.kbuf[:b, :, :width], self.vbuf[:b, :, :width]

    def get_seq_length(self, *args: Any) -> int:
        return 0


@dataclass
class Slots:
    """The fixed buffers of slot decoding and the graphs captured on them, reused while a run fits them."""

    model: Any
    cache_kw: str
    capacity: int  # slots
    columns: int
    graphs: bool
    aligned: bool = False  # rows start at column 0; a step attends to whole blocks of STEP_WIDTH columns
    width: int = 0  # the columns a step attends to
    flat: Any = None  # aligned: where a step writes each row's key and value, as rows of the flattened buffers
    arange: Any = None
    col: Any = None  # (slots,) the column each row writes next
    pos: Any = None  # (slots,) the position id of the token it feeds next
    live: Any = None  # (slots,) 1 for a slot that holds a row, else 0
    valid: Any = None  # (slots, columns) which columns each row attends to
    ids: Any = None  # (slots, 1) the tokens fed
    true: Any = None  # (slots,) all True: the value written into ``valid`` (a tensor, so capture copies nothing)
    cache: Any = None
    captured: dict[int, tuple[Any, Any]] = field(default_factory=dict)  # bucket -> (graph, logits)
    pool: Any = None

    def __post_init__(self) -> None:
        config = self.model.config
        param = next(self.model.parameters())
        device, dtype = param.device, param.dtype
        if self.aligned:
            self.columns = -(-self.columns // attention.STEP_WIDTH) * attention.STEP_WIDTH
        n, c = self.capacity, self.columns
        self.width = c
        heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.arange = torch.arange(n, device=device)
        self.col = torch.zeros(n, dtype=torch.long, device=device)
        self.pos = torch.zeros(n, dtype=torch.long, device=device)
        self.live = torch.zeros(n, dtype=torch.long, device=device)
        self.valid = torch.zeros((n, c), dtype=torch.bool, device=device)
        self.ids = torch.zeros((n, 1), dtype=torch.long, device=device)
        self.true = torch.ones(n, dtype=torch.bool, device=device)
        self.empty(0, n)
        cache = kv.new_cache(self.model)
        cache.layers = [
            SlotLayer(
                torch.zeros((n, heads, c, dim), dtype=dtype, device=device),
                torch.zeros((n, heads, c, dim), dtype=dtype, device=device),
                self,
            )
            for _ in range(config.num_hidden_layers)
        ]
        self.cache = cache

    def empty(self, first: int, end: int) -> None:
        """Slots ``first``…``end`` hold no row: they do not move, and attend to one column, so that their
        (unused) output stays finite."""
        self.live[first:end] = 0
        self.col[first:end] = 0
        self.valid[first:end] = False
        self.valid[first:end, 0] = True

    def fits(self, slots: int, columns: int) -> bool:
        return slots <= self.capacity and columns <= self.columns

    def batch(self, joining: Batch) -> SlotBatch:
        """A batch of freshly prefilled rows, placed in the first slots."""
        return SlotBatch(self, joining)

    def _forward(self, b: int) -> Any:
        """One decode step of the first ``b`` slots: mark each row's column, run the model, move on."""
        self.valid.index_put_((self.arange[:b], self.col[:b]), self.true[:b])
        extra: dict[str, Any] = {self.cache_kw: self.cache}
        if self.aligned:  # only the columns up to the longest row, in whole blocks
            used = int(self.col[:b].max()) + 1
            self.width = min(self.columns, -(-used // attention.STEP_WIDTH) * attention.STEP_WIDTH)
            extra["rows_aligned"] = True
            heads = self.cache.layers[0].kbuf.shape[1]
            first = (self.arange[:b, None] * heads + torch.arange(heads, device=self.col.device)) * self.columns
            self.flat = (first + self.col[:b, None]).flatten()
        out = self.model(
            input_ids=self.ids[:b],
            attention_mask=self.valid[:b, None, None, : self.width],
            position_ids=self.pos[:b, None],
            use_cache=True,
            logits_to_keep=1,
            **extra,
        )
        self.col[:b] += self.live[:b]
        self.pos[:b] += self.live[:b]
        return out.logits

    def step(self, b: int) -> Any:
        """Run a step on the first ``b`` slots (as a graph on CUDA); returns the (b, 1, vocab) logits."""
        if not self.graphs:
            return self._forward(b)
        bucket = next(s for s in self.buckets() if s >= b)
        if bucket not in self.captured:
            self.capture(bucket)
        graph, logits = self.captured[bucket]
        graph.replay()
        return logits[:b]

    def buckets(self) -> list[int]:
        sizes = [1 << i for i in range(self.capacity.bit_length()) if 1 << i < self.capacity]
        return [*sizes, self.capacity]

    def capture(self, b: int) -> None:
        """Capture the step of ``b`` slots; the warm-up runs write only into slots that hold no row."""
        saved = (self.col.clone(), self.pos.clone(), self.live.clone(), self.valid.clone())
        self.live.zero_()  # a warm-up step then moves no row on ...
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):
                self._forward(b)
        torch.cuda.current_stream().wait_stream(stream)
        if self.pool is None:
            self.pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self.pool):
            logits = self._forward(b)
        # ... but it wrote keys and values at the rows' next columns, which the next real step overwrites,
        # and marked those columns valid, which the next real step does too; the state is put back as it was.
        for buf, old in zip((self.col, self.pos, self.live, self.valid), saved, strict=True):
            buf.copy_(old)
        self.captured[b] = (graph, logits)


class SlotBatch(Batch):
    """A :class:`Batch` whose rows decode in the fixed slots of a :class:`Slots`."""

    def __init__(self, slots: Slots, joining: Batch) -> None:
        self.__dict__.update(joining.__dict__)
        self.slots = slots
        self.rows = []
        self._place(joining, 0)
        self.rows = list(joining.rows)
        self.cache = self.mask = None
        self.flags()

    def _place(self, joining: Batch, first: int) -> None:
        """Copy freshly prefilled rows into slots ``first``…: their keys and values, mask and positions (aligned:
        each row's tokens moved to its first columns, in order)."""
        s, m, w = self.slots, len(joining.rows), joining.mask.shape[1]
        end = first + m
        valid, col, order = joining.mask.bool(), w, None
        if s.aligned:
            order = torch.argsort((~valid).to(torch.int8), dim=1, stable=True)  # each row's tokens first
            col = valid.sum(dim=1)
            valid = torch.arange(w, device=valid.device)[None, :] < col[:, None]
        for layer, source in zip(s.cache.layers, kv.cache_layers(joining.cache), strict=True):
            keys, values = source.keys, source.values
            if order is not None:
                keys = keys.gather(2, order[:, None, :, None].expand(keys.shape))
                values = values.gather(2, order[:, None, :, None].expand(values.shape))
            layer.kbuf[first:end, :, :w] = keys
            layer.vbuf[first:end, :, :w] = values
        s.valid[first:end] = False
        s.valid[first:end, :w] = valid
        s.col[first:end] = col
        s.pos[first:end] = joining.pos
        s.live[first:end] = 1

    def step(self, model: Any, cache_kw: str) -> None:
        n = len(self.rows)
        self.slots.ids[:n, 0] = self.last
        logits = self.slots.step(n)
        self.advance(logits[:n, -1, :])

    def extend(self, other: Batch) -> Batch:
        self._place(other, len(self.rows))
        return self.append_rows(other)

    def keep(self, keep: list[int]) -> Batch:
        """Keep the rows at ``keep``: the last kept rows move into the gaps; freed slots are emptied."""
        s, n, old = self.slots, len(keep), len(self.rows)
        holes, movers, order = kv.compaction(keep)
        if holes:
            h = torch.tensor(holes, device=s.col.device)
            f = torch.tensor(movers, device=s.col.device)
            for layer in s.cache.layers:
                layer.kbuf[h] = layer.kbuf[f]
                layer.vbuf[h] = layer.vbuf[f]
            for buf in (s.valid, s.col, s.pos):
                buf[h] = buf[f]
        s.empty(n, old)
        return self.reorder_rows(order)


def usable(model: Any) -> bool:
    """Whether slot decoding computes what the model computes: SDPA attention over every earlier position
    (no sliding window, no special cache layers)."""
    config = model.config
    if getattr(config, "_attn_implementation", None) not in ("sdpa", attention.NAME, attention.INVARIANT):
        return False
    if not full_attention(config.to_dict()):
        return False
    layers = getattr(kv.new_cache(model), "layers", None)
    return bool(layers) and all(isinstance(layer, kv.BufferedLayer) for layer in layers)
