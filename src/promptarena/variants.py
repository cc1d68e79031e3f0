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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptarena.errors import ConfigError, did_you_mean
from promptarena.extract import AnswerSpec, extract_answer, normalize_answer, paren_depths
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
    turns: tuple[str, ...] = ()  # the user's next turns, rendered: see ``conversation``
    every_turn: bool = False  # score every answer of the conversation, not just the last


History = Sequence[Sequence[Generation]]


class Variant(BaseModel):
    """A variant's fields are its suite options, checked strictly: an int must be an int, no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

    name: ClassVar[str]

    def requests(self, item: Item, history: History) -> list[GenerationRequest] | None:
        raise NotImplementedError

    def reduce(self, item: Item, history: History) -> Prediction:
        raise NotImplementedError

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> Self:
        """The variant with these suite options, or ``ConfigError`` naming the option and the fix."""
        options = {} if options is None else options
        if not isinstance(options, Mapping):
            raise ConfigError(
                f"options of variant {cls.name!r} must be a mapping of names to values, not {type(options).__name__}."
            )
        fields = list(cls.model_fields)
        for key in options:
            if key not in fields:
                raise ConfigError(
                    f"variant {cls.name!r} has no option {key!r}{did_you_mean(str(key), fields)}; "
                    f"options: {', '.join(fields) or 'none'}."
                )
        try:
            return cls.model_validate(dict(options))
        except ValidationError as err:
            first = err.errors()[0]
            option = ".".join(str(part) for part in first["loc"])
            raise ConfigError(
                f"variant {cls.name!r}: option {option!r}: {first['msg'][0].lower()}{first['msg'][1:]} "
                f"(got {first['input']!r})."
            ) from None

    @classmethod
    def validate_options(cls, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """The options with defaults filled in, or ``ConfigError`` (what the suite loader calls)."""
        return cls.from_options(options).model_dump()


variants: Registry[type[Variant]] = Registry("variant", "promptarena.variants")


def make_variant(name: str, options: Mapping[str, Any] | None = None) -> Variant:
    """The registered variant ``name`` with its suite options; ``ConfigError`` for an unknown name or option."""
    return variants.get(name).from_options(options)


def _single(item: Item, text_of: Generation, answer: str, reasoning: str | None = None) -> Prediction:
    return Prediction(output=text_of.text, answer=answer, generations=(text_of,), reasoning=reasoning)


@variants.decorator("plain")
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
class ChainOfThought(Variant):
    """Appends a step-by-step instruction and a final-answer line; the answer is read from that line.

    A prompt with a ``response_format`` reasons in free text first (a schema has no room for it); a second request
    then continues that conversation with ``format_instruction`` under the prompt's own parameters, so the output
    that is scored is in the format, and the first one is the prediction's reasoning.
    """

    name: ClassVar[str] = "cot"
    instruction: str = "Think step by step. Then write the final answer alone on the last line, after '{prefix}'."
    answer_prefix: str = Field("Answer:", min_length=1)
    max_new_tokens: int = Field(160, ge=1)
    format_instruction: str = Field(
        "Now write that final answer in the format this conversation asks for, and nothing else.", min_length=1
    )

    def messages(self, item: Item) -> tuple[Message, ...]:
        msgs = list(item.messages)
        last = max(i for i, m in enumerate(msgs) if m.role == "user")
        note = self.instruction.replace("{prefix}", self.answer_prefix)
        msgs[last] = Message("user", f"{msgs[last].content}\n\n{note}")
        return tuple(msgs)

    def params(self, item: Item) -> GenParams:
        """The reasoning's parameters: room to think, in free text."""
        return dataclasses.replace(
            item.params, max_new_tokens=max(self.max_new_tokens, item.params.max_new_tokens), response_format=None
        )

    def formats(self, item: Item) -> bool:
        """Whether the answer is asked for again, in the prompt's response format, after the reasoning."""
        return item.params.response_format is not None

    def format_request(self, item: Item, reasoning: Generation) -> GenerationRequest:
        """The reasoning's conversation continued: the final answer, under the prompt's own parameters."""
        said = (Message("assistant", reasoning.text), Message("user", self.format_instruction))
        return GenerationRequest((*self.messages(item), *said), item.params, item.seed, 0)

    def split(self, item: Item, text: str) -> tuple[str, str]:
        """(answer, reasoning): the rest of the line after the last answer prefix, else the whole output.

        The prefix is matched in any case; one inside a parenthesis ("(a wrong answer: 4)") is passed over
        while one outside any parenthesis exists.
        """
        found = list(re.finditer(re.escape(self.answer_prefix), text, flags=re.IGNORECASE))
        if not found:
            return extract_answer(text, item.answer), text.strip()
        depths = paren_depths(text, [m.start() for m in found])
        outside = [m for m, depth in zip(found, depths, strict=True) if depth == 0]
        m = (outside or found)[-1]
        tail = text[m.end() :].strip()
        tail = tail.splitlines()[0] if tail else ""
        return extract_answer(tail, item.answer), text[: m.start()].strip()

    def requests(self, item: Item, history: History) -> list[GenerationRequest] | None:
        if not history:
            return [GenerationRequest(self.messages(item), self.params(item), item.seed, 0)]
        if len(history) == 1 and self.formats(item):
            return [self.format_request(item, history[0][0])]
        return None

    def reduce(self, item: Item, history: History) -> Prediction:
        gen = history[0][0]
        if self.formats(item):
            final = history[1][0]
            answer = extract_answer(final.text, item.answer)
            return Prediction(final.text, answer, generations=(gen, final), reasoning=gen.text.strip())
        answer, reasoning = self.split(item, gen.text)
        return _single(item, gen, answer, reasoning)


