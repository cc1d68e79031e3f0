"""The cache-aware generator: answers requests from the results store, generates only the misses, and stores each
generation as it arrives, so that a killed run resumes where it stopped; and an arm's throughput from the spans
of what it generated."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptarena.backends import Backend, check_context
from promptarena.clock import WALL_CLOCK, Clock
from promptarena.store import ResultsStore
from promptarena.types import Generation, GenerationRequest

if TYPE_CHECKING:
    from promptarena.rounds import Task

ProgressFn = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class Throughput:
    """An arm's completion tokens generated in this run and the span they were generated in."""

    tokens: int = 0
    fresh: int = 0
    start: float = float("inf")
    end: float = float("-inf")

    def add(self, tasks: Sequence[Task], spans: Mapping[str, tuple[float, float]]) -> None:
        """Count the generations these tasks got from this chunk's generating (each key once)."""
        fresh = {k: g for t in tasks for k, g in zip(t.keys, (g for r in t.history for g in r), strict=True)}
        fresh = {k: g for k, g in fresh.items() if k in spans}
        if fresh:
            self.fresh += len(fresh)
            self.tokens += sum(g.completion_tokens for g in fresh.values())
            self.start = min(self.start, *(spans[k][0] for k in fresh))
            self.end = max(self.end, *(spans[k][1] for k in fresh))

    @property
    def per_s(self) -> float:
        span = self.end - self.start
        return self.tokens / span if self.fresh and span > 0 else float("nan")


class Generator:
    """Answers rounds of requests from the cache, generating only the misses, storing as they arrive."""

    def __init__(
        self, backend: Backend, results: ResultsStore, progress: ProgressFn | None, clock: Clock = WALL_CLOCK
    ) -> None:
        self.backend = backend
        self.clock = clock  # what load, generation and the generations' spans are timed on
        self.results = results
        self.progress = progress
        self.generated = self.cached = self.generated_tokens = 0
        self.generation_s = self.load_s = 0.0
        self.spans: dict[str, tuple[float, float]] = {}  # key -> (admitted, finished), generated in this chunk
        self._fits: set[str] = set()  # keys whose prompts were checked against the context
        self.made: set[str] = set()  # keys generated in this run: an earlier chunk's are not counted as cached

    def __call__(self, requests: Sequence[GenerationRequest], places: Sequence[str]) -> list[tuple[str, Generation]]:
        """Each request's generation with its cache key; ``places`` name each request's case for errors."""
        keys = self._keys(requests)
        found = self.results.cached_generations(keys)
        missing = self._missing(keys, found, requests, places)
        self.cached += len({k for k in found if k not in self.made})
        if missing:
            self._generate([(key, request) for key, (request, _) in missing.items()], found)
        return [(key, found[key]) for key in keys]

    def check(self, requests: Sequence[GenerationRequest], places: Sequence[str]) -> None:
        """Refuse prompts of the cache misses that do not fit the model's context (reads keys only)."""
        keys = self._keys(requests)
        self._missing(keys, self.results.cached_keys(keys), requests, places)

    def stored(self, requests: Sequence[GenerationRequest]) -> list[bool]:
        """Whether each request is answered in the results store (reads keys only)."""
        keys = self._keys(requests)
        found = self.results.cached_keys(keys) if keys else set()
        return [key in found for key in keys]

    def take_spans(self) -> dict[str, tuple[float, float]]:
        """The spans of the generations made since the last call, forgotten here."""
        spans, self.spans = self.spans, {}
        return spans

    def _keys(self, requests: Sequence[GenerationRequest]) -> list[str]:
        fingerprint = self.backend.fingerprint
        return [r.key(fingerprint) for r in requests]

    def _missing(
        self, keys: list[str], found: Iterable[str], requests: Sequence[GenerationRequest], places: Sequence[str]
    ) -> dict[str, tuple[GenerationRequest, str]]:
        found = set(found)
        missing: dict[str, tuple[GenerationRequest, str]] = {}
        for key, request, place in zip(keys, requests, places, strict=True):
            if key not in found:
                missing.setdefault(key, (request, place))
        check_context(self.backend, [todo for key, todo in missing.items() if key not in self._fits])
        self._fits.update(missing)
        return missing

    def _generate(self, todo: list[tuple[str, GenerationRequest]], found: dict[str, Generation]) -> None:
        fingerprint = self.backend.fingerprint
        if self.progress:
            self.progress("load model", 0, 1)
        start = self.clock.now()
        self.backend.load()
        self.load_s += self.clock.now() - start
        buffer: list[tuple[str, str, dict[str, Any], Generation]] = []
        last_flush = time.monotonic()
        start = self.clock.now()
        done = 0
        if self.progress:
            self.progress("generate", 0, len(todo))
        try:
            for index, generation in self.backend.generate([r for _, r in todo]):
                key, request = todo[index]
                now = self.clock.now()
                self.spans[key] = (now - generation.latency_s, now)
                found[key] = generation
                self.made.add(key)
                buffer.append((key, fingerprint, dataclasses.asdict(request), generation))
                done += 1
                self.generated_tokens += generation.completion_tokens
                if len(buffer) >= 64 or time.monotonic() - last_flush > 1.0:
                    self.results.put_generations(buffer)
                    buffer.clear()
                    last_flush = time.monotonic()
                if self.progress:
                    self.progress("generate", done, len(todo))
        finally:
            # what was generated before a failure or an interrupt is kept, so a rerun resumes from it
            if buffer:
                self.results.put_generations(buffer)
        self.generated += done
        self.generation_s += self.clock.now() - start
