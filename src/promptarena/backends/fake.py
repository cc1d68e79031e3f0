"""A deterministic backend for tests and dry runs: scripted outputs or a function of the request."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from promptarena.hashing import content_hash
from promptarena.types import Generation, GenerationRequest

Responder = Callable[[GenerationRequest], str]


class FakeBackend:
    """Answers without a model.

    ``responses`` maps a substring of the last user message to an output, or to a list of outputs indexed
    by sample index (cycled). ``outputs`` is a list handed out in order. ``fn`` computes the output from
    the request. With none of them, the backend echoes the last user message. ``delay_s`` makes each
    answer take that long, to stand in for a slow model. ``history`` keeps every request it answered.
    """

    name = "fake"

    def __init__(
        self,
        responses: Mapping[str, str | Sequence[str]] | None = None,
        outputs: Sequence[str] | None = None,
        fn: Responder | None = None,
        default: str | None = None,
        delay_s: float = 0.0,
        model: str = "fake",
        **_: Any,
    ) -> None:
        self._responses = dict(responses or {})
        self._outputs = list(outputs or [])
        self._fn = fn
        self._default = default
        self._delay_s = delay_s
        self.model = model
        self.history: list[GenerationRequest] = []
        script = {"responses": self._responses, "outputs": self._outputs, "default": default}
        fn_id = f"{fn.__module__}.{fn.__qualname__}" if fn is not None else None
        self._fingerprint = f"fake:{model}:{content_hash({'script': script, 'fn': fn_id})[:16]}"

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
        for i, request in enumerate(requests):
            self.history.append(request)
            if self._delay_s:
                time.sleep(self._delay_s)
            text = self._answer(request)
            words = text.split()[: request.params.max_new_tokens]
            prompt_tokens = sum(len(m.content.split()) for m in request.messages)
            yield (
                i,
                Generation(
                    text=text,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=len(words),
                    latency_s=0.001 * (1 + len(words)),
                    finish_reason="stop",
                ),
            )

    def close(self) -> None:
        pass
