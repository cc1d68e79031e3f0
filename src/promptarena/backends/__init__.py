"""Backends turn batches of GenerationRequests into Generations.

The contract is small: ``fingerprint`` (cheap, computed without loading the model or importing torch,
since it is part of every cache key), ``load`` (called only when something must be generated, so a fully
cached run never loads a model) and ``generate`` (yields results as they finish, so that the engine can
store each one at once and a killed run loses at most the batch in flight).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from promptarena.registry import Registry
from promptarena.types import Generation, GenerationRequest

Progress = Callable[[int], None]


class Backend(Protocol):
    name: str

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


backends: Registry[Callable[..., Backend]] = Registry("backend")
backends.register("fake", "promptarena.backends.fake:FakeBackend")
backends.register("transformers", "promptarena.backends.hf:TransformersBackend")
backends.register("openai", "promptarena.backends.openai:OpenAIBackend")


def get_backend(name: str, **options: Any) -> Backend:
    """Build the backend registered as ``name`` with the suite's or the command line's options."""
    return backends.get(name)(**options)
