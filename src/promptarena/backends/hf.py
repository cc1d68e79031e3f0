"""The ``transformers`` backend: a local model on CPU or CUDA, with a decode loop built for evaluations.

Evaluation workloads are many short prompts, often several samples of the same prompt. The decode loop
here differs from ``model.generate`` in three ways that matter for that shape:

* rows that finished leave the batch and the KV cache at once, and waiting rows take their places
  (plain ``generate`` keeps computing finished rows until the longest one ends);
* requests that differ only in ``sample_index`` are prefilled once and their KV cache is copied;
* sampling noise is a hash of (prompt, seed, sample index, step), so a sample does not depend on which
  other rows share its batch, and the run is reproducible.

A row's latency runs from its admission (the start of its prefill) to its last token; rows still waiting
for a free place are not yet admitted. ``context_length`` and ``count_tokens`` need only the tokenizer and
the model's config, so a prompt that does not fit is refused before the weights are loaded.

Importing this module does not import torch; the fingerprint is computed without it too.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptarena.errors import BackendError, ConfigError
from promptarena.models import ResolvedModel, model_weights_hash, resolve_model
from promptarena.types import Generation, GenerationRequest, Message

_DTYPE_ALIASES = {
    "auto": "auto",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "half": "float16",
    "float16": "float16",
    "fp32": "float32",
    "float": "float32",
    "float32": "float32",
}
CPU_BATCH_SIZE = 64
MAX_CUDA_BATCH_SIZE = 1024
_NUCLEUS_TOPK = 512
MIN_SHARED_PREFIX = 8


def nvidia_present() -> bool:
    """Whether an NVIDIA GPU is visible to this process, judged without importing torch."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return Path("/dev/nvidiactl").exists() and visible not in ("", "-1")


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX), where bf16 is ~2x faster than fp32."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def cpu_threads() -> int:
    """Threads for CPU inference: ``$OMP_NUM_THREADS`` when set, else every core this process may use."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when an NVIDIA device is present, else ``cpu``; other values pass through."""
    device = (device or "auto").strip().lower()
    if device == "auto":
        return "cuda" if nvidia_present() else "cpu"
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"unknown device {device!r} for the transformers backend: use auto, cpu or cuda[:N].")
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` -> ``bfloat16`` on CUDA and on CPUs with native bf16, else ``float32``."""
    name = _DTYPE_ALIASES.get((dtype or "auto").strip().lower())
    if name is None:
        raise ConfigError(
            f"unknown dtype {dtype!r} for the transformers backend: use auto, bfloat16, float16 or float32."
        )
    if name != "auto":
        return name
    if device.startswith("cuda") or cpu_has_bf16():
        return "bfloat16"
    return "float32"


def _noise(row_key: bytes, step: int) -> float:
    """A uniform number in [0, 1) that depends only on the row and the step (counter-based sampling)."""
    digest = hashlib.blake2b(row_key + step.to_bytes(4, "little"), digest_size=8).digest()
    return (int.from_bytes(digest, "little") >> 11) / float(1 << 53)


@dataclass
class _Row:
    """One request being decoded."""

    index: int
    request: GenerationRequest
    prompt_len: int
    row_key: bytes
    started: float = 0.0
    tokens: list[int] = field(default_factory=list)


@dataclass
class _Group:
    """Requests with the same prompt and parameters: prefilled once."""

    prompt_ids: list[int]
    rows: list[_Row]


class TransformersBackend:
    """Runs a Hugging Face causal LM in this process (the embedded SmolLM2-135M-Instruct by default)."""

    name = "transformers"

    def __init__(
        self,
        model: str = "default",
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int | None = None,
        threads: int | None = None,
        truncate: str | None = None,
    ) -> None:
        self.model_id = str(model)
        self._device_option = device
        self._dtype_option = dtype
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.threads = threads
        self.truncate = truncate
        self._resolved: ResolvedModel | None = None
        self._context_length: int | None = None
        self._fingerprint: str | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._eos_ids: frozenset[int] = frozenset()
        self._cache_kw = "cache"
        self._prefix_kv: dict[tuple[int, ...], list[tuple[Any, Any]]] = {}

    @property
    def fingerprint(self) -> str:
        """``transformers:{model}:{weights hash[:16]}:{dtype}:{device}``, computed without torch."""
        if self._fingerprint is None:
            digest = model_weights_hash(self.model_id)
            self._fingerprint = f"transformers:{self.model_id}:{digest[:16]}:{self.dtype}:{self.device}"
        return self._fingerprint

    # ----------------------------------------------------------------------------------------- loading

    def _model_dir(self) -> ResolvedModel:
        if self._resolved is None:
            self._resolved = resolve_model(self.model_id)
        return self._resolved

    @property
    def context_length(self) -> int | None:
        """The model's positions (``max_position_embeddings`` in its config.json), read without loading it."""
        if self._context_length is None:
            config = json.loads((self._model_dir().path / "config.json").read_text(encoding="utf-8"))
            value = config.get("max_position_embeddings") or config.get("n_positions")
            self._context_length = int(value) if value else None
        return self._context_length

    def _load_tokenizer(self) -> Any:
        """The tokenizer alone: enough to count a prompt's tokens before the weights are loaded."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            path = self._model_dir().path
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(str(path))
            except Exception as err:
                raise BackendError(f"could not load the tokenizer of {self.model_id!r} from {path}: {err}") from err
            self._tokenizer.padding_side = "left"
        return self._tokenizer

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """The prompt's tokens after the chat template, as ``generate`` would feed them."""
        return len(self._template_ids(messages))

    def _check_hardware(self, torch: Any) -> None:
        """Fail early, with the fix, when the torch-free guess of device and dtype is wrong."""
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError(
                f"device {self.device!r} was chosen (from device: {self._device_option!r}) but torch sees no "
                "CUDA device: set `device: cpu` in the suite or pass --device cpu."
            )
        if self.dtype == "bfloat16":
            if self.device == "cpu":
                supported = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
            else:
                supported = bool(torch.cuda.is_bf16_supported())
            if not supported and self._dtype_option == "auto":
                raise BackendError(
                    f"bfloat16 was chosen for {self.device} but torch cannot compute in it here: "
                    "set `dtype: float32` in the suite or pass --dtype float32."
                )

    def load(self) -> None:
        """Load tokenizer and model on first use, so that fully cached runs never pay for it."""
        if self._model is not None:
            return
        try:
            import torch
            from transformers import AutoModelForCausalLM
        except ImportError as err:  # pragma: no cover - hard dependencies
            raise BackendError(
                "the transformers backend needs torch and transformers: run `pip install torch transformers`."
            ) from err
        self._check_hardware(torch)
        resolved = self._model_dir()
        if self.device == "cpu":
            torch.set_num_threads(self.threads or cpu_threads())
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the engine shows its own progress; load bars would interleave
        tokenizer = self._load_tokenizer()
        try:
            model = AutoModelForCausalLM.from_pretrained(str(resolved.path), dtype=getattr(torch, self.dtype))
        except Exception as err:
            raise BackendError(f"could not load model {self.model_id!r} from {resolved.path}: {err}") from err
        model = model.to(self.device).eval()
        if self.device == "cpu" and self.dtype == "bfloat16":
            _pack_linears(model)
        eos: set[int] = set()
        for source in (model.generation_config.eos_token_id, tokenizer.eos_token_id):
            if isinstance(source, int):
                eos.add(source)
            elif source:
                eos.update(int(t) for t in source)
        if not eos:
            raise BackendError(f"model {self.model_id!r} defines no end-of-sequence token.")
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._eos_ids = frozenset(eos)
        self._model = model

    def close(self) -> None:
        """Drop the model so its memory can be reclaimed."""
        self._model = None
        self._tokenizer = None

    # -------------------------------------------------------------------------------------- generation

    def _template_ids(self, messages: Sequence[Message]) -> list[int]:
        tokenizer = self._load_tokenizer()
        chat = [{"role": m.role, "content": m.content} for m in messages]
        text = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    def _encode(self, request: GenerationRequest) -> list[int]:
        """The prompt's tokens; with ``truncate: left``, only the newest ones that leave room for the answer."""
        ids = self._template_ids(request.messages)
        if self.truncate == "left" and self.context_length:
            room = self.context_length - request.params.max_new_tokens
            ids = ids[-room:] if 0 < room < len(ids) else ids
        return ids

    def _groups(self, requests: Sequence[GenerationRequest]) -> list[_Group]:
        """Group requests sharing a prompt (shared prefill), sorted by prompt length (less padding)."""
        by_key: dict[str, _Group] = {}
        for i, request in enumerate(requests):
            key = request.prompt_key()
            group = by_key.get(key)
            if group is None:
                group = by_key[key] = _Group(prompt_ids=self._encode(request), rows=[])
            row_key = hashlib.sha256(f"{key}:{request.sample_index}".encode()).digest()
            group.rows.append(_Row(i, request, len(group.prompt_ids), row_key))
        return sorted(by_key.values(), key=lambda g: len(g.prompt_ids))

    def _default_batch_size(self, groups: list[_Group]) -> int:
        if self.batch_size is not None:
            return self.batch_size
        if not self.device.startswith("cuda"):
            return CPU_BATCH_SIZE
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(self.device))
        cfg = self._model.config
        layers = cfg.num_hidden_layers
        kv_heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        longest = max(len(g.prompt_ids) for g in groups) + max(
            r.request.params.max_new_tokens for g in groups for r in g.rows
        )
        width = torch.finfo(getattr(torch, self.dtype)).bits // 8
        # KV cache (with room for the copy a step makes), logits and sampling buffers, activations.
        per_row = 3 * 2 * layers * kv_heads * head_dim * longest * width
        per_row += 4 * cfg.vocab_size * 4 + 16 * cfg.hidden_size * longest * width
        return max(1, min(MAX_CUDA_BATCH_SIZE, int(free * 0.6) // per_row))

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        """Yield ``(index, generation)`` for each request as soon as its row finishes."""
        if not requests:
            return
        self.load()
        import torch

        oom = getattr(torch.cuda, "OutOfMemoryError", RuntimeError)
        pending = deque(self._groups(requests))
        batch_size = self._default_batch_size(list(pending))
        done: set[int] = set()
        while pending:
            try:
                for index, generation in self._decode(pending, batch_size):
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
                groups = self._groups(requests)
                for group in groups:
                    group.rows = [r for r in group.rows if r.index not in done]
                pending = deque(g for g in groups if g.rows)

    def _decode(self, pending: deque[_Group], batch_size: int) -> Iterator[tuple[int, Generation]]:
        """Continuous batching over ``pending``: admit groups while rows are free, drop rows that finish."""
        import torch

        model, device = self._model, self.device
        active: list[_Row] = []
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
                        first = self._choose(new_rows, logits)
                        if active:
                            cache, mask = _merge(cache, mask, new_cache, new_mask)
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
                        **{self._cache_kw: cache},
                    )
                    last = self._choose(active, out.logits[:, -1, :])
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
                        cache, order = _compact(cache, keep, len(active), device)
                        mask, last = mask[order], last[order]
                        active = [active[i] for i in order.tolist()]
                        cache, mask = _trim(cache, mask)
                    else:
                        active, cache, mask, last = [], None, None, None
                    yield from finished

    def _take(self, pending: deque[_Group], free: int) -> list[_Group]:
        """Pop whole groups that fit into ``free`` rows (splitting a group only when nothing else fits)."""
        taken: list[_Group] = []
        while pending and free > 0:
            group = pending[0]
            if len(group.rows) <= free:
                taken.append(pending.popleft())
                free -= len(group.rows)
            elif not taken:
                taken.append(_Group(group.prompt_ids, group.rows[:free]))
                group.rows = group.rows[free:]
                free = 0
            else:
                break
        return taken

    def _prefill(self, groups: list[_Group]) -> tuple[list[_Row], Any, Any, Any]:
        """Run the prompts of ``groups`` once each and copy their KV cache to every row of the group.

        Prompts usually share a long head (the chat template's system prompt): that head is computed once
        (and kept for the next admission) and only the rest of each prompt goes through the model.
        """
        import torch

        start = time.perf_counter()
        model, device = self._model, self.device
        prompts = [g.prompt_ids for g in groups]
        shared = min(_common_prefix(prompts), min(len(p) for p in prompts) - 1) if len(prompts) > 1 else 0
        shared = shared if shared >= MIN_SHARED_PREFIX else 0
        cache = _new_cache(model)
        if shared:
            head = tuple(prompts[0][:shared])
            kv = self._prefix_kv.get(head)
            if kv is None:
                head_cache = _new_cache(model)
                model(
                    input_ids=torch.tensor([head], device=device),
                    use_cache=True,
                    logits_to_keep=1,
                    **{self._cache_kw: head_cache},
                )
                kv = [(layer.keys, layer.values) for layer in _layers(head_cache)]
                self._prefix_kv = {head: kv}  # keep one: the next admission most likely shares it
            _fill(cache, kv, torch.zeros(len(groups), dtype=torch.long, device=device))
        tails = [p[shared:] for p in prompts]
        width = max(len(t) for t in tails)
        pad = self._tokenizer.pad_token_id
        pad = pad if pad is not None else min(self._eos_ids)
        ids = torch.tensor([[pad] * (width - len(t)) + t for t in tails], device=device)
        mask = torch.tensor([[1] * shared + [0] * (width - len(t)) + [1] * len(t) for t in tails], device=device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, shared:]
        out = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **{self._cache_kw: cache},
        )
        logits = out.logits[:, -1, :]
        rows: list[_Row] = []
        source: list[int] = []
        for gi, group in enumerate(groups):
            for row in group.rows:
                row.started = start
                rows.append(row)
                source.append(gi)
        if len(source) != len(groups):
            idx = torch.tensor(source, device=self.device)
            cache, mask, logits = _select(cache, idx), mask[idx], logits[idx]
        return rows, cache, mask, logits

    def _choose(self, rows: list[_Row], logits: Any) -> Any:
        """Pick each row's next token: argmax when greedy, else inverse-CDF sampling with per-row noise."""
        import torch

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
                weights[sub] = _nucleus(part / part.sum(dim=-1, keepdim=True), top_p)
            u = torch.tensor([_noise(rows[i].row_key, len(rows[i].tokens)) for i in sampled], device=device)
            tokens[si] = _inverse_cdf(weights, u)
        for row, token in zip(rows, tokens.tolist(), strict=True):
            row.tokens.append(token)
        return tokens

    def _finish(self, row: _Row, now: float) -> tuple[int, Generation] | None:
        """The row's generation if it just finished (EOS, stop string, or length), else ``None``."""
        params = row.request.params
        ended = row.tokens[-1] in self._eos_ids
        body = row.tokens[:-1] if ended else row.tokens
        text: str | None = None
        if params.stop:
            text = self._tokenizer.decode(body, skip_special_tokens=True)
            cut = min((p for p in (text.find(s) for s in params.stop if s) if p >= 0), default=-1)
            if cut >= 0:
                text, ended = text[:cut], True
        if not ended and len(row.tokens) < params.max_new_tokens:
            return None
        if text is None:
            text = self._tokenizer.decode(body, skip_special_tokens=True)
        return row.index, Generation(
            text=text,
            prompt_tokens=row.prompt_len,
            completion_tokens=len(row.tokens),
            latency_s=now - row.started,
            finish_reason="stop" if ended else "length",
        )


# ------------------------------------------------------------------------------------- tensor helpers


KV_SPARE = 64  # positions allocated ahead, so that a decode step writes in place instead of concatenating
_buffered_layer: Any = None


def _buffered_layer_type() -> Any:
    """A ``DynamicLayer`` that appends into spare capacity (one copy per 64 steps, not one per step)."""
    global _buffered_layer
    if _buffered_layer is not None:
        return _buffered_layer
    from transformers.cache_utils import DynamicLayer

    class BufferedLayer(DynamicLayer):
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

    _buffered_layer = BufferedLayer
    return BufferedLayer


def _new_cache(model: Any) -> Any:
    """A ``DynamicCache`` whose plain layers are replaced by buffered ones (others are left as they are)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    try:
        cache = DynamicCache(config=model.config)
    except TypeError:  # older transformers: no config argument
        cache = DynamicCache()
    layers = getattr(cache, "layers", None)
    if layers and all(type(layer) is DynamicLayer for layer in layers):
        buffered = _buffered_layer_type()
        cache.layers = [buffered() for _ in layers]
    return cache


def _layers(cache: Any) -> list[Any]:
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


def _common_prefix(seqs: list[list[int]]) -> int:
    """Length of the longest common prefix of ``seqs``."""
    n = 0
    for column in zip(*seqs, strict=False):
        if any(t != column[0] for t in column):
            break
        n += 1
    return n


def _fill(cache: Any, kv: list[tuple[Any, Any]], idx: Any) -> None:
    """Initialise an empty cache with rows ``idx`` of the given per-layer keys and values."""
    for layer, (keys, values) in zip(_layers(cache), kv, strict=True):
        _assign(layer, keys.index_select(0, idx), values.index_select(0, idx))


def _select(cache: Any, idx: Any) -> Any:
    """Keep (or repeat) the batch rows ``idx`` of every layer's keys and values."""
    for layer in _layers(cache):
        if hasattr(layer, "select"):
            layer.select(idx)
        elif layer.keys is not None and layer.keys.numel():
            layer.keys = layer.keys.index_select(0, idx)
            layer.values = layer.values.index_select(0, idx)
    return cache


def _merge(cache_a: Any, mask_a: Any, cache_b: Any, mask_b: Any) -> tuple[Any, Any]:
    """Stack two caches along the batch, left-padding the shorter one (its mask hides the padding)."""
    import torch

    length = max(mask_a.shape[1], mask_b.shape[1])

    def pad(t: Any, n: int, dim: int) -> Any:
        if n == 0:
            return t
        shape = list(t.shape)
        shape[dim] = n
        return torch.cat([t.new_zeros(shape), t], dim=dim)

    na, nb = length - mask_a.shape[1], length - mask_b.shape[1]
    for la, lb in zip(_layers(cache_a), _layers(cache_b), strict=True):
        keys = torch.cat([pad(la.keys, na, 2), pad(lb.keys, nb, 2)], dim=0)
        values = torch.cat([pad(la.values, na, 2), pad(lb.values, nb, 2)], dim=0)
        _assign(la, keys, values)
    mask = torch.cat([pad(mask_a, na, 1), pad(mask_b, nb, 1)])
    return cache_a, mask


def _compact(cache: Any, keep: list[int], rows: int, device: Any) -> tuple[Any, Any]:
    """Drop the rows not in ``keep`` by moving the last kept rows into the gaps (copies only those).

    Returns the cache and the new row order as old row indices (a tensor, to reorder per-row state).
    """
    import torch

    n = len(keep)
    kept = set(keep)
    holes = [i for i in range(n) if i not in kept]
    movers = [j for j in keep if j >= n]
    order = list(range(n))
    for hole, mover in zip(holes, movers, strict=True):
        order[hole] = mover
    order_t = torch.tensor(order, device=device)
    holes_t = torch.tensor(holes, dtype=torch.long, device=device)
    movers_t = torch.tensor(movers, dtype=torch.long, device=device)
    for layer in _layers(cache):
        if hasattr(layer, "compact"):
            layer.compact(holes_t, movers_t, n)
        elif layer.keys is not None and layer.keys.numel():
            layer.keys = layer.keys.index_select(0, order_t)
            layer.values = layer.values.index_select(0, order_t)
    return cache, order_t


def _trim(cache: Any, mask: Any) -> tuple[Any, Any]:
    """Drop leading cache positions that no remaining row attends to (left by rows that left)."""
    used = mask.any(dim=0).nonzero()
    start = int(used[0]) if used.numel() else 0
    if start == 0:
        return cache, mask
    for layer in _layers(cache):
        if hasattr(layer, "trim"):
            layer.trim(start)
        else:
            layer.keys = layer.keys[:, :, start:, :]
            layer.values = layer.values[:, :, start:, :]
    return cache, mask[:, start:]


def _pack_linears(model: Any) -> int:
    """Give every bf16 ``nn.Linear`` a weight pre-packed for oneDNN, once, instead of at every call.

    On CPUs with AMX/AVX512-BF16, repacking the weight dominates a small-batch matmul; with the packed
    weight a decode step is about twice as fast, with bit-identical results. Layers where the packed
    kernel is unavailable or disagrees with ``F.linear`` are left as they are. Returns how many were packed.
    """
    import torch

    op = getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)
    reorder = getattr(getattr(torch.ops, "mkldnn", None), "_reorder_linear_weight", None)
    if op is None or reorder is None or not torch.backends.mkldnn.is_available():
        return 0
    packed = 0
    for module in model.modules():
        if not isinstance(module, torch.nn.Linear) or module.weight.dtype != torch.bfloat16:
            continue
        try:
            weight = reorder(module.weight.detach(), 64)
            bias = module.bias.detach() if module.bias is not None else None
            probe = torch.randn(3, module.in_features, dtype=torch.bfloat16)
            if not torch.equal(
                op(probe, weight, bias, "none", [], ""), torch.nn.functional.linear(probe, module.weight, module.bias)
            ):
                continue
        except RuntimeError:
            continue

        def forward(x: Any, _w: Any = weight, _b: Any = bias) -> Any:
            return op(x, _w, _b, "none", [], "")

        module.forward = forward
        packed += 1
    return packed


def _inverse_cdf(weights: Any, u: Any, block: int = 128) -> Any:
    """For each row, the token where the cumulative weight first exceeds ``u`` times the row's total.

    Works in two levels (block sums, then one block) instead of a cumulative sum over the whole
    vocabulary, which costs as much as the rest of a sampling step. Zero-weight tokens are never picked.
    """
    import torch

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


def _nucleus(probs: Any, top_p: Any) -> Any:
    """Zero the probabilities outside each row's top-p nucleus (smallest set with mass >= top_p)."""
    import torch

    k = min(_NUCLEUS_TOPK, probs.shape[-1])
    values, order = probs.topk(k, dim=-1)
    if not bool((values.sum(dim=-1) >= top_p).all()):
        values, order = probs.sort(dim=-1, descending=True)
    before = values.cumsum(dim=-1) - values
    values = torch.where(before < top_p[:, None], values, torch.zeros_like(values))
    return torch.zeros_like(probs).scatter_(1, order, values)
