"""Cases that converse: a case's prior `messages:` follow the template's own, and its `turns:` are answered one
after another, each answer in the context of the next turn.

The conversation opens with the template's messages and the case's `messages:`; the model answers that opening
(the template's last user turn), then each of `turns:` in order. Each answer is one cached request like any other,
whose messages hold the model's own earlier answers. The suite's variant (cot, self-consistency, judge) plays the
scored turn: the last, or every one with ``score_turns: every``; the other turns are answered plainly, with the
prompt's own parameters. A conversation is played as the rounds of one task, replayed from its history, so the
engine needs nothing of its own for it (see ``rounds``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.meta

from promptarena.errors import ConfigError
from promptarena.types import Case, Generation, GenerationRequest, Message, Prediction
from promptarena.variants import History, Item, Plain, Variant

if TYPE_CHECKING:
    from promptarena.promptfile import PromptFile

__all__ = ["Conversation", "conversed", "item_for", "longest_requests", "opening", "rendered_turns", "variables_of"]


def opening(prompt: PromptFile, case: Case, vars: Mapping[str, Any] | None = None) -> tuple[Message, ...]:
    """The template's messages for the case's variables (``vars``: perturbed ones), then the case's `messages:`,
    each rendered with the same variables."""
    values = case.vars if vars is None else vars
    rendered = prompt.render(values, case.id, case.meta.get("where", ""))
    own = tuple(
        Message(m.role, _render(m.content, values, prompt, case, f"messages[{i}]")) for i, m in enumerate(case.messages)
    )
    return rendered + own


def rendered_turns(prompt: PromptFile, case: Case, vars: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The case's `turns:`, each rendered with its variables."""
    values = case.vars if vars is None else vars
    return tuple(_render(text, values, prompt, case, f"turns[{i}]") for i, text in enumerate(case.turns))


def item_for(prompt: PromptFile, case: Case, item: Item, every_turn: bool) -> Item:
    """``item`` with the case's turns; a case with turns whose opening ends with an assistant turn is refused (there
    would be no user turn for the model to answer first)."""
    if not case.turns:
        return item
    if item.messages[-1].role == "assistant":
        where = case.meta.get("where", "")
        if case.messages:
            whose = "its `messages:` end"
        else:
            whose = f"prompt {prompt.name!r} ends ({prompt.source}:{prompt.last_section_line})"
        raise ConfigError(
            f"{where}: case {case.id!r} brings `turns:`, but {whose} with an assistant turn, so the model has no user "
            "turn to answer first; end it with a user turn, or give the case `messages:` without `turns:`."
        )
    return dataclasses.replace(item, turns=rendered_turns(prompt, case), every_turn=every_turn)


def _render(text: str, values: Mapping[str, Any], prompt: PromptFile, case: Case, field: str) -> str:
    """One message of a case rendered like a template section; a missing variable names the prompt, the variable
    and the case."""
    where = case.meta.get("where", "")
    try:
        template, names = _compiled(text)
    except jinja2.TemplateSyntaxError as err:
        raise ConfigError(f"{where}: case {case.id!r}: {field}: template syntax error: {err.message}.") from None
    for name in sorted(names):
        if name not in values:
            raise ConfigError(
                f"{where}: prompt {prompt.name!r} needs variable {name!r} in {field}, missing in case {case.id!r}: "
                f"add `{name}:` under that case's vars"
            )
    try:
        return template.render(dict(values)).strip()
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as err:
        raise ConfigError(f"{where}: case {case.id!r}: {field}: rendering failed: {err}.") from None


def variables_of(case: Case) -> set[str]:
    """The variables that the case's own messages and turns use (a message that does not parse uses none here: its
    error comes when it is rendered)."""
    used: set[str] = set()
    for text in [m.content for m in case.messages] + list(case.turns):
        try:
            used |= _compiled(text)[1]
        except jinja2.TemplateSyntaxError:
            continue
    return used


