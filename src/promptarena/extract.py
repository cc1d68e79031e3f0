"""Answer extraction: from a model's output to the final answer that metrics score and votes count."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Protocol

from promptarena.registry import Registry


class AnswerSpec(Protocol):
    extract: str
    pattern: str | None
    field: str | None
    choices: tuple[str, ...] | list[str] | None


Extractor = Callable[[str, AnswerSpec], str]
extractors: Registry[Extractor] = Registry("answer extractor")

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


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


@extractors.decorator("last_number")
def _last_number(text: str, spec: AnswerSpec) -> str:
    found = _NUMBER.findall(text)
    if not found:
        return ""
    number = found[-1].replace(",", "")
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return number


@extractors.decorator("choice")
def _choice(text: str, spec: AnswerSpec) -> str:
    """The allowed choice that appears first in the output (whole word, any case)."""
    best: tuple[int, str] | None = None
    for choice in spec.choices or ():
        m = re.search(rf"(?<!\w){re.escape(choice)}(?!\w)", text, flags=re.IGNORECASE)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), choice)
    return best[1] if best else ""


@extractors.decorator("regex")
def _regex(text: str, spec: AnswerSpec) -> str:
    m = re.search(spec.pattern or "", text, flags=re.MULTILINE)
    if not m:
        return ""
    return (m.group(1) if m.groups() else m.group(0)).strip()


@extractors.decorator("json_field")
def _json_field(text: str, spec: AnswerSpec) -> str:
    body = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", body, flags=re.DOTALL)
    if fence:
        body = fence.group(1)
    start, end = body.find("{"), body.rfind("}")
    try:
        obj: Any = json.loads(body[start : end + 1]) if start >= 0 else None
    except json.JSONDecodeError:
        return ""
    value = obj.get(spec.field or "") if isinstance(obj, dict) else None
    return "" if value is None else str(value)


def extract_answer(text: str, spec: AnswerSpec) -> str:
    return extractors.get(spec.extract)(text, spec)


def vote_key(answer: str) -> str:
    """Answers that differ only in case, spacing or final punctuation count as the same vote."""
    return re.sub(r"\s+", " ", answer.strip().strip(".!").lower())
