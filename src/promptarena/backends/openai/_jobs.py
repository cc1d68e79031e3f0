"""How a batch of requests becomes HTTP requests: the samples of one prompt go out together as one request with
``n`` choices where the server honours ``n``; every other request is one of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptarena.types import Generation, GenerationRequest


def sample_seed(seed: int, sample_index: int) -> int:
    """The seed sent for one sample when samples go out as separate requests."""
    return seed * 1000 + sample_index


@dataclass(frozen=True)
class Job:
    """One HTTP request's worth of work: indices into the batch that share a prompt, ``n`` = their number."""

    indices: tuple[int, ...]

    @property
    def n(self) -> int:
        return len(self.indices)


@dataclass(frozen=True)
class Done:
    """A job's outcome: the generations made and the indices still to be sent one by one."""

    results: list[tuple[int, Generation]]
    leftover: tuple[int, ...] = ()


def jobs_of(requests: Sequence[GenerationRequest], group_samples: bool) -> list[Job]:
    """Group sampled requests of one prompt into one job each (when ``group_samples``); every other request is a
    job of its own."""
    groups: dict[str, list[int]] = {}
    jobs: list[Job] = []
    for i, request in enumerate(requests):
        if request.params.temperature > 0 and group_samples:
            groups.setdefault(request.prompt_key(), []).append(i)
        else:
            jobs.append(Job((i,)))
    jobs.extend(Job(tuple(indices)) for indices in groups.values())
    return jobs
