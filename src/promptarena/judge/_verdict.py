"""Verdicts of a grader: the declared scales, reading a verdict and its reason from the grader's text, and
weighing it by the top log-probabilities at its token (G-Eval)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from promptarena.types import TokenLogprobs

__all__ = ["PASS_FAIL", "Scale", "Verdict", "read_verdict", "scale_of", "weigh"]


@dataclass(frozen=True)
class Scale:
    """A declared scale: its verdict labels (lower case) and the score in 0..1 that each stands for."""

    name: str
    labels: tuple[str, ...]
    values: tuple[float, ...]

    def value(self, label: str) -> float:
        return self.values[self.labels.index(label)]

    def label(self, word: str) -> str | None:
        """The label a word of a verdict names (``PASS``, ``passed``, ``P`` for pass; ``4`` for 4), else None."""
        word = word.strip().strip("*_`'\"()[]").rstrip(".,;:!").lower()
        if not word:
            return None
        if word.isdigit():
            return word if word in self.labels else None
        found = [label for label in self.labels if label.startswith(word) or word.startswith(label)]
        return found[0] if len(found) == 1 and word.isalpha() else None


PASS_FAIL = Scale("pass_fail", ("pass", "fail"), (1.0, 0.0))


def scale_of(name: str) -> Scale:
    """``pass_fail``, or ``1-N`` (N from 2 to 9), whose whole numbers map onto 0..1 as (k - 1) / (N - 1)."""
    if name == PASS_FAIL.name:
        return PASS_FAIL
    found = re.fullmatch(r"1-([2-9])", name.strip())
    if not found:
        raise ValueError(f"unknown scale {name!r}; use pass_fail, or 1-N for a whole number from 1 to N (N up to 9)")
    top = int(found.group(1))
    steps = range(1, top + 1)
    return Scale(f"1-{top}", tuple(str(k) for k in steps), tuple((k - 1) / (top - 1) for k in steps))


@dataclass(frozen=True)
class Verdict:
    """A verdict read from a grader's text: its label, where the label starts, and the grader's reason."""

    label: str
    offset: int
    reason: str | None


_LABELLED = re.compile(
    r"^[\s*#>_-]*(?:final\s+)?(?:verdict|scores?|grades?|rating)[\s*_]*[:=-]?[\s*_\"'`(]*([A-Za-z]+|\d+)(?![.,]\d)",
    re.IGNORECASE | re.MULTILINE,
)
_FIRST_WORD = re.compile(r"^[\s*#>_\"'`(]*([A-Za-z]+|\d+)(?![\w.,]\d|\w)")
_REASON = re.compile(
    r"^[\s*#>_-]*(?:reason|reasoning|explanation|rationale)[\s*_]*[:=-]?\s*(.*)",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)


def read_verdict(text: str, scale: Scale) -> Verdict | None:
    """The verdict in a grader's text: the first ``VERDICT:`` / ``SCORE:`` / ``GRADE:`` line that names a label
    of the scale (case-insensitive), else a label as the text's first word; ``None`` when there is neither."""
    match = next((m for m in _LABELLED.finditer(text) if scale.label(m.group(1))), None)
    match = match or _FIRST_WORD.match(text)
    label = scale.label(match.group(1)) if match else None
    if match is None or label is None:
        return None
    return Verdict(label, match.start(1), _reason(text, match))


def _reason(text: str, verdict: re.Match[str]) -> str | None:
    """The grader's reason: what follows ``REASON:``, else its words around the verdict."""
    found = _REASON.search(text)
    if found:
        return found.group(1).strip() or None
    line_end = text.find("\n", verdict.end(1))
    line_end = len(text) if line_end < 0 else line_end
    before = text[: text.rfind("\n", 0, verdict.start(1)) + 1]
    parts = [before.strip(), text[verdict.end(1) : line_end].lstrip(" \t.:;,-–—*)").rstrip(), text[line_end:].strip()]
    return "\n".join(p for p in parts if p) or None


def weigh(logprobs: Sequence[TokenLogprobs], text: str, verdict: Verdict, scale: Scale) -> float | None:
    """G-Eval: the probability-weighted mean of the scale's values at the verdict's token, renormalized over the
    scale's labels among that step's top tokens; ``None`` when the tokens do not spell the verdict there."""
    start = 0
    for step in logprobs:
        if start + len(step.token) > verdict.offset:
            break
        start += len(step.token)
    else:
        return None
    lead = text[start : verdict.offset]  # the part of the verdict's token before the label (a space, a colon)
    if not step.token.startswith(lead) or scale.label(step.token[len(lead) :]) != verdict.label:
        return None
    mass: dict[str, float] = {}
    for token, logprob in dict([(step.token, step.logprob), *step.top]).items():
        if lead.strip() and not token.startswith(lead):
            continue
        label = scale.label(token[len(lead) :] if lead.strip() else token)
        if label is not None:
            mass[label] = mass.get(label, 0.0) + math.exp(logprob)
    total = sum(mass.values())
    if total <= 0:
        return None
    return sum(p * scale.value(label) for label, p in mass.items()) / total
