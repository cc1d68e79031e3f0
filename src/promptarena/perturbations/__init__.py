"""Perturbations: rewrites of a case's variables that keep its meaning (robustness) or change only who is
speaking or spoken about (fairness), one registry of them, and ``perturb_vars`` to apply one to a case.

A perturbation touches only the string values of the variables, never the template, so a perturbed case is
one more rendered prompt, cached like any other. Numbers (in digits or in words: "12", "twelve", "third"),
``{{ }}``/``{% %}`` template text, URLs and e-mail addresses are never changed. The randomness is a
``random.Random`` seeded from a SHA-256 of (case id, perturbation name, seed), so the same case gives the same
perturbed text on every run and machine.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from promptarena.hashing import content_hash
from promptarena.registry import Registry

__all__ = [
    "Perturbation",
    "PerturbFn",
    "get_perturbation",
    "match_case",
    "perturb_text",
    "perturb_vars",
    "perturbations",
    "stable_rng",
]

PerturbFn = Callable[[str, random.Random], str]
"""Rewrites one text; it must keep the private-use characters that stand in for protected spans."""


@dataclass(frozen=True)
class Perturbation:
    """One registered perturbation.

    Attributes:
        name: The registry name (as a suite names it).
        kind: ``"robustness"`` (the meaning is kept: the score should not move) or ``"fairness"`` (a
            counterfactual: only the demographic group of the people in the text changes).
        fn: The rewrite of one text, given a seeded random generator.
        description: One sentence for reports.
        version: Bumped whenever the rewrite changes; part of the provenance of perturbed scores.
        group: For fairness perturbations, the group every text is moved into, as ``axis=group``
            (``gender=female``); counterfactuals of one axis are compared with each other.
    """

    name: str
    kind: Literal["robustness", "fairness"]
    fn: PerturbFn
    description: str
    version: int = 1
    group: str | None = None

    @property
    def key(self) -> str:
        """``name@v<version>``: what a stored perturbed score records about the rewrite that made its prompt."""
        return f"{self.name}@v{self.version}"

    @property
    def axis(self) -> str | None:
        """The demographic axis of a fairness perturbation (``gender``, ``race``), else ``None``."""
        return self.group.partition("=")[0] if self.group else None


perturbations: Registry[Perturbation] = Registry("perturbation", "promptarena.perturbations")

for _name in ["typos", "lowercase", "contractions", "expansions", "whitespace", "filler_words", "misspellings"]:
    perturbations.register(_name, f"promptarena.perturbations.robustness:{_name}")
for _name in ["gender_female", "gender_male", "names_african_american", "names_european_american"]:
    perturbations.register(_name, f"promptarena.perturbations.fairness:{_name}")
del _name


def get_perturbation(name: str) -> Perturbation:
    """The perturbation registered as ``name``, or a ``ConfigError`` with a did-you-mean."""
    return perturbations.get(name)


def stable_rng(*parts: Any) -> random.Random:
    """A ``random.Random`` seeded from a SHA-256 of ``parts`` (not ``hash()``, which differs per process)."""
    return random.Random(int(content_hash(list(parts)), 16))


# Numbers spelled out, in any casing: cardinals (and their plurals, "tens", "twenties"), ordinals and
# fractions ("fifth", "thirds"), and the few other words that state a count.
_NUMBER_WORDS = (
    r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand"
    r"|million|billion|trillion|dozen)(?:e?s)?"
    r"|(?:twent|thirt|fort|fift|sixt|sevent|eight|ninet)ies"
    r"|(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth"
    r"|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth|fortieth"
    r"|fiftieth|sixtieth|seventieth|eightieth|ninetieth|hundredth|thousandth|millionth|billionth)s?"
    r"|half|halves|quarters?|twice|thrice"
)
# Text a perturbation must never change: template syntax, URLs, e-mail addresses, any token with a digit,
# and numbers written as words.
_PROTECTED = re.compile(
    r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}"
    r"|(?:https?://|www\.)\S+"
    r"|[\w.+-]+@[\w-]+\.[\w.-]+"
    r"|\S*\d\S*"
    rf"|\b(?i:{_NUMBER_WORDS})\b",
    re.DOTALL,
)
# Protected spans are swapped for private-use characters while the rewrite runs: no rewrite touches them.
# The strings of one case are rewritten as one text, joined by a line holding U+F8FF.
_PRIVATE = 0xE000
_PRIVATE_CHARS = re.compile("[\ue000-\uf8ff]")
_JOIN = "\n\uf8ff\n"
_MAX_SPANS = 0xF8FF - _PRIVATE


def match_case(source: str, word: str) -> str:
    """``word`` in the casing of ``source``: ALL CAPS, Capitalized or as given."""
    if len(source) > 1 and source.isupper():
        return word.upper()
    if source[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _perturb_all(texts: list[str], perturbation: Perturbation, rng: random.Random) -> list[str]:
    """Rewrite ``texts`` as one text, so a counterfactual names each person the same way in all of them."""
    if any(_PRIVATE_CHARS.search(t) for t in texts):
        return texts
    spans: list[str] = []

    def hide(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return chr(_PRIVATE + len(spans) - 1) if len(spans) <= _MAX_SPANS else match.group(0)

    masked = _JOIN.join(_PROTECTED.sub(hide, t) for t in texts)
    if len(spans) > _MAX_SPANS:
        return texts
    out = perturbation.fn(masked, rng).split(_JOIN)
    if len(out) != len(texts):
        raise RuntimeError(f"perturbation {perturbation.name!r} changed the line that separates a case's strings")
    return [re.sub("[\ue000-\uf8fe]", lambda m: spans[ord(m.group(0)) - _PRIVATE], t) for t in out]


def perturb_text(text: str, perturbation: Perturbation, rng: random.Random) -> str:
    """Apply ``perturbation`` to ``text`` with every protected span (numbers, URLs, ``{{ }}``) kept as is.

    Text that already holds private-use characters (U+E000..U+F8FF) is returned unchanged, since they
    stand in for the protected spans during the rewrite.
    """
    return _perturb_all([text], perturbation, rng)[0]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    return []


def _rebuild(value: Any, new: Iterator[str]) -> Any:
    if isinstance(value, str):
        return next(new)
    if isinstance(value, list | tuple):
        return type(value)(_rebuild(v, new) for v in value)
    if isinstance(value, Mapping):
        return {k: _rebuild(v, new) for k, v in value.items()}
    return value


def perturb_vars(vars: Mapping[str, Any], perturbation: Perturbation | str, seed: int, case_id: str) -> dict[str, Any]:
    """The case variables with ``perturbation`` applied to every string value (nested in lists and dicts too).

    Deterministic per (case id, perturbation name, seed). The strings of the case are rewritten together,
    so a counterfactual maps a name or a term the same way wherever it appears in the case; numbers,
    booleans and other values are returned as they are.
    """
    p = get_perturbation(perturbation) if isinstance(perturbation, str) else perturbation
    rng = stable_rng("perturbation", case_id, p.name, seed)
    new = iter(_perturb_all(_strings(dict(vars)), p, rng))
    return {key: _rebuild(value, new) for key, value in vars.items()}
