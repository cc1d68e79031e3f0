"""Reviewing outputs: the queue of outputs that no one (or not you) has voted on yet, what the model saw for an
output (the messages as sent, its parameters, tokens and latency), and the words that differ between two outputs.

A queue is computed from stored results and votes alone, on every look, so a vote cast in another tab or by a
teammate takes the output off everyone's queue at their next step.
"""

from __future__ import annotations

import difflib
import html
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promptarena.agreement import metric_verdict
from promptarena.errors import PromptArenaError
from promptarena.feedback import output_hash
from promptarena.store import ResultsStore
from promptarena.types import Message
from promptarena.views._arms import ArmChoice

ORDERS = {
    "disagreement": "most disagreement first (arms, samples, a judge and people)",
    "metric": "lowest score first",
    "random": "at random, by a seed (two reviewers with two seeds split the work)",
    "suite": "the suite's order",
}


@dataclass(frozen=True)
class QueueItem:
    """One output to review: an arm's stored answer to a case, who voted on it, and the other arm's output (pair)."""

    choice: ArmChoice
    case_id: str
    output: str
    answer: str
    scores: dict[str, float | None]
    keys: tuple[str, ...]  # the generations behind the output, in order
    disagreement: float
    voters: frozenset[str]
    other: ArmChoice | None = None
    other_output: str | None = None


def review_queue(
    results: ResultsStore,
    choices: Sequence[ArmChoice],
    *,
    order: str = "disagreement",
    metric: str | None = None,
    seed: int = 0,
) -> list[QueueItem]:
    """Every stored output of one arm (or of two, each beside the other's output of the same case), in ``order``.

    ``metric`` is the score that "metric" sorts by (lowest first) and that tells arms apart for "disagreement"; a
    case one arm lacks is left out of a pair. Unknown orders are a ``PromptArenaError``.
    """
    if order not in ORDERS:
        raise PromptArenaError(f"unknown queue order {order!r}: use one of {', '.join(ORDERS)}")
    stored = [results.arm_results(c.run_id, c.blob, c.variant, model=c.model) for c in choices]
    cases = [case for case in stored[0] if all(case in rows for rows in stored[1:])] if stored else []
    voted: dict[tuple[str, str, str, str], list[tuple[str, bool]]] = {}
    if choices:
        for vote in results.votes(choices[0].suite):
            key = (vote.blob, vote.variant, vote.case_id, vote.output_hash)
            voted.setdefault(key, []).append((vote.voter, vote.thumbs_up))
    items: list[QueueItem] = []
    for case in cases:
        for i, choice in enumerate(choices):
            row = stored[i][case]
            other = choices[1 - i] if len(choices) == 2 else None
            other_row = stored[1 - i][case] if other is not None else None
            votes = voted.get((choice.blob, choice.variant, case, output_hash(row["output"])), [])
            items.append(
                QueueItem(
                    choice=choice,
                    case_id=case,
                    output=row["output"],
                    answer=row["answer"],
                    scores=row["scores"],
                    keys=tuple(row["keys"]),
                    disagreement=_disagreement(row, other_row, metric, votes),
                    voters=frozenset(voter for voter, _ in votes),
                    other=other,
                    other_output=other_row["output"] if other_row is not None else None,
                )
            )
    if order == "disagreement":
        items.sort(key=lambda item: -item.disagreement)  # stable: the suite's order among equals
    elif order == "metric":
        items.sort(key=lambda item: _score_key(item.scores.get(metric) if metric else None))
    elif order == "random":
        random.Random(seed).shuffle(items)
    return items


def pending(items: Sequence[QueueItem], voter: str | None = None) -> list[QueueItem]:
    """The items no one has voted on (``voter`` None), or that ``voter`` has not voted on."""
    return [item for item in items if (voter not in item.voters if voter else not item.voters)]


def _score_key(value: float | None) -> tuple[int, float]:
    """Lowest first; an unscored output last."""
    return (1, 0.0) if value is None or math.isnan(value) else (0, value)


def _disagreement(
    row: dict[str, Any], other: dict[str, Any] | None, metric: str | None, votes: list[tuple[str, bool]]
) -> float:
    """The largest of: how far the two arms' scores lie apart (a half when only their answers differ), how far the
    samples split (one less the self-consistency agreement), and how far a pass/fail judge lies from people's votes."""
    parts = [0.0]
    if other is not None:
        a, b = (row["scores"].get(metric), other["scores"].get(metric)) if metric else (None, None)
        if a is not None and b is not None:
            parts.append(abs(a - b))
        if row["answer"] != other["answer"]:
            parts.append(0.5)
    confidence = row.get("confidence")
    if confidence is not None and not math.isnan(confidence):
        parts.append(1.0 - confidence)
    if votes:
        share = sum(up for _, up in votes) / len(votes)
        for name, value in row["scores"].items():
            try:
                verdict = metric_verdict(name, value)
            except PromptArenaError:  # a metric this installation does not know any more
                continue
            if verdict is not None:
                parts.append(abs(float(verdict) - share))
    return max(parts)


# --- what the model saw ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentRequest:
    """One generation as the model got and gave it: the rendered messages, the parameters, tokens and latency."""

    messages: tuple[Message, ...]
    params: dict[str, Any]
    seed: int
    sample_index: int
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float | None
    finish_reason: str | None


def sent_requests(results: ResultsStore, keys: Sequence[str]) -> list[SentRequest]:
    """The requests behind an output's generations, in order; a generation no longer stored is left out."""
    requests = results.generation_requests(keys)
    generations = results.cached_generations(keys)
    out = []
    for key in dict.fromkeys(keys):
        request = requests.get(key)
        if request is None:
            continue
        gen = generations.get(key)
        out.append(
            SentRequest(
                messages=tuple(Message(m["role"], m["content"]) for m in request.get("messages") or ()),
                params=dict(request.get("params") or {}),
                seed=int(request.get("seed") or 0),
                sample_index=int(request.get("sample_index") or 0),
                prompt_tokens=gen.prompt_tokens if gen else None,
                completion_tokens=gen.completion_tokens if gen else None,
                latency_s=gen.latency_s if gen else None,
                finish_reason=gen.finish_reason if gen else None,
            )
        )
    return out


def case_sent(results: ResultsStore, choice: ArmChoice, case_id: str) -> list[SentRequest]:
    """What the model saw for one arm's output of one case (as its run stored it, not perturbed)."""
    row = results.arm_results(choice.run_id, choice.blob, choice.variant, case_id, choice.model).get(case_id)
    return sent_requests(results, row["keys"]) if row else []


# --- the words that differ ---------------------------------------------------------------------------------

_WORDS = re.compile(r"\s+|[^\s]+")


def word_diff(a: str, b: str) -> str:
    """HTML of ``b`` against ``a`` word by word: removed words in ``<del>``, added ones in ``<ins>``, the rest as
    is; every piece of text HTML-escaped, whitespace kept (the caller shows it in a ``pre-wrap`` block)."""
    left, right = _WORDS.findall(a), _WORDS.findall(b)
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.append(html.escape("".join(left[i1:i2])))
            continue
        if i2 > i1:
            out.append(f"<del>{html.escape(''.join(left[i1:i2]))}</del>")
        if j2 > j1:
            out.append(f"<ins>{html.escape(''.join(right[j1:j2]))}</ins>")
    return "".join(out)