@functools.lru_cache(maxsize=4096)
def _compiled(text: str) -> tuple[jinja2.Template, frozenset[str]]:
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    ast = env.parse(text)
    return env.from_string(ast), frozenset(jinja2.meta.find_undeclared_variables(ast) - set(env.globals))


# --- playing a conversation as rounds ---------------------------------------------------------------------

_PLAIN = Plain()


@dataclass(frozen=True)
class Conversation:
    """A variant played over a conversation: one stage per answer, the variant on the scored ones, plain on the
    others. Stateless: each call replays the stages from the task's history."""

    inner: Variant

    @property
    def name(self) -> str:
        return self.inner.name

    def requests(self, item: Item, history: History) -> list[GenerationRequest] | None:
        return self._replay(item, history)[1]

    def reduce(self, item: Item, history: History) -> Prediction:
        answers = self._replay(item, history)[0]
        last = answers[-1]
        conversation: list[dict[str, Any]] = [{"role": m.role, "content": m.content} for m in item.messages]
        for k, answer in enumerate(answers):
            if k:
                conversation.append({"role": "user", "content": item.turns[k - 1]})
            said: dict[str, Any] = {"role": "assistant", "content": answer.output, "turn": k}
            if self._scored(item, k):
                said["answer"] = answer.answer
            conversation.append(said)
        generations = tuple(g for r in history for g in r)
        return dataclasses.replace(
            last,
            generations=generations,
            details={**last.details, "conversation": conversation},
            turns=tuple(answers) if item.every_turn and item.turns else (),
        )

    def longest(self, item: Item) -> list[GenerationRequest]:
        """The last turn's requests with every earlier answer as long as it may be (its ``max_new_tokens`` more to
        generate): what the context must hold, checked before any model call."""
        last = len(item.turns)
        empty = [""] * last
        stages = [self._variant(item, k).requests(self._stage_item(item, k, empty), []) or [] for k in range(last + 1)]
        extra = sum(max(r.params.max_new_tokens for r in reqs) for reqs in stages[:-1] if reqs)
        return [
            dataclasses.replace(r, params=dataclasses.replace(r.params, max_new_tokens=r.params.max_new_tokens + extra))
            for r in stages[-1]
        ]

    def _scored(self, item: Item, stage: int) -> bool:
        return item.every_turn or stage == len(item.turns)

    def _variant(self, item: Item, stage: int) -> Variant:
        return self.inner if self._scored(item, stage) else _PLAIN

    def _stage_item(self, item: Item, stage: int, outputs: Sequence[str]) -> Item:
        """The item of one answer: the opening, then each earlier answer and the user's next turn."""
        messages = list(item.messages)
        for k in range(stage):
            messages += [Message("assistant", outputs[k]), Message("user", item.turns[k])]
        return dataclasses.replace(item, messages=tuple(messages), turns=())

    def _replay(self, item: Item, history: History) -> tuple[list[Prediction], list[GenerationRequest] | None]:
        """The answers of the stages the history completes, and the next round's requests (``None``: all done)."""
        answers: list[Prediction] = []
        position = 0
        for stage in range(len(item.turns) + 1):
            variant = self._variant(item, stage)
            stage_item = self._stage_item(item, stage, [a.output for a in answers])
            played: list[Sequence[Generation]] = []
            while (reqs := variant.requests(stage_item, played)) is not None:
                if position == len(history):
                    return answers, reqs
                played.append(history[position])
                position += 1
            answers.append(variant.reduce(stage_item, played))
        return answers, None


def conversed(variant: Variant, item: Item) -> Variant:
    """The variant that plays ``item``: a conversation around the suite's variant for a case that brings messages
    or turns, else the variant itself."""
    if not (item.turns or item.case.messages):
        return variant
    return Conversation(variant)  # type: ignore[return-value]  # plays as a variant: requests and reduce


def longest_requests(variant: Variant, item: Item) -> list[GenerationRequest]:
    """The requests of a conversation's longest turn (none for a case without turns)."""
    if isinstance(variant, Conversation) and item.turns:
        return variant.longest(item)
    return []
