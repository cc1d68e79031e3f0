"""The engine's nouns: small frozen dataclasses that flow store -> suite -> plan -> backend -> variant -> metric."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptarena.hashing import canonical_json, content_hash


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Tool:
    """One function a prompt offers: its name, description and JSON Schema parameters (as canonical JSON, so
    that the tool is hashable and keys requests the same way however the file orders its keys)."""

    name: str
    description: str = ""
    parameters_json: str = '{"properties":{},"type":"object"}'

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(json.loads(self.parameters_json))

    def openai(self) -> dict[str, Any]:
        """The tool as the OpenAI API and ``apply_chat_template(tools=...)`` take it."""
        function = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": function}


@dataclass(frozen=True)
class ToolCall:
    """One call a model made (or a case expects): the function's name and its arguments as canonical JSON."""

    name: str
    arguments_json: str = "{}"

    @property
    def arguments(self) -> dict[str, Any]:
        return dict(json.loads(self.arguments_json))

    @classmethod
    def of(cls, name: str, arguments: Mapping[str, Any]) -> ToolCall:
        return cls(name, canonical_json(dict(arguments)))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}

    def __str__(self) -> str:
        """``get_weather({"city":"Lima"})``: the call as the workbench shows it."""
        return f"{self.name}({self.arguments_json})"


@dataclass(frozen=True)
class GenParams:
    """Generation parameters; ``temperature == 0`` means greedy decoding.

    ``top_logprobs > 0`` asks for the log-probabilities of that many most probable tokens at every step (a
    grader's verdict is weighed by them); 0, the default, asks for none and leaves a request's key as it was.
    ``tools`` are the functions the model may call (the prompt's ``tools:``); none leaves the key as it was too.
    ``response_format`` is the OpenAI ``response_format`` object as canonical JSON (``None``: free text); a
    request that carries one is constrained to it, and keyed apart from the same request without it.
    """

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    top_logprobs: int = 0
    tools: tuple[Tool, ...] = ()
    response_format: str | None = None

    def identity(self) -> dict[str, Any]:
        """The parameters as cache keys hold them: ``top_logprobs``, ``tools`` and ``response_format`` only when
        set, so that keys made before they existed stay valid."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("top_logprobs", "tools", "response_format"):
            if not fields[name]:
                del fields[name]
        return fields


@dataclass(frozen=True)
class GenerationRequest:
    """One generation to make. Requests equal except for ``sample_index`` share their prompt's prefill."""

    messages: tuple[Message, ...]
    params: GenParams
    seed: int = 0
    sample_index: int = 0

    def key(self, model_fingerprint: str) -> str:
        """The cache key: a hash of everything that determines the generation."""
        return content_hash(
            {
                "model": model_fingerprint,
                "messages": self.messages,
                "params": self.params.identity(),
                "seed": self.seed,
                "sample": self.sample_index,
            }
        )

    def prompt_key(self) -> str:
        """Identity of the prompt and parameters, without the sample index (groups shared prefills)."""
        return content_hash({"messages": self.messages, "params": self.params.identity(), "seed": self.seed})


@dataclass(frozen=True)
class TokenLogprobs:
    """One generated token, its log-probability, and the most probable tokens at its step with theirs."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Generation:
    """One generated text; ``latency_s`` runs from its admission into the backend's batch to its last token.

    ``logprobs`` holds one entry per generated token when the request asked for ``top_logprobs`` and the
    backend returns them; ``None`` otherwise. ``tool_calls`` holds the calls the model made when the request
    offered tools (the server's ``tool_calls``, or those parsed from the text); ``None`` when it offered none.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    finish_reason: str = "stop"  # "stop" | "length"
    logprobs: tuple[TokenLogprobs, ...] | None = None
    tool_calls: tuple[ToolCall, ...] | None = None


@dataclass(frozen=True)
class Assertion:
    """One check of a case's answer, from the `assert:` list of the case or of its suite (docs/suite-format.md).

    ``label`` names it in reasons (``assert[2]``: the case's third, ``suite assert[0]``: the suite's first);
    ``entry`` is the entry as written less its weight (``{"type": "contains", "value": "Paris"}``): it keys the
    check that scores it and, with the others of its case, the score cache.
    """

    label: str
    entry: dict[str, Any]
    weight: float = 1.0

    @property
    def type(self) -> str:
        return str(self.entry["type"])


@dataclass(frozen=True)
class Case:
    """One evaluation case: variables for the template, reference answers, and the checks of its answer."""

    id: str
    vars: dict[str, Any]
    references: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    assertions: tuple[Assertion, ...] = ()
    messages: tuple[Message, ...] = ()  # prior turns after the template's own, as written (variables unrendered)
    turns: tuple[str, ...] = ()  # the user's next turns, answered one after another


@dataclass(frozen=True)
class Prediction:
    """What a variant makes of its generations for one case.

    ``output`` is the text a person reads; ``answer`` is what reference metrics score (the extracted final
    answer). ``confidence`` is the vote agreement for sampled variants, else ``None``. ``latency_s`` runs
    from the first request's admission to the last answer: the engine sets it from the variant's rounds
    (see ``case_latency``); left out, the generations count as one round that ran concurrently.
    """

    output: str
    answer: str
    generations: tuple[Generation, ...] = ()
    confidence: float | None = None
    reasoning: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    turns: tuple[Prediction, ...] = ()  # each turn's prediction, when a suite scores every turn of a conversation
    latency_s: float = None  # type: ignore[assignment]  # None: computed in __post_init__

    def __post_init__(self) -> None:
        if self.latency_s is None:
            object.__setattr__(self, "latency_s", case_latency([self.generations]))

    @property
    def prompt_tokens(self) -> int:
        return sum(g.prompt_tokens for g in self.generations)

    @property
    def completion_tokens(self) -> int:
        return sum(g.completion_tokens for g in self.generations)


def case_latency(rounds: Sequence[Sequence[Generation]]) -> float:
    """A case's latency: rounds run one after another, the generations of a round run concurrently.

    So the sum over rounds of the slowest generation in each, never the sum of all generations.
    """
    return sum(max((g.latency_s for g in generations), default=0.0) for generations in rounds)