def majority(answers: Sequence[str]) -> tuple[int, int]:
    """Index of the winning sample and its vote count; ties go to the answer sampled first.

    Answers vote together when ``normalize_answer`` makes them equal, the test exact_match scores with.
    Empty answers (nothing extracted) never win while any sample has an answer.
    """
    keys = [normalize_answer(a) for a in answers]
    counts = Counter(k for k in keys if k)
    if not counts:
        return 0, 0
    top = max(counts.values())
    winner = next(i for i, k in enumerate(keys) if k and counts[k] == top)
    return winner, top


class _Sampled(Variant):
    samples: int = Field(5, ge=1)
    temperature: float = Field(0.7, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    base: Literal["plain", "cot"] = "plain"

    def _cot(self) -> ChainOfThought | None:
        return ChainOfThought() if self.base == "cot" else None

    def sample_rounds(self, item: Item) -> int:
        """Rounds the samples take: one, or two with ``base: cot`` on a prompt with a response format (each sample's
        reasoning, then its answer in the format: see ``ChainOfThought``)."""
        cot = self._cot()
        return 2 if cot and cot.formats(item) else 1

    def sample_requests(self, item: Item, history: History) -> list[GenerationRequest] | None:
        """The samples' next round, or ``None`` once they are done."""
        cot = self._cot()
        if history:
            if cot and len(history) < self.sample_rounds(item):
                return [cot.format_request(item, g) for g in history[0]]
            return None
        messages = cot.messages(item) if cot else item.messages
        params = cot.params(item) if cot else item.params
        params = dataclasses.replace(params, temperature=self.temperature, top_p=self.top_p)
        return [GenerationRequest(messages, params, item.seed, i) for i in range(self.samples)]

    def answers(self, item: Item, history: History) -> tuple[list[Generation], list[tuple[str, str | None]]]:
        """Each sample's final generation, and its (answer, reasoning)."""
        cot = self._cot()
        if self.sample_rounds(item) == 2:
            thoughts, finals = history[0], list(history[1])
            answers = [extract_answer(f.text, item.answer) for f in finals]
            return finals, [(a, t.text.strip()) for a, t in zip(answers, thoughts, strict=True)]
        gens = list(history[0])
        if cot:
            return gens, [cot.split(item, g.text) for g in gens]
        return gens, [(extract_answer(g.text, item.answer), None) for g in gens]

    def vote(self, item: Item, history: History) -> Prediction:
        gens, parsed = self.answers(item, history)
        answers = [a for a, _ in parsed]
        win, top = majority(answers)
        maj_at_k = [answers[majority(answers[:k])[0]] for k in range(1, len(answers) + 1)]
        votes = Counter(key for a in answers if (key := normalize_answer(a)))
        return Prediction(
            output=gens[win].text,
            answer=answers[win],
            generations=tuple(g for r in history[: self.sample_rounds(item)] for g in r),
            confidence=top / len(answers),
            reasoning=parsed[win][1],
            details={"samples": answers, "votes": dict(votes.most_common()), "maj_at_k": maj_at_k},
        )


@variants.decorator("self_consistency")
class SelfConsistency(_Sampled):
    """N samples at temperature T, answers extracted, majority vote; agreement is the confidence."""

    name: ClassVar[str] = "self_consistency"

    def requests(self, item: Item, history: History) -> list[GenerationRequest] | None:
        return self.sample_requests(item, history)

    def reduce(self, item: Item, history: History) -> Prediction:
        return self.vote(item, history)


JUDGE_PROMPT = (
    "Question:\n{question}\n\nCandidate answers:\n{candidates}\n\n"
    "Which candidate answers the question best? Reply with its number on the first line, "
    "then one sentence saying why."
)


@variants.decorator("judge")
class Judge(_Sampled):
    """The model's own vote: N candidates, shown in shuffled order, and the model picks the best.

    The prediction is the picked candidate. Its confidence is the share of the N samples whose answer
    is the same as the pick's (``normalize_answer``), so calibration describes the answer that is scored;
    ``maj_at_k`` is left out, since the majority is not what the judge answers. When the judge names no
    candidate the majority vote stands, with its own agreement and ``maj_at_k``.
    """

    name: ClassVar[str] = "judge"
    judge_max_new_tokens: int = Field(48, ge=1)

    def order(self, item: Item) -> list[int]:
        order = list(range(self.samples))
        random.Random(content_hash([item.seed, item.case.id])).shuffle(order)
        return order

    def requests(self, item: Item, history: History) -> list[GenerationRequest] | None:
        rounds = self.sample_rounds(item)
        if len(history) < rounds:
            return self.sample_requests(item, history)
        if len(history) > rounds:
            return None
        candidates, _ = self.answers(item, history)
        question = next(m.content for m in reversed(item.messages) if m.role == "user")
        shown = "\n".join(
            f"{pos + 1}. {candidates[idx].text.strip()[:500]}" for pos, idx in enumerate(self.order(item))
        )
        messages = (
            Message("system", "You are a careful, impartial judge."),
            Message("user", JUDGE_PROMPT.format(question=question, candidates=shown)),
        )
        params = GenParams(max_new_tokens=self.judge_max_new_tokens, temperature=0.0)
        return [GenerationRequest(messages, params, item.seed, 0)]

    def reduce(self, item: Item, history: History) -> Prediction:
        rounds = self.sample_rounds(item)
        (candidates, parsed), verdict = self.answers(item, history), history[rounds][0]
        voted = self.vote(item, history)
        order = self.order(item)
        m = re.search(r"\d+", verdict.text)
        pos = int(m.group(0)) - 1 if m else -1
        details = {**voted.details, "order": order, "judge_output": verdict.text.strip()}
        gens = (*voted.generations, verdict)
        if not 0 <= pos < len(order):
            details["judge_fallback"] = "the judge named no candidate; the majority vote stands"
            return dataclasses.replace(voted, generations=gens, details=details)
        pick = order[pos]
        answer, reasoning = parsed[pick]
        samples = [normalize_answer(a) for a in voted.details["samples"]]
        key = normalize_answer(answer)
        details = {k: v for k, v in details.items() if k != "maj_at_k"} | {"pick": pick}
        return Prediction(
            output=candidates[pick].text,
            answer=answer,
            generations=gens,
            confidence=samples.count(key) / len(samples) if key else 0.0,
            reasoning=reasoning,
            details=details,
        )
