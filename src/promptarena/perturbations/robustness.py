"""Robustness perturbations: rewrites a reader would say mean the same thing (HELM's invariance set).

Typos on neighbouring keys, lowercasing, contractions and expansions, extra spaces, filler words and common
misspellings. Each is a ``Perturbation`` of kind ``"robustness"``; protected spans are handled by the caller.
"""

from __future__ import annotations

import random
import re
from functools import cache

from promptarena.data import table
from promptarena.perturbations import Perturbation, match_case

__all__ = ["contractions", "expansions", "filler_words", "lowercase", "misspellings", "typos", "whitespace"]

_TYPO_PROB = 0.05
_MISSPELL_PROB = 0.5
_FILLER_PROB = 0.1
_FILLERS = ("uh", "um", "er", "you know", "I mean")

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, str]:
    """Keys next to each letter on a QWERTY keyboard (each row sits half a key right of the one above)."""
    near: dict[str, str] = {}
    for r, row in enumerate(_ROWS):
        for i, key in enumerate(row):
            cells = [(r, i - 1), (r, i + 1), (r - 1, i), (r - 1, i + 1), (r + 1, i - 1), (r + 1, i)]
            near[key] = "".join(_ROWS[rr][ii] for rr, ii in cells if 0 <= rr < len(_ROWS) and 0 <= ii < len(_ROWS[rr]))
    return near


_NEIGHBOURS = _keyboard_neighbours()


def _typos(text: str, rng: random.Random) -> str:
    chars = list(text)
    for i, char in enumerate(chars):
        near = _NEIGHBOURS.get(char.lower()) if char.isascii() else None
        if near and rng.random() < _TYPO_PROB:
            key = rng.choice(near)
            chars[i] = key.upper() if char.isupper() else key
    return "".join(chars)


# Pairs that read the same either way. "I have" is only expanded: "I've a car" is not how it is said.
_NEGATIONS = (
    ("are not", "aren't"),
    ("cannot", "can't"),
    ("could not", "couldn't"),
    ("did not", "didn't"),
    ("does not", "doesn't"),
    ("do not", "don't"),
    ("had not", "hadn't"),
    ("has not", "hasn't"),
    ("have not", "haven't"),
    ("is not", "isn't"),
    ("must not", "mustn't"),
    ("should not", "shouldn't"),
    ("was not", "wasn't"),
    ("were not", "weren't"),
    ("will not", "won't"),
    ("would not", "wouldn't"),
)
_PRONOUN_VERBS = (
    ("I am", "I'm"),
    ("you are", "you're"),
    ("we are", "we're"),
    ("they are", "they're"),
    ("I will", "I'll"),
    ("you will", "you'll"),
    ("he will", "he'll"),
    ("she will", "she'll"),
    ("we will", "we'll"),
    ("they will", "they'll"),
)
_EXPAND_ONLY = (("I have", "I've"), ("you have", "you've"), ("we have", "we've"), ("they have", "they've"))


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w).replace("'", "['\u2019]") for w in sorted(words, key=len, reverse=True))


_CONTRACT = {long.lower(): short for long, short in _NEGATIONS + _PRONOUN_VERBS}
# Pronoun + verb only contract before another word ("Yes, I am." cannot become "Yes, I'm."), and not
# before "not", which the negation takes ("they will not" -> "they won't").
_CONTRACT_RE = re.compile(
    rf"\b(?:{_alternation([n for n, _ in _NEGATIONS])}"
    rf"|(?:{_alternation([p for p, _ in _PRONOUN_VERBS])})(?=[ \t]+(?!not\b)[A-Za-z]))\b",
    re.IGNORECASE,
)
_EXPAND = {short.lower(): long for long, short in _NEGATIONS + _PRONOUN_VERBS + _EXPAND_ONLY}
_EXPAND_RE = re.compile(rf"\b(?:{_alternation(list(_EXPAND))})\b", re.IGNORECASE)


def _contract(text: str, rng: random.Random) -> str:
    return _CONTRACT_RE.sub(lambda m: match_case(m.group(0), _CONTRACT[m.group(0).lower()]), text)


def _expand(text: str, rng: random.Random) -> str:
    def repl(m: re.Match[str]) -> str:
        return match_case(m.group(0), _EXPAND[m.group(0).lower().replace("\u2019", "'")])

    return _EXPAND_RE.sub(repl, text)


def _whitespace(text: str, rng: random.Random) -> str:
    return re.sub(r"(?<=\S) +(?=\S)", lambda _: " " * rng.randint(1, 3), text)


def _filler_words(text: str, rng: random.Random) -> str:
    def gap(_: re.Match[str]) -> str:
        return f" {rng.choice(_FILLERS)} " if rng.random() < _FILLER_PROB else " "

    return re.sub(r"(?<=[A-Za-z,]) (?=[A-Za-z])", gap, text)


@cache
def _misspelling_re() -> tuple[re.Pattern[str], dict[str, str]]:
    wrong = {correct: misspelt for correct, misspelt in table("misspellings.tsv")}
    return re.compile(rf"\b(?:{_alternation(list(wrong))})\b", re.IGNORECASE), wrong


def _misspellings(text: str, rng: random.Random) -> str:
    pattern, wrong = _misspelling_re()

    def repl(m: re.Match[str]) -> str:
        found = m.group(0)
        return match_case(found, wrong[found.lower()]) if rng.random() < _MISSPELL_PROB else found

    return pattern.sub(repl, text)


# Version 2 of typos, lowercase and filler_words: numbers written as words are kept as they are.
typos = Perturbation(
    "typos",
    "robustness",
    _typos,
    "Replaces about one letter in twenty with a neighbouring key on a QWERTY keyboard.",
    version=2,
)
lowercase = Perturbation("lowercase", "robustness", lambda text, _: text.lower(), "Lowercases the text.", version=2)
contractions = Perturbation(
    "contractions", "robustness", _contract, "Contracts negations and pronoun-verb pairs (do not -> don't)."
)
expansions = Perturbation("expansions", "robustness", _expand, "Expands contractions (don't -> do not).")
whitespace = Perturbation(
    "whitespace", "robustness", _whitespace, "Widens each space between words to one to three spaces."
)
filler_words = Perturbation(
    "filler_words",
    "robustness",
    _filler_words,
    "Inserts a filler (uh, um, you know) in about one gap in ten.",
    version=2,
)
misspellings = Perturbation(
    "misspellings",
    "robustness",
    _misspellings,
    "Misspells about half of the words found in a list of common misspellings (recieve, seperate).",
)
