"""Continuous batching: admit groups of rows while places are free, prefill them, decode, and let finished rows go.

Rows that finished leave the batch and the KV cache at once and waiting rows take their places (plain
``generate`` keeps computing finished rows until the longest one ends); requests that differ only in
``sample_index`` form one group, prefilled once, whose KV cache is copied to each row; groups whose prompts
share a head of their own are prefilled as a cluster, the head once. A batch's per-row state lives on the
device (:class:`Batch`); on a GPU the rows decode in fixed slots (``_slots``). Imported only once the model
is loaded.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from promptarena.backends.transformers import _kvcache as kv
from promptarena.backends.transformers._admission import Encode, Group, Prefill, Row, admit, group_requests, take
from promptarena.backends.transformers._batch import Batch
from promptarena.backends.transformers._device import default_batch_size
from promptarena.backends.transformers._grammar import Grammars
from promptarena.backends.transformers._sampling import token_logprobs
from promptarena.errors import BackendError
from promptarena.types import Generation, GenerationRequest

PREFIX_HEADS = 8  # prompt heads whose KV cache is kept between admissions


class Scheduler:
    """Decodes groups of rows on one loaded model; keeps the KV cache of the last shared prompt head."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        eos_ids: frozenset[int],
        cache_kw: str,
        device: str,
        dtype: str,
        slots: bool = False,
        aligned: bool = False,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.eos_ids = eos_ids
        self.cache_kw = cache_kw
        self.device = device
        self.dtype = dtype
        self._prefix_kv: dict[tuple[int, ...], list[tuple[Any, Any]]] = {}
        self._eos_t: Any = None
        self.use_slots = slots  # decode in fixed slots (captured as CUDA graphs on a GPU): see _slots
        self.aligned = aligned  # slots whose rows start at column 0: batch-invariant decoding (CPU)
        self._slots: Any = None
        self.grammars = Grammars(tokenizer, model.config.vocab_size, eos_ids)  # rows with a response format

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
        max_new = max(r.request.params.max_new_tokens for g in pending for r in g.rows)
        slots = self.slots_for(pending, batch_size, max_new) if self.use_slots else None
        batch: Batch | None = None
        with torch.inference_mode():
            while pending or batch:
                fresh = 0  # rows with a new token this turn: none when the only rows admitted had none to make
                admission = admit(pending, len(batch.rows) if batch else 0, batch_size)
                if admission.rows:
                    admitted = take(pending, admission.rows)
                    skip = set(admission.skip)
                    for row in (r for g in admitted for r in g.rows if r.index in skip):
                        yield row.index, Generation("", row.prompt_len, 0, 0.0, "length")
                    if admission.prefills:
                        joining = self._prefill(admitted, admission.prefills, skip, max_new)
                        fresh = len(joining.rows)  # only these rows have a new token
                        if batch is not None:
                            batch = batch.extend(joining)
                        else:
                            batch = joining if slots is None else slots.batch(joining)
                elif batch is not None:
                    batch.step(self.model, self.cache_kw)
                    fresh = len(batch.rows)
                if batch is None or not fresh:
                    continue
                finished = self._finished(batch, fresh, time.perf_counter())
                if finished:
                    keep = [i for i in range(len(batch.rows)) if i not in finished]
                    batch = batch.keep(keep) if keep else None
                    yield from finished.values()

    def slots_for(self, pending: deque[Group], batch_size: int, max_new: int) -> Any:
        """Fixed slots for every row this run can hold at once, reused (with their graphs) while they fit."""
        from promptarena.backends.transformers._slots import Slots

        rows = min(sum(len(g.rows) for g in pending), 2 * batch_size)
        columns = max(len(g.prompt_ids) for g in pending) + max_new + 1
        if self._slots is None or not self._slots.fits(rows, columns):
            self._slots = None
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
            graphs = self.device.startswith("cuda")
            self._slots = Slots(self.model, self.cache_kw, rows, columns, graphs=graphs, aligned=self.aligned)
        return self._slots

    def _finished(self, batch: Batch, fresh: int, now: float) -> dict[int, tuple[int, Generation]]:
        """Rows that just ended (EOS, length, or a stop string), by batch position, with their generations.

        Only the last ``fresh`` rows have a new token. One small read-back per step: which rows ended; the
        tokens of a row are read only when it ends (rows with stop strings also read their newest token, to
        check the text).
        """
        done = (batch.count >= batch.limit) | torch.isin(batch.last, self._eos(batch.last.device))
        ended = set(done.nonzero().flatten().tolist())
        if batch.stops:
            first = len(batch.rows) - fresh
            for i, token in enumerate(batch.last[first:].tolist(), start=first):
                row = batch.rows[i]
                if row.request.params.stop:
                    row.tokens.append(token)
                    if self._stopped(row):
                        ended.add(i)
        if not ended:
            return {}
        order = sorted(ended)
        idx = torch.tensor(order, device=batch.last.device)
        counts = batch.count.index_select(0, idx).tolist()
        tokens = batch.hist.index_select(0, idx).tolist()
        return {
            i: self._generation(batch.rows[i], toks[:n], now) for i, n, toks in zip(order, counts, tokens, strict=True)
        }

    def _eos(self, device: Any) -> Any:
        if self._eos_t is None or self._eos_t.device != torch.device(device):
            self._eos_t = torch.tensor(sorted(self.eos_ids), device=device)
        return self._eos_t

    def _prefill(self, groups: list[Group], prefills: list[Prefill], skip: set[int], max_new: int) -> Batch:
        """Run each prefill of ``groups`` (rows in ``skip`` left out), its shared head once, and join their rows.

        Prompts usually share a long head (the chat template's system prompt, a version's instructions and
        few-shot turns): each cluster of prompts with a head of their own is prefilled apart, its head once.
        """
        batch: Batch | None = None
        for prefill in prefills:
            cluster = [groups[i] for i in prefill.groups]
            cluster = [Group(g.prompt_ids, [r for r in g.rows if r.index not in skip]) for g in cluster]
            joining = self._prefill_cluster(cluster, prefill.head, max_new)
            batch = joining if batch is None else batch.extend(joining)
        assert batch is not None
        return batch

    def _prefill_cluster(self, groups: list[Group], shared: int, max_new: int) -> Batch:
        """Prefill ``groups``: their first ``shared`` tokens once (kept for the next admission), then each
        prompt's rest."""
        start = time.perf_counter()
        model, device = self.model, self.device
        prompts = [g.prompt_ids for g in groups]
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
                self._prefix_kv[head] = head_kv  # the next admission most likely shares it
                while len(self._prefix_kv) > PREFIX_HEADS:
                    del self._prefix_kv[next(iter(self._prefix_kv))]
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
                row.grammar = self.grammars.constraint(row.request.params.response_format)
                rows.append(row)
                source.append(gi)
        if len(source) != len(groups):
            idx = torch.tensor(source, device=self.device)
            cache, mask, logits = kv.select(cache, idx), mask[idx], logits[idx]
        batch = Batch.start(rows, cache, mask, max_new)
        batch.advance(logits)
        return batch

    def _stopped(self, row: Row) -> bool:
        """Whether the text of ``row.tokens`` holds one of its stop strings."""
        text = self.tokenizer.decode(row.tokens, skip_special_tokens=True)
        return any(s and s in text for s in row.request.params.stop)

    def _generation(self, row: Row, tokens: list[int], now: float) -> tuple[int, Generation]:
        """The generation of a row that ended: EOS (not in the text), a stop string (text cut there), or length."""
        ended = bool(tokens) and tokens[-1] in self.eos_ids
        body = tokens[:-1] if ended else tokens
        text = self.tokenizer.decode(body, skip_special_tokens=True)
        cut = min((p for p in (text.find(s) for s in row.request.params.stop if s) if p >= 0), default=-1)
        if cut >= 0:
            text, ended = text[:cut], True
        return row.index, Generation(
            text=text,
            prompt_tokens=row.prompt_len,
            completion_tokens=len(tokens),
            latency_s=now - row.started,
            finish_reason="stop" if ended else "length",
            logprobs=token_logprobs(self.tokenizer, row.top[: len(body)]) if row.request.params.top_logprobs else None,
        )
