"""A deterministic backend for tests and dry runs: scripted outputs or a function of the request."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import ClassVar

from pydantic import Field, PositiveInt

from promptarena.backends.options import BackendOptions, Truncate
from promptarena.clock import WALL_CLOCK, Clock
from promptarena.hashing import content_hash
from promptarena.tools import normalize_calls, parse_tool_calls
from promptarena.types import Generation, GenerationRequest, Message, TokenLogprobs

Responder = Callable[[GenerationRequest], str]


class FakeOptions(BackendOptions):
    """The fake backend's options in a suite: scripted outputs, a delay standing in for a model, a context to
    overflow (``fn`` is for Python callers only)."""

    model: str = "fake"
    responses: dict[str, str | list[str]] = Field(default_factory=dict)
    outputs: list[str] = Field(default_factory=list)
    default: str | None = None
    delay_s: float = Field(default=0.0, ge=0)
    concurrency: PositiveInt = 1
    context_length: PositiveInt | None = None
    truncate: Truncate | None = None
    logprobs: dict[str, dict[str, float]] = Field(default_factory=dict)


class FakeBackend:
    """Answers without a model.

    ``responses`` maps a substring of the last user message to an output, or to a list of outputs indexed
    by sample index (cycled). ``outputs`` is a list handed out in order. ``fn`` computes the output from
    the request. With none of them, the backend echoes the last user message. ``history`` keeps every
    request it answered. Tokens are words.

    Timing: a batch is admitted whole when ``generate`` is called and served ``concurrency`` requests at
    a time, each taking ``delay_s`` (a slow model's stand-in). A request's latency is measured from the
    call to its answer, so it is its wait in the queue plus its own delay: with ``concurrency`` at least
    the batch size every request takes ``delay_s``; with 1 (the default) they finish one after another.
    ``clock`` is what the delays pass on and latencies are read from (real time by default).

    ``context_length`` makes the fake refuse (through the engine) prompts that, with ``max_new_tokens``,
    do not fit; ``truncate: left`` counts such prompts as cut to fit instead.

    ``logprobs`` scripts the top log-probabilities returned to a request that asks for them: it maps a word of
    the output to the words that were as likely at its step, ``{PASS: {PASS: -0.2, FAIL: -1.7}}``; any other
    word was certain (log-probability 0).
    """

    name = "fake"
    options_model: ClassVar[type[BackendOptions]] = FakeOptions

    def __init__(
        self,
        responses: Mapping[str, str | Sequence[str]] | None = None,
        outputs: Sequence[str] | None = None,
        fn: Responder | None = None,
        default: str | None = None,
        delay_s: float = 0.0,
        concurrency: int = 1,
        model: str = "fake",
        context_length: int | None = None,
        truncate: str | None = None,
        logprobs: Mapping[str, Mapping[str, float]] | None = None,
        clock: Clock = WALL_CLOCK,
    ) -> None:
        self._clock = clock
        self._logprobs = {word: dict(top) for word, top in (logprobs or {}).items()}
        self._responses = dict(responses or {})
        self._outputs = list(outputs or [])
        self._fn = fn
        self._default = default
        self._delay_s = delay_s
        self._concurrency = concurrency
        self._context_length = context_length
        self.truncate = truncate
        self.model = model
        self.history: list[GenerationRequest] = []
        script = {"responses": self._responses, "outputs": self._outputs, "default": default}
        if self._logprobs:  # only when scripted, so that the fingerprints of other scripts stay as they were
            script["logprobs"] = self._logprobs
        fn_id = f"{fn.__module__}.{fn.__qualname__}" if fn is not None else None
        self._fingerprint = f"fake:{model}:{content_hash({'script': script, 'fn': fn_id})[:16]}"

    @property
    def context_length(self) -> int | None:
        return self._context_length

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Words of every message."""
        return sum(len(m.content.split()) for m in messages)

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def _answer(self, request: GenerationRequest) -> str:
        if self._fn is not None:
            return self._fn(request)
        if self._outputs:
            return self._outputs.pop(0)
        last_user = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        for needle, out in self._responses.items():
            if needle in last_user:
                if isinstance(out, str):
                    return out
                return out[request.sample_index % len(out)]
        return self._default if self._default is not None else last_user

    def load(self) -> None:
        pass

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        """Answer ``concurrency`` requests at a time; each one's latency runs from this call to its answer."""
        admitted = self._clock.now()
        for first in range(0, len(requests), self._concurrency):
            if self._delay_s:
                self._clock.sleep(self._delay_s)
            for i in range(first, min(first + self._concurrency, len(requests))):
                yield i, self._generation(requests[i], self._clock.now() - admitted)

    def _generation(self, request: GenerationRequest, latency_s: float) -> Generation:
        self.history.append(request)
        text = self._answer(request)
        words = text.split()[: request.params.max_new_tokens]
        prompt_tokens = self.count_tokens(request.messages)
        if self.truncate and self._context_length:
            prompt_tokens = min(prompt_tokens, self._context_length - request.params.max_new_tokens)
        return Generation(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(words),
            latency_s=latency_s,
            finish_reason="stop",
            logprobs=self._token_logprobs(text, request) if request.params.top_logprobs else None,
            tool_calls=normalize_calls(parse_tool_calls(text), request.params.tools) if request.params.tools else None,
        )

    def _token_logprobs(self, text: str, request: GenerationRequest) -> tuple[TokenLogprobs, ...]:
        """Each word of ``text`` as a token (with the spaces before it), and its scripted alternatives."""
        out = []
        for token in re.findall(r"\s*\S+", text)[: request.params.max_new_tokens]:
            space, word = token[: len(token) - len(token.lstrip())], token.strip()
            top = sorted(self._logprobs.get(word, {word: 0.0}).items(), key=lambda kv: -kv[1])
            alternatives = tuple((space + w, lp) for w, lp in top[: request.params.top_logprobs])
            out.append(TokenLogprobs(token, dict(top).get(word, top[0][1]), alternatives))
        return tuple(out)

    def close(self) -> None:
        pass
