"""Generation requests for backend tests: one user message under given parameters, with the seed fixed."""

from __future__ import annotations

from promptarena.types import GenerationRequest, GenParams, Message


def ask(question: str, *, sample: int = 0, **params: object) -> GenerationRequest:
    """A request of one user message, ``question``, as sample ``sample`` under ``GenParams(**params)``."""
    return GenerationRequest((Message("user", question),), GenParams(**params), seed=0, sample_index=sample)
