"""Batch-invariant decoding on the real embedded model: a request's tokens do not depend on its batch.

A request is run alone, among 7 and among 64 (all at once, and admitted in waves while others decode), in
bf16 and fp32; its neighbours have other lengths, other limits, samples of the same prompt and system
prompts that share a head (prefilled apart as a cluster). Its tokens must be identical, not nearly.
"""

from __future__ import annotations

import random

import pytest

from promptarena.backends.transformers import TransformersBackend
from promptarena.types import GenerationRequest, GenParams, Message

pytestmark = pytest.mark.model

TOPICS = [
    "a volcano", "gravity", "a haiku", "photosynthesis", "an algorithm", "the moon", "a comet", "inflation",
    "a glacier", "democracy", "a neuron", "the Renaissance", "a prime number", "rust on iron", "a rainbow",
    "an earthquake", "a vaccine", "a black hole", "the internet", "a tide", "a desert", "a violin", "an atom",
    "a hurricane", "a library", "a bridge", "a fossil", "a river delta", "a compass", "a battery",
]  # fmt: skip
RULES = " Keep it short, use plain words, do not explain, do not list options, and never add a greeting."
SYSTEMS = [  # a head of their own, longer than the scheduler's cluster gain: prefilled once per cluster
    "You are a careful geography teacher. Answer in one short sentence." + RULES * 2,
    "You are a pirate who answers every question with a sea shanty line." + RULES * 2,
]
LONG = "Here are my notes. " + " ".join(f"Note {i}: {t} is worth a look." for i, t in enumerate(TOPICS)) + " Sum up."


def ask(question: str, system: str | None = None, sample: int = 0, **params: object) -> GenerationRequest:
    messages = ((Message("system", system),) if system else ()) + (Message("user", question),)
    return GenerationRequest(messages, GenParams(**params), seed=0, sample_index=sample)


MINE = [
    ask("In one sentence, what is a volcano?", max_new_tokens=24),
    ask("Name a color.", max_new_tokens=24),
    ask("What is the capital of France?", system=SYSTEMS[0], max_new_tokens=24),
    ask(LONG, max_new_tokens=24),  # over 256 keys: the values are summed in more than one chunk
    ask("In one sentence, what is gravity?", sample=1, max_new_tokens=24, temperature=0.8, top_p=0.9),
]


def neighbours(n: int, seed: int) -> list[GenerationRequest]:
    """``n`` other requests: other questions and limits, samples of a request of ours, system prompts."""
    rng = random.Random(seed)
    pool = [ask(f"In one sentence, what is {t}?", max_new_tokens=rng.randint(4, 32)) for t in TOPICS]
    pool += [ask(f"Where is {t}?", system=s, max_new_tokens=12) for s in SYSTEMS for t in TOPICS[:6]]
    pool += [ask("In one sentence, what is gravity?", sample=i, max_new_tokens=24, temperature=0.8) for i in (0, 2, 3)]
    pool += [ask(f"Say {t} {'again ' * k}in {k + 2} words.", max_new_tokens=8) for k, t in enumerate(TOPICS)]
    return rng.sample(pool, n)


Answer = tuple[str, int, str, list[list[float]]]  # text, tokens, finish reason; logits seen at each step


@pytest.fixture
def logits_seen(monkeypatch: pytest.MonkeyPatch) -> dict[GenerationRequest, list[list[float]]]:
    """Every 509th logit (97 of the vocabulary), exactly as computed, of each request at each step.

    Tokens agree whenever logits are near enough; identical logits show that the sums did not change order
    (in fp32 batch dependence moves logits by ~1e-6, which rarely flips a token in a test this size).
    """
    from promptarena.backends.transformers import _batch

    seen: dict[GenerationRequest, list[list[float]]] = {}
    advance = _batch.Batch.advance

    def recording(self: _batch.Batch, logits: object) -> None:
        for row, values in zip(self.rows, logits[:, ::509].float().tolist(), strict=True):  # type: ignore[index]
            seen.setdefault(row.request, []).append(values)
        advance(self, logits)

    monkeypatch.setattr(_batch.Batch, "advance", recording)
    return seen


def answers(
    backend: TransformersBackend, requests: list[GenerationRequest], seen: dict[GenerationRequest, list[list[float]]]
) -> dict[GenerationRequest, Answer]:
    """Each request's answer: its text, token count, finish reason and the logits it saw."""
    seen.clear()
    results = dict(backend.generate(requests))
    assert sorted(results) == list(range(len(requests)))
    gens = [results[i] for i in range(len(requests))]
    return {r: (g.text, g.completion_tokens, g.finish_reason, seen[r]) for r, g in zip(requests, gens, strict=True)}


def mixed(mine: list[GenerationRequest], others: list[GenerationRequest], seed: int) -> list[GenerationRequest]:
    batch = mine + others
    random.Random(seed).shuffle(batch)
    return batch


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_a_requests_tokens_do_not_depend_on_its_batch(dtype: str, logits_seen: dict) -> None:
    backend = TransformersBackend(dtype=dtype)
    alone = {r: answers(backend, [r], logits_seen)[r] for r in MINE}
    seven = answers(backend, mixed(MINE[:3], neighbours(4, seed=1), seed=1), logits_seen)
    seven |= answers(backend, mixed(MINE[3:], neighbours(5, seed=2), seed=2), logits_seen)
    crowd = mixed(MINE, neighbours(59, seed=3), seed=3)
    sixty_four = answers(backend, crowd, logits_seen)
    backend.batch_size = 16  # admitted in waves: rows join while others decode, and leave at other steps
    waves = answers(backend, crowd, logits_seen)
    for r in MINE:
        for where, got in (("in 7", seven[r]), ("in 64", sixty_four[r]), ("in waves of 16", waves[r])):
            what = (dtype, r.messages[-1].content[:40], where)
            assert got[:3] == alone[r][:3], what  # the tokens
            assert got[3] == alone[r][3], what  # the logits at every step, to the last bit
    assert all(text for text, *_ in alone.values())
    assert all(len(seen) == count for _, count, _, seen in alone.values())  # one step per token
    assert backend.decoding == "batch-invariant"  # the CPU default, in both dtypes
