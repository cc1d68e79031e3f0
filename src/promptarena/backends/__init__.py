"""Backends turn batches of GenerationRequests into Generations.

The contract is small: ``fingerprint`` (cheap, computed without loading the model or importing torch,
since it is part of every cache key), ``load`` (called only when something must be generated, so a fully
cached run never loads a model) and ``generate`` (yields results as they finish, so that the engine can
store each one at once and a killed run loses at most the batch in flight).

Latency: a generation's ``latency_s`` is the time from its admission into the backend's batch (or, over
HTTP, from sending the request the server accepted) to its last token, what serving systems report as
end-to-end latency. Time spent waiting for a free row is not part of it; rows that run concurrently each
count their own time, never their batch's.

Context: ``context_length`` (prompt plus new tokens; ``None`` when unknown) and ``count_tokens`` let the
engine refuse a prompt that does not fit before any model call, unless the suite sets ``truncate: left``; a
backend that constrains its own decoding may have ``response_format_problem(response_format) -> str | None``, so
that a schema it cannot follow is refused then too.
Options: each backend class declares the options it takes (``options_model``, a pydantic model beside the
class), and they are validated against it before the backend is built (``promptarena.backends.options``).
Backends are registered by name in ``backends`` (installed packages add theirs through entry points).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from promptarena.backends._registry import backends
from promptarena.backends.options import declared_options, validate_options
from promptarena.errors import ConfigError
from promptarena.tools import with_tools_in_system
from promptarena.types import Generation, GenerationRequest, Message

__all__ = ["Backend", "backends", "cannot_constrain", "check_context", "check_formats", "get_backend"]


class Backend(Protocol):
    name: str
    truncate: str | None  # "left": drop a long prompt's oldest tokens instead of refusing it

    @property
    def context_length(self) -> int | None:
        """Positions the model attends to (prompt plus new tokens); ``None`` when unknown (no check)."""
        ...

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Prompt tokens of ``messages`` as the model sees them (chat template included), without the model."""
        ...

    @property
    def fingerprint(self) -> str:
        """A stable string naming everything about the model that changes its outputs."""
        ...

    def load(self) -> None:
        """Get ready to generate (load the model, reach the server); called only when there is work."""
        ...

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        """Yield ``(index into requests, generation)`` for every request, in any order."""
        ...

    def close(self) -> None: ...


def get_backend(name: str, **options: Any) -> Backend:
    """Build the backend registered as ``name`` with the suite's or the command line's options, validated.

    Raises:
        ConfigError: an unknown backend or option, or an option of the wrong type.
    """
    factory = backends.get(name)
    return factory(**validate_options(name, options))


def check_context(backend: Backend, todo: Sequence[tuple[GenerationRequest, str]]) -> None:
    """Refuse, before any model call, a prompt that with its ``max_new_tokens`` does not fit the context.

    Raises:
        ConfigError: naming the case, both lengths and the fixes; with ``truncate: left`` only when even the
            new tokens alone do not fit.
    """
    check_formats(backend, todo)
    context = backend.context_length
    if context is None:
        return
    counted: dict[tuple[Any, ...], int] = {}
    for request, place in todo:
        new = request.params.max_new_tokens
        if backend.truncate and new < context:
            continue
        messages = request.messages
        if request.params.tools:  # counted as the default format sends them: their size, whatever the template
            messages = with_tools_in_system(messages, request.params.tools)
        if messages not in counted:
            counted[messages] = backend.count_tokens(messages)
        prompt = counted[messages]
        if prompt + new > context:
            takes = declared_options(type(backend)).model_fields
            hint = ", or set `model: {truncate: left}`" if "truncate" in takes else ""
            raise ConfigError(
                f"{place}: the prompt is {prompt:,} tokens and max_new_tokens is {new:,}, over the model's "
                f"context of {context:,} tokens; shorten the input, lower max_new_tokens{hint}."
            )


def check_formats(backend: Backend, todo: Sequence[tuple[GenerationRequest, str]]) -> None:
    """Refuse, before any model call, a response format that the backend cannot constrain decoding to (a backend
    that constrains its own decoding says why with ``response_format_problem``; a server is left to judge)."""
    problem_of = getattr(backend, "response_format_problem", None)
    if problem_of is None:
        return
    seen: set[str] = set()
    for request, place in todo:
        response_format = request.params.response_format
        if not response_format or response_format in seen:
            continue
        seen.add(response_format)
        if problem := problem_of(response_format):
            raise ConfigError(f"{place}: {cannot_constrain(backend.name, problem)}")


def cannot_constrain(backend: str, problem: str) -> str:
    """What to say of a response format whose schema ``backend`` cannot constrain its decoding to, and the fix."""
    return (
        f"response_format: the {backend} backend cannot constrain decoding to this JSON Schema ({problem}); "
        "simplify the schema, or leave it out and check answers with a json_schema assertion."
    )
