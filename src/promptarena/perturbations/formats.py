"""Prompt formats (FormatSpread, Sclar et al. 2023): meaning-preserving rewrites of a prompt's messages.

A format changes how a rendered prompt is laid out, not what it says: the separator after field labels
(``Question:``), the line spacing, the casing of the labels, the order of few-shot examples given as
user/assistant pairs. ``format_variants`` draws combinations of them; the spread of an arm's score across
them (``promptarena.holistic.spread``) says how much a score owes to layout alone.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from promptarena.perturbations import stable_rng
from promptarena.registry import Registry
from promptarena.types import Message

__all__ = ["Format", "format_variants", "formats"]

Messages = tuple[Message, ...]


@dataclass(frozen=True)
class Format:
    """One registered layout change: ``fn`` picks one of its choices with ``rng`` and applies it to all messages."""

    name: str
    fn: Callable[[Messages, random.Random], Messages]
    description: str
    version: int = 1


# A field label at the start of a line: a word or two, a colon, then a space or the end of the line.
_LABEL = re.compile(r"^([A-Za-z][A-Za-z ]{0,24}?)[ \t]*:(?=\s|$)[ \t]*", re.MULTILINE)
_SEPARATORS = (": ", " : ", ":  ", " - ", ":\n")
_CASINGS: tuple[Callable[[str], str], ...] = (str, str.title, str.upper, str.lower)


def _map_content(messages: Messages, fn: Callable[[str], str]) -> Messages:
    return tuple(replace(m, content=fn(m.content)) for m in messages)


def _separator(messages: Messages, rng: random.Random) -> Messages:
    sep = rng.choice(_SEPARATORS)

    def relabel(m: re.Match[str]) -> str:
        at_line_end = m.end() == len(m.string) or m.string[m.end()] == "\n"
        return m.group(1) + (sep.rstrip(" ") if at_line_end else sep)

    return _map_content(messages, lambda text: _LABEL.sub(relabel, text))


def _label_case(messages: Messages, rng: random.Random) -> Messages:
    case = rng.choice(_CASINGS)

    def recase(m: re.Match[str]) -> str:
        return case(m.group(1)) + m.group(0)[len(m.group(1)) :]

    return _map_content(messages, lambda text: _LABEL.sub(recase, text))


def _spacing(messages: Messages, rng: random.Random) -> Messages:
    line, paragraph = rng.choice(("\n", "\n\n")), rng.choice(("\n\n", "\n\n\n"))

    def respace(m: re.Match[str]) -> str:
        return line if m.group(0).count("\n") == 1 else paragraph

    return _map_content(messages, lambda text: re.sub(r"[ \t]*\n(?:[ \t]*\n)*", respace, text))


def _shot_order(messages: Messages, rng: random.Random) -> Messages:
    """Shuffle the user/assistant example pairs between the system message and the final user message."""
    start = 1 if messages and messages[0].role == "system" else 0
    shots = messages[start:-1]
    pairs = [shots[i : i + 2] for i in range(0, len(shots), 2)]
    if len(pairs) < 2 or any(tuple(m.role for m in p) != ("user", "assistant") for p in pairs):
        return messages
    order = rng.sample(pairs, len(pairs))
    return messages[:start] + tuple(m for pair in order for m in pair) + messages[-1:]


formats: Registry[Format] = Registry("format", "promptarena.formats")
for _format in (
    Format("separator", _separator, "The separator after field labels: ': ', ' : ', ' - ', a line break."),
    Format("label_case", _label_case, "The casing of field labels: as written, Title, UPPER or lower."),
    Format("spacing", _spacing, "Line and paragraph breaks: single or doubled."),
    Format("shot_order", _shot_order, "The order of few-shot examples given as user/assistant pairs."),
):
    formats.register(_format.name, _format)
del _format


def format_variants(
    messages: Sequence[Message], n: int, seed: int = 0, names: Sequence[str] | None = None
) -> list[Messages]:
    """Up to ``n`` distinct layouts of ``messages``, the original first; each applies every format in ``names``
    (default: all), in alphabetical order so that label casing runs before the separator replaces the colon.

    Deterministic per (messages, seed). Fewer than ``n`` come back when the prompt has fewer distinct
    layouts (no labels, no few-shot pairs), since a repeated layout would only repeat a cached score.
    """
    chosen = [formats.get(name) for name in sorted(names or formats.names())]
    original = tuple(messages)
    variants = [original]
    for i in range(1, 20 * n):
        if len(variants) >= n:
            break
        rng = stable_rng("format", seed, i)
        candidate = original
        for fmt in chosen:
            candidate = fmt.fn(candidate, rng)
        if candidate not in variants:
            variants.append(candidate)
    return variants
