"""The ``transformers`` Backend: fingerprint, tokens and context without torch; loading; the generate entry.

``context_length`` and ``count_tokens`` need only the tokenizer and the model's config, so a prompt that
does not fit is refused before the weights are loaded. torch, and the modules that decode with it, are
imported by ``load``, so that a fully cached run never pays for them.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import PositiveInt, StringConstraints

from promptarena.backends.options import BackendOptions, Truncate
from promptarena.backends.transformers._device import (
    check_hardware,
    cpu_threads,
    full_attention,
    resolve_device,
    resolve_dtype,
    resolve_invariant,
)
from promptarena.backends.transformers._weights import ResolvedModel, model_config, model_weights_hash, resolve_model
from promptarena.errors import BackendError, missing_dependency
from promptarena.response_format import schema_of
from promptarena.tools import normalize_calls, parse_tool_calls, with_tools_in_system
from promptarena.types import Generation, GenerationRequest, Message, Tool

if TYPE_CHECKING:
    from promptarena.backends.transformers._scheduler import Scheduler

_PURPOSE = "the transformers backend"


Decode = Literal["auto", "slots", "dynamic"]
Dtype = Literal["auto", "bfloat16", "bf16", "float16", "fp16", "half", "float32", "fp32", "float"]
Device = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"(?i)^(auto|cpu|cuda(:\d+)?)$")
]


class TransformersOptions(BackendOptions):
    """The transformers backend's options in a suite: the model, where and how it runs, and how it decodes."""

    model: str = "default"
    device: Device = "auto"
    dtype: Dtype = "auto"
    batch_size: PositiveInt | None = None
    threads: PositiveInt | None = None
    truncate: Truncate | None = None
    decode: Decode = "auto"
    batch_invariant: bool | None = None


