"""Answer extraction: from a model's output to the final answer that metrics score and votes count.

Extraction never fails a run: an output from which nothing can be read gives the empty answer, which
scores as wrong and never wins a vote. ``normalize_answer`` decides what "the same answer" is, for the
self-consistency vote and for ``exact_match`` / ``contains`` alike.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, InvalidOperation
from typing import Any

from promptarena.registry import Registry

__all__ = [
    "AnswerSpec",
    "canonical_number",
    "extract_answer",
    "extractors",
    "normalize_answer",
    "paren_depths",
]


@dataclass(frozen=True)
class AnswerSpec:
    """How the final answer is read from an output: ``extract`` names a registered extractor, with its option."""

    extract: str = "text"
    pattern: str | None = None
    field: str | None = None
    choices: tuple[str, ...] = ()


Extractor = Callable[[str, AnswerSpec], str]
extractors: Registry[Extractor] = Registry("answer extractor", "promptarena.extractors")

_MINUS = str.maketrans({"\u2212": "-", "\ufe63": "-", "\uff0d": "-"})
# A number: thousands groups of three (1,000) or plain digits, an optional fraction (.5) and exponent (1e3).
# A minus is a sign only where no word or digit stands right before it ("10-12" is two numbers).
_BODY = r"(?=\.?\d)(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)?(?:\.\d+)?(?:[eE][+-]?\d{1,3}(?!\d))?"
_NUMBER_IN_TEXT = re.compile(rf"(?<!\d)(?<!\d\.)(?:(?<![\w.])-)?{_BODY}")
_NUMBER_TOKEN = re.compile(rf"(?<![\w.])-?{_BODY}(?!\w|\.\d)")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PLAIN_DIGITS_MAX = 50  # beyond 10**50 a canonical number is written with an exponent


def canonical_number(token: str) -> str:
    """One spelling per value: ``1,000``, ``1000.0`` and ``1e3`` are ``1000``; ``.5`` is ``0.5``; ``-0`` is ``0``."""
    try:
        value = Decimal(token.translate(_MINUS).replace(",", ""))
    except InvalidOperation:
        return token
    if not value.is_finite():
        return token
    if value.is_zero():
        return "0"
    exact = Context(prec=len(value.as_tuple().digits), Emax=MAX_EMAX, Emin=MIN_EMIN)
    value = value.normalize(exact)
    return format(value, "f") if abs(value.adjusted()) <= _PLAIN_DIGITS_MAX else format(value, "e")


def _is_punct(ch: str) -> bool:
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


def _squad_words(text: str) -> str:
    """SQuAD's word normalization on lower-cased text that holds no standalone number.

    Punctuation is dropped, except a point between digits (``v1.5`` stays), and punctuation between two
    digits becomes a space, so that ``1.2.3`` or ``x1_2`` never reads as a different number.
    """
    out = []
    for i, ch in enumerate(text):
        if not _is_punct(ch):
            out.append(ch)
            continue
        between_digits = 0 < i < len(text) - 1 and text[i - 1].isdecimal() and text[i + 1].isdecimal()
        if between_digits:
            out.append("." if ch == "." else " ")
    return _ARTICLES.sub(" ", "".join(out))


def normalize_answer(text: str) -> str:
    """The form in which two answers are compared: equal forms are the same answer, for votes and metrics.

    Words are normalized as SQuAD does (lower case, no punctuation, no articles a/an/the, single spaces),
    where punctuation is every Unicode punctuation character. Numbers keep their value: a leading minus
    (also U+2212) and a decimal point stay, ``1,000`` is ``1000``, and ``3.50``, ``1e3`` and ``.5`` are
    written as ``3.5``, ``1000`` and ``0.5`` (see ``canonical_number``). Text that normalizes to nothing
    (``"!!!"``) is compared as its lower-cased, whitespace-collapsed self, so ``"!!!"`` is not ``"???"``.
    """
    lowered = text.translate(_MINUS).lower()
    parts, pos = [], 0
    for m in _NUMBER_TOKEN.finditer(lowered):
        parts += [_squad_words(lowered[pos : m.start()]), canonical_number(m.group())]
        pos = m.end()
    parts.append(_squad_words(lowered[pos:]))
    return " ".join(" ".join(parts).split()) or " ".join(lowered.split())


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


@extractors.decorator("text")
def _text(text: str, spec: AnswerSpec) -> str:
    return text.strip()


@extractors.decorator("first_line")
def _first_line(text: str, spec: AnswerSpec) -> str:
    lines = _lines(text)
    return lines[0] if lines else ""


@extractors.decorator("last_line")
def _last_line(text: str, spec: AnswerSpec) -> str:
    lines = _lines(text)
    return lines[-1] if lines else ""


def paren_depths(text: str, positions: Sequence[int]) -> list[int]:
    """How many parentheses are open at each of the ascending ``positions`` of ``text`` (a stray closing one
    does not go below zero): what tells an aside in parentheses from the sentence around it."""
    depths, depth, pos = [], 0, 0
    for at in positions:
        for ch in text[pos:at]:
            depth = depth + 1 if ch == "(" else max(depth - 1, 0) if ch == ")" else depth
        depths.append(depth)
        pos = max(pos, at)
    return depths


@extractors.decorator("last_number")
def _last_number(text: str, spec: AnswerSpec) -> str:
    """The last number in the output, in ``canonical_number`` form (``1,250.50`` -> ``1250.5``, ``1e3`` -> ``1000``).

    ``1,2,3`` is three numbers (the last is 3), ``10-12`` is 10 and 12, and ``5kg`` is 5. A number in
    parentheses is an aside: ``24 (4 boxes of 6)`` is 24; it counts only where no number stands outside them.
    """
    text = text.translate(_MINUS)
    found = list(_NUMBER_IN_TEXT.finditer(text))
    depths = paren_depths(text, [m.start() for m in found])
    outside = [m for m, depth in zip(found, depths, strict=True) if depth == 0]
    return canonical_number((outside or found)[-1].group()) if found else ""


# A letter that is also an English word ("a trick", "I think") is prose, not a choice, when a lower-case
# word follows it, unless that word says something about the letter ("A is right"); the article "a" is
# prose before any word ("a B", "a Banana").
_WORD_LETTERS = frozenset("aAI")
_ABOUT_LETTER = re.compile(r"\s+(?:is|was|seems|looks|fits|because|and|or)\b")
_PROSE_AFTER = re.compile(r"\s+[a-z]")
_ARTICLE_AFTER = re.compile(r"\s+\w")
_EXPLICIT_ANSWER = r"\banswer\s*(?:is\b|:)\s*[(\[*\"']*\s*"


def _stands_as_choice(text: str, start: int, end: int) -> bool:
    """False where a one-letter match is an English word in a sentence (the article "a"), else True."""
    if end - start != 1 or text[start] not in _WORD_LETTERS:
        return True
    after = text[end:]
    prose = _ARTICLE_AFTER if text[start] == "a" else _PROSE_AFTER
    return not prose.match(after) or bool(_ABOUT_LETTER.match(after))


def _choice_matches(text: str, choices: list[str], before: str = "", after: str = "") -> list[tuple[int, str]]:
    """(position, choice) for each place where a choice stands as a whole word between ``before`` and ``after``."""
    longest_first = sorted(range(len(choices)), key=lambda i: -len(choices[i]))
    alternatives = "|".join(f"(?P<c{i}>{re.escape(choices[i])})" for i in longest_first)
    pattern = re.compile(rf"{before}(?<![\w'])(?:{alternatives})(?![\w']){after}", flags=re.IGNORECASE)
    found = []
    for m in pattern.finditer(text):
        group = m.lastgroup or ""
        if _stands_as_choice(text, m.start(group), m.end(group)):
            found.append((m.start(group), choices[int(group[1:])]))
    return found


@extractors.decorator("choice")
def _choice(text: str, spec: AnswerSpec) -> str:
    """The allowed choice the output settles on (whole word, any case).

    An explicit "answer is X" / "answer: X" wins (the last one); then a bracketed "(X)"; then the choice
    that appears first. A one-letter choice that reads as an English word ("a trick") is not a choice.
    """
    choices = [c for c in spec.choices or () if c]
    if not choices:
        return ""
    explicit = _choice_matches(text, choices, before=_EXPLICIT_ANSWER)
    if explicit:
        return explicit[-1][1]
    for found in (_choice_matches(text, choices, before=r"\(\s*", after=r"\s*\)"), _choice_matches(text, choices)):
        if found:
            return found[0][1]
    return ""


@extractors.decorator("regex")
def _regex(text: str, spec: AnswerSpec) -> str:
    """Group 1 of the first match (the whole match without groups); "" when group 1 took no part in it."""
    m = re.search(spec.pattern or "", text, flags=re.MULTILINE)
    if not m:
        return ""
    found = m.group(1) if m.groups() else m.group(0)
    return (found or "").strip()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_text(value: Any) -> str:
    """A string as itself, anything else as the JSON text the model wrote for it (``true``, ``{"v": 1}``)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


_JSON_TRIES = 100  # objects tried at most, so an output full of braces costs little


@extractors.decorator("json_field")
def _json_field(text: str, spec: AnswerSpec) -> str:
    """The field of the first JSON object in the output that has it (inside a ```json fence or not), as JSON
    text; "" if none has. Text after an object (a second object, a stray ``}``) does not spoil it."""
    body = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", body, flags=re.DOTALL)
    if fence:
        body = fence.group(1)
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    field, start = spec.field or "", body.find("{")
    for _ in range(_JSON_TRIES):
        if start < 0:
            break
        try:
            obj, end = decoder.raw_decode(body, start)
        except (ValueError, RecursionError):
            end = start + 1
        else:
            if isinstance(obj, dict) and field in obj:
                return _json_text(obj[field])
        start = body.find("{", end)
    return ""


def extract_answer(text: str, spec: AnswerSpec) -> str:
    """The final answer in ``text`` as ``spec`` says to read it; "" when there is none."""
    return extractors.get(spec.extract)(text, spec)
