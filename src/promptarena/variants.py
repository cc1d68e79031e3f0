"""Variants are the arms of an experiment: each turns one rendered prompt into generation requests and
reduces the generations to a Prediction. New variants are registered, not written into the engine.

A variant may ask for more than one round (the judge first samples candidates, then asks the model to
pick one): ``requests(item, history)`` returns the next round's requests, or ``None`` once it is done.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from promptarena.errors import ConfigError
from promptarena.extract import AnswerSpec, extract_answer, vote_key
from promptarena.hashing import content_hash
from promptarena.registry import Registry
from promptarena.types import Case, Generation, GenerationRequest, GenParams, Message, Prediction


@dataclass(frozen=True)
class Item:
    """One case of one prompt version, rendered: what a variant works on."""

    case: Case
    messages: tuple[Message, ...]
    params: GenParams
    seed: int
    answer: AnswerSpec


History = Sequence[Sequence[Generation]]


class Variant:
    name: ClassVar[str]

    def requests(self, item: Item, history: History) -> list[GenerationRequest] | None:
        raise NotImplementedError

    def reduce(self, item: Item, history: History) -> Prediction:
        raise NotImplementedError

    @classmethod
    def validate_options(cls, options: dict[str, Any]) -> None:
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        for key in options:
            if key not in fields:
                from promptarena.errors import did_you_mean

                raise ConfigError(
                    f"variant {cls.name!r} has no option {key!r}{did_you_mean(key, fields)}; "
                    f"options: {', '.join(fields) or 'none'}."
                )
        try:
            cls(**options)  # type: ignore[call-arg]
        except (TypeError, ValueError) as err:
            raise ConfigError(f"variant {cls.name!r}: {err}.") from None


variants: Registry[type[Variant]] = Registry("variant")


def make_variant(name: str, options: dict[str, Any] | None = None) -> Variant:
    cls = variants.get(name)
    cls.validate_options(options or {})
    return cls(**(options or {}))  # type: ignore[call-arg]


def _single(item: Item, text_of: Generation, answer: str, reasoning: str | None = None) -> Prediction:
    return Prediction(output=text_of.text, answer=answer, generations=(text_of,), reasoning=reasoning)


@variants.decorator("plain")
@dataclass(frozen=True)
class Plain(Variant):
    """The prompt as written, with its own parameters (greedy unless the prompt says otherwise)."""

    name: ClassVar[str] = "plain"

    def requests(self, item: Item, history: History) -> list[GenerationRequest] | None:
        if history:
            return None
        return [GenerationRequest(item.messages, item.params, item.seed, 0)]

    def reduce(self, item: Item, history: History) -> Prediction:
        gen = history[0][0]
        return _single(item, gen, extract_answer(gen.text, item.answer))


@variants.decorator("cot")
@dataclass(frozen=True)
class ChainOfThought(Variant):
    """Appends a step-by-step instruction and a final-answer line; the answer is read from that line."""

    name: ClassVar[str] = "cot"
    instruction: str = "Think step by step. Then write the final answer alone on the last line, after '{prefix}'."
    answer_prefix: str = "Answer:"
    max_new_tokens: int = 160

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")

    def messages(self, item: Item) -> tuple[Message, ...]:
        msgs = list(item.messages)
        last = max(i for i, m in enumerate(msgs) if m.role == "user")
        note = self.instruction.replace("{prefix}", self.answer_prefix)
        msgs[last] = Message("user", f"{msgs[last].content}\n\n{note}")
        return tuple(msgs)

    def params(self, item: Item) -> GenParams:
        return dataclasses.replace(item.params, max_new_tokens=max(self.max_new_tokens, item.params.max_new_tokens))

    def split(self, item: Item, text: str) -> tuple[str, str]:
        """(answer, reasoning): the text after the last answer prefix, else the whole output."""
        idx = text.lower().rfind(self.answer_prefix.lower())
        if idx < 0:
            return extract_answer(text, item.answer), text.strip()
        tail = text[idx + len(self.answer_prefix) :].strip()
        tail = tail.splitlines()[0] if tail else ""
        return extract_answer(tail, item.answer), text[:idx].strip()

    def requests(self, item: Item, history: History) -> list[GenerationRequest] | None:
        if history:
            return None
        return [GenerationRequest(self.messages(item), self.params(item), item.seed, 0)]

    def reduce(self, item: Item, history: History) -> Prediction:
        gen = history[0][0]
        answer, reasoning = self.split(item, gen.text)
        return _single(item, gen, answer, reasoning)


def majority(answers: Sequence[str]) -> tuple[int, int]:
    """Index of the winning sample and its vote count; ties go to the answer sampled first.

    Empty answers (nothing extracted) never win while any sample has an answer.
    """
    keys = [vote_key(a) for a in answers]
    counts = Counter(k for k in keys if k)
    if not counts:
        return 0, 0
    top = max(counts.values())
    winner = next(i for i, k in enumerate(keys) if k and counts[k] == top)
    return winner, top


@dataclass(frozen=True)
class _Sampled(Variant):
    samples: int = 5
    temperature: float = 0.7
    top_p: float = 1.0
    base: str = "plain"

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError("samples must be at least 1")
        if self.temperature <= 0:
            raise ValueError("temperature must be above 0 for sampling")
        if self.base not in ("plain", "cot"):
            raise ValueError("base must be 'plain' or 'cot'")

    def _cot(self) -> ChainOfThought | None:
        return ChainOfThought() if self.base == "cot" else None

    def sample_requests(self, item: Item) -> list[GenerationRequest]:
        cot = self._cot()
        messages = cot.messages(item) if cot else item.messages
        params = cot.params(item) if cot else item.params
        params = dataclasses.replace(params, temperature=self.temperature, top_p=self.top_p)
        return [GenerationRequest(messages, params, item.seed, i) for i in range(self.samples)]

    def answers(self, item: Item, gens: Sequence[Generation]) -> list[tuple[str, str | None]]:
        cot = self._cot()
        if cot:
            return [cot.split(item, g.text) for g in gens]
        return [(extract_answer(g.text, item.answer), None) for g in gens]

    def vote(self, item: Item, gens: Sequence[Generation]) -> Prediction:
        parsed = self.answers(item, gens)
        answers = [a for a, _ in parsed]
        win, top = majority(answers)
        maj_at_k = [answers[majority(answers[:k])[0]] for k in range(1, len(answers) + 1)]
        votes = Counter(vote_key(a) for a in answers if vote_key(a))
        return Prediction(
            output=gens[win].text,
            answer=answers[win],
            generations=tuple(gens),
            confidence=top / len(answers),
            reasoning=parsed[win][1],
            details={"samples": answers, "votes": dict(votes.most_common()), "maj_at_k": maj_at_k},
        )


@variants.decorator("self_consistency")
@dataclass(frozen=True)
class SelfConsistency(_Sampled):
    """N samples at temperature T, answers extracted, majority vote; agreement is the confidence."""

    name: ClassVar[str] = "self_consistency"

    def requests(self, item: Item, history: History) -> list[GenerationRequest] | None:
        return None if history else self.sample_requests(item)

    def reduce(self, item: Item, history: History) -> Prediction:
        return self.vote(item, history[0])


JUDGE_PROMPT = (
    "Question:\n{question}\n\nCandidate answers:\n{candidates}\n\n"
    "Which candidate answers the question best? Reply with its number on the first line, "
    "then one sentence saying why."
)


@variants.decorator("judge")
@dataclass(frozen=True)
class Judge(_Sampled):
    """The model's own vote: N candidates, shown in shuffled order, and the model picks the best."""

    name: ClassVar[str] = "judge"
    judge_max_new_tokens: int = 48

    def order(self, item: Item) -> list[int]:
        order = list(range(self.samples))
        random.Random(content_hash([item.seed, item.case.id])).shuffle(order)
        return order

    def requests(self, item: Item, history: History) -> list[GenerationRequest] | None:
        if not history:
            return self.sample_requests(item)
        if len(history) > 1:
            return None
        question = next(m.content for m in reversed(item.messages) if m.role == "user")
        shown = "\n".join(
            f"{pos + 1}. {history[0][idx].text.strip()[:500]}" for pos, idx in enumerate(self.order(item))
        )
        messages = (
            Message("system", "You are a careful, impartial judge."),
            Message("user", JUDGE_PROMPT.format(question=question, candidates=shown)),
        )
        params = GenParams(max_new_tokens=self.judge_max_new_tokens, temperature=0.0)
        return [GenerationRequest(messages, params, item.seed, 0)]

    def reduce(self, item: Item, history: History) -> Prediction:
        candidates, verdict = history[0], history[1][0]
        voted = self.vote(item, candidates)
        order = self.order(item)
        m = re.search(r"\d+", verdict.text)
        pos = int(m.group(0)) - 1 if m else -1
        details = {**voted.details, "order": order, "judge_output": verdict.text.strip()}
        gens = (*candidates, verdict)
        if not 0 <= pos < len(order):
            details["judge_fallback"] = "the judge named no candidate; the majority vote stands"
            return dataclasses.replace(voted, generations=gens, details=details)
        pick = order[pos]
        answer, reasoning = self.answers(item, [candidates[pick]])[0]
        details["pick"] = pick
        return Prediction(
            output=candidates[pick].text,
            answer=answer,
            generations=gens,
            confidence=voted.confidence,
            reasoning=reasoning,
            details=details,
        )