class TransformersBackend:
    """Runs a Hugging Face causal LM in this process (the embedded SmolLM2-135M-Instruct by default)."""

    name = "transformers"
    options_model: ClassVar[type[BackendOptions]] = TransformersOptions

    def __init__(
        self,
        model: str = "default",
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int | None = None,
        threads: int | None = None,
        truncate: str | None = None,
        decode: str = "auto",
        batch_invariant: bool | None = None,
    ) -> None:
        self.model_id = str(model)
        self._device_option = device
        self._dtype_option = dtype
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.threads = threads
        self.truncate = truncate
        self.decode = decode  # auto: fixed slots replayed as CUDA graphs on a GPU, the growing cache on CPU
        self._invariant_option = batch_invariant
        self._batch_invariant: bool | None = None
        if batch_invariant is not None:  # a conflict with the device or decode is bad input, found at once
            self._batch_invariant = resolve_invariant(batch_invariant, self.device, decode, lambda: True)
        self._resolved: ResolvedModel | None = None
        self._context_length: int | None = None
        self._fingerprint: str | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._scheduler: Scheduler | None = None

    @property
    def fingerprint(self) -> str:
        """``transformers:{model}:{weights hash[:16]}:{dtype}:{device}``, then ``:batch-invariant`` when decoding is
        (its outputs differ from the other mode's in rounding), computed without torch."""
        if self._fingerprint is None:
            digest = model_weights_hash(self.model_id)
            self._fingerprint = f"transformers:{self.model_id}:{digest[:16]}:{self.dtype}:{self.device}"
            if self.batch_invariant:
                self._fingerprint += ":batch-invariant"
        return self._fingerprint

    @property
    def batch_invariant(self) -> bool:
        """Whether a row's tokens do not depend on the rest of its batch: by default on CPU, for a model whose
        config shows full attention (read without loading it; a GGUF file's is checked when it loads)."""
        if self._batch_invariant is None:
            self._batch_invariant = resolve_invariant(
                self._invariant_option, self.device, self.decode, lambda: full_attention(model_config(self.model_id))
            )
        return self._batch_invariant

    @property
    def decoding(self) -> str:
        """The decoding mode, for the run's provenance: ``batch-invariant`` or ``fast``."""
        return "batch-invariant" if self.batch_invariant else "fast"

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
            try:
                from transformers import AutoTokenizer
            except ImportError as err:
                raise missing_dependency(_PURPOSE, "local", err) from err
            path = self._model_dir().path
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(str(path))
            except Exception as err:
                raise BackendError(f"could not load the tokenizer of {self.model_id!r} from {path}: {err}") from err
            self._tokenizer.padding_side = "left"
        return self._tokenizer

    def response_format_problem(self, response_format: str) -> str | None:
        """Why decoding cannot be constrained to this response format (its schema uses what the grammar engine does
        not support), or ``None``; asked before any model call, without the model or torch."""
        try:
            import llguidance
        except ImportError as err:
            raise missing_dependency("constrained decoding (a prompt's response_format)", "local", err) from err
        grammar = llguidance.LLMatcher.grammar_from_json_schema(schema_of(response_format) or {"type": "object"})
        return llguidance.LLMatcher.validate_grammar(grammar).strip() or None

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """The prompt's tokens after the chat template, as ``generate`` would feed them."""
        return len(self._template_ids(messages))

    def load(self) -> None:
        """Load tokenizer and model on first use, so that fully cached runs never pay for it."""
        if self._model is not None:
            return
        try:
            import torch
            from transformers import AutoModelForCausalLM
        except ImportError as err:
            raise missing_dependency(_PURPOSE, "local", err) from err
        from transformers.utils import logging as hf_logging

        from promptarena.backends.transformers import _attention as attention
        from promptarena.backends.transformers._device import make_row_invariant, pack_linears
        from promptarena.backends.transformers._scheduler import Scheduler
        from promptarena.backends.transformers._slots import usable as slots_usable

        check_hardware(torch, self.device, self.dtype, self._device_option, self._dtype_option)
        resolved = self._model_dir()
        if self.device == "cpu":
            torch.set_num_threads(self.threads or cpu_threads())
        hf_logging.disable_progress_bar()  # the engine shows its own progress; load bars would interleave
        tokenizer = self._load_tokenizer()
        try:
            model = AutoModelForCausalLM.from_pretrained(str(resolved.path), dtype=getattr(torch, self.dtype))
        except Exception as err:
            raise BackendError(f"could not load model {self.model_id!r} from {resolved.path}: {err}") from err
        model = model.to(self.device).eval()
        if self.device == "cpu":
            pack_linears(model)
            installed = attention.install(model, invariant=self.batch_invariant)
            if self.batch_invariant:
                if not installed or not slots_usable(model):
                    raise BackendError(
                        f"model {self.model_id!r} does not use SDPA attention over every earlier position (it "
                        "has a sliding window or another attention), which batch-invariant decoding needs: set "
                        "`batch_invariant: false` in the suite's model."
                    )
                make_row_invariant(model)
        eos: set[int] = set()
        for source in (model.generation_config.eos_token_id, tokenizer.eos_token_id):
            if isinstance(source, int):
                eos.add(source)
            elif source:
                eos.update(int(t) for t in source)
        if not eos:
            raise BackendError(f"model {self.model_id!r} defines no end-of-sequence token.")
        params = inspect.signature(model.forward).parameters
        cache_kw = "cache" if "cache" in params else "past_key_values"
        slots = self.decode == "slots" or (self.decode == "auto" and self.device.startswith("cuda"))
        slots = self.batch_invariant or (slots and slots_usable(model))
        self._scheduler = Scheduler(
            model,
            tokenizer,
            frozenset(eos),
            cache_kw,
            self.device,
            self.dtype,
            slots=slots,
            aligned=self.batch_invariant,
        )
        self._model = model

    def close(self) -> None:
        """Drop the model so its memory can be reclaimed."""
        self._model = None
        self._tokenizer = None
        self._scheduler = None

    @property
    def tool_calling(self) -> str:
        """How a prompt's tools reach the model, for the run's provenance: ``chat-template`` when the model's chat
        template takes tools, else ``system-message`` (the Hermes ``<tools>`` block, see ``promptarena.tools``)."""
        return "chat-template" if "tools" in self._chat_template() else "system-message"

    def _chat_template(self) -> str:
        """The model's chat template source, read from its files without transformers (a cached run imports none):
        ``chat_template.jinja``, else ``tokenizer_config.json``'s ``chat_template`` (every named one, as text)."""
        if self._tokenizer is not None:
            return str(self._tokenizer.chat_template or "")
        path = self._model_dir().path
        if (path / "chat_template.jinja").is_file():
            return (path / "chat_template.jinja").read_text(encoding="utf-8")
        config = path / "tokenizer_config.json"
        template = json.loads(config.read_text(encoding="utf-8")).get("chat_template") if config.is_file() else None
        return json.dumps(template) if isinstance(template, list) else str(template or "")

    def _template_ids(self, messages: Sequence[Message], tools: Sequence[Tool] = ()) -> list[int]:
        tokenizer = self._load_tokenizer()
        extra: dict[str, Any] = {}
        if tools and self.tool_calling == "chat-template":
            extra["tools"] = [t.openai() for t in tools]
        elif tools:
            messages = with_tools_in_system(messages, tools)
        chat = [{"role": m.role, "content": m.content} for m in messages]
        text = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False, **extra)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    def _encode(self, request: GenerationRequest) -> list[int]:
        """The prompt's tokens; with ``truncate: left``, only the newest ones that leave room for the answer."""
        ids = self._template_ids(request.messages, request.params.tools)
        if self.truncate == "left" and self.context_length:
            room = self.context_length - request.params.max_new_tokens
            ids = ids[-room:] if 0 < room < len(ids) else ids
        return ids

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        """Yield ``(index, generation)`` for each request as soon as its row finishes."""
        if not requests:
            return
        self.load()
        assert self._scheduler is not None
        for index, generation in self._scheduler.run(requests, self._encode, self.batch_size):
            tools = requests[index].params.tools
            if tools:  # the calls written in the text, in the formats ``parse_tool_calls`` reads
                calls = normalize_calls(parse_tool_calls(generation.text), tools)
                generation = dataclasses.replace(generation, tool_calls=calls)
            yield index, generation
