"""Cached generations and scores, keyed by content hashes: a key already stored is never written twice."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from promptarena.store._db import Database, now
from promptarena.types import Generation, TokenLogprobs, ToolCall

if TYPE_CHECKING:
    from promptarena.metrics import Score


class Cache(Database):
    """Generations and scores by key."""

    def cached_generations(self, keys: Iterable[str]) -> dict[str, Generation]:
        out: dict[str, Generation] = {}
        for key, text, pt, ct, lat, fin, lp, calls in self._by_keys(
            "SELECT key, text, prompt_tokens, completion_tokens, latency_s, finish_reason, logprobs, tool_calls "
            "FROM generations",
            keys,
        ):
            out[key] = Generation(text, pt, ct, lat, fin, _logprobs(lp), _tool_calls(calls))
        return out

    def generation_requests(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The requests these generations were made from, as stored (messages, parameters, seed, sample index)."""
        return {
            key: json.loads(request) for key, request in self._by_keys("SELECT key, request FROM generations", keys)
        }

    def cached_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these generation keys are stored, without reading their texts."""
        return {key for (key,) in self._by_keys("SELECT key FROM generations", keys)}

    def _by_keys(self, select: str, keys: Iterable[str]) -> list[tuple[Any, ...]]:
        """Rows of ``select ... WHERE key IN (...)`` for every key, 500 keys a query."""
        keys = list(dict.fromkeys(keys))
        rows: list[tuple[Any, ...]] = []
        with self.read() as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows += conn.execute(f"{select} WHERE key IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        return rows

    def put_generations(self, rows: Sequence[tuple[str, str, dict[str, Any], Generation]]) -> None:
        """Store (key, model fingerprint, request, generation) rows; a key already stored is kept."""
        stamp = now()
        with self.write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO generations (key, model, request, text, prompt_tokens, completion_tokens, "
                "latency_s, finish_reason, created_at, logprobs, tool_calls) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        key,
                        model,
                        json.dumps(request, ensure_ascii=False),
                        g.text,
                        g.prompt_tokens,
                        g.completion_tokens,
                        g.latency_s,
                        g.finish_reason,
                        stamp,
                        None if g.logprobs is None else json.dumps([[t.token, t.logprob, t.top] for t in g.logprobs]),
                        None if g.tool_calls is None else json.dumps([c.as_dict() for c in g.tool_calls]),
                    )
                    for key, model, request, g in rows
                ],
            )

    def cached_scores(self, keys: Iterable[str]) -> dict[str, Score]:
        """The stored scores of these keys, each with its reason."""
        from promptarena.metrics import Score

        return {
            key: Score(value, reason)
            for key, value, reason in self._by_keys("SELECT key, value, reason FROM scores", keys)
        }

    def put_scores(self, rows: Sequence[tuple[str, str, Score]]) -> None:
        """Store (key, metric, score) rows; a key already stored is kept. A failed score is not stored, so it is
        scored again next time."""
        with self.write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO scores (key, metric, value, reason) VALUES (?, ?, ?, ?)",
                [(key, metric, s.value, s.reason) for key, metric, s in rows if s.error is None],
            )


def _logprobs(stored: str | None) -> tuple[TokenLogprobs, ...] | None:
    """A generation's stored log-probabilities (``[[token, logprob, [[token, logprob], ...]], ...]``)."""
    if stored is None:
        return None
    return tuple(TokenLogprobs(t, lp, tuple((a, b) for a, b in top)) for t, lp, top in json.loads(stored))


def _tool_calls(stored: str | None) -> tuple[ToolCall, ...] | None:
    """A generation's stored tool calls (``[{"name", "arguments"}, ...]``)."""
    if stored is None:
        return None
    return tuple(ToolCall.of(c["name"], c["arguments"]) for c in json.loads(stored))
