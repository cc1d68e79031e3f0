"""Fairness perturbations: counterfactuals that change only who is speaking or spoken about.

Each moves every person in a text into one group, so two counterfactuals of the same case (all female, all
male) differ only in that group and their scores can be compared pair by pair. Word and name lists, with
their sources, are in ``promptarena/data``. A dialect counterfactual is left out: there is no documented
word list for it here yet.

``her`` and ``his`` are ambiguous. ``her`` is an object (him) or a possessive (his); ``his`` a determiner
(her) or a pronoun (hers). The rule used: followed by a word that starts a noun phrase's content (``her
car``, ``his own``) they are possessive determiners; followed by punctuation, the end of the text or a
function word (``told her that``, ``gave her a``, ``it is his.``) they are object or pronoun. It misreads
a bare verb after an object (``let her go`` becomes ``let his go``).
"""

from __future__ import annotations

import random
import re
from functools import cache, partial
from typing import Literal

from promptarena.data import table
from promptarena.perturbations import Perturbation, match_case

__all__ = ["gender_female", "gender_male", "names_african_american", "names_european_american"]

Gender = Literal["female", "male"]

_FUNCTION_WORDS_TEXT = """
    a an the this that these those some any every each all no another my your our their its his her
    to of in on at by for with about from into onto up down out off over under after before around through
    back away again home as like than and or but so because if when while who whom which where why how
    then too also now here there today tomorrow yesterday tonight soon later once twice very really well
    please not
"""
_FUNCTION_WORDS = frozenset(_FUNCTION_WORDS_TEXT.split())
_WORD = re.compile(r"[A-Za-z]+")
# The next token after a word: letters, or a protected span (a number or URL reads as content).
_NEXT = re.compile(r"[ \t]+([A-Za-z]+|[\ue000-\uf8fe])")


@cache
def _term_maps() -> dict[Gender, dict[str, str]]:
    """Lowercase term -> its counterpart, for moving text to each gender; the first row of a term wins."""
    to: dict[Gender, dict[str, str]] = {"female": {}, "male": {}}
    for male, female in table("gender_terms.tsv"):
        to["female"].setdefault(male, female)
        to["male"].setdefault(female, male)
    return to


@cache
def _names() -> dict[tuple[str, str], tuple[str, ...]]:
    """(group, gender) -> the names of that cell, in file order."""
    cells: dict[tuple[str, str], list[str]] = {}
    for name, group, gender in table("names.tsv"):
        cells.setdefault((group, gender), []).append(name)
    return {cell: tuple(names) for cell, names in cells.items()}


def _name_map(moves: list[tuple[tuple[str, str], tuple[str, str]]], text: str, rng: random.Random) -> dict[str, str]:
    """Each name of a source cell -> a distinct name of its target cell, drawn at random.

    Names already in ``text`` are handed out last and the source names in ``text`` first, so two people
    never end up with one name unless the text names more people than the target cell holds.
    """
    cells, present = _names(), set(_WORD.findall(text))
    mapping: dict[str, str] = {}
    for source, target in moves:
        drawn = rng.sample(cells[target], len(cells[target]))
        free = [n for n in drawn if n not in present] + [n for n in drawn if n in present]
        order = sorted(cells[source], key=lambda n: n not in present)
        mapping.update({name: free[i % len(free)] for i, name in enumerate(order)})
    return mapping


def _followed_by_content(text: str, end: int) -> bool:
    nxt = _NEXT.match(text, end)
    return bool(nxt) and nxt.group(1).lower() not in _FUNCTION_WORDS


def _replace_words(text: str, terms: dict[str, str], names: dict[str, str], ambiguous: dict[str, tuple[str, str]]):
    """Swap terms (any case), names (capitalized) and ambiguous pronouns (by the next word) in ``text``."""

    def repl(m: re.Match[str]) -> str:
        word, lower = m.group(0), m.group(0).lower()
        if lower in ambiguous:
            determiner, pronoun = ambiguous[lower]
            return match_case(word, determiner if _followed_by_content(text, m.end()) else pronoun)
        if lower in terms:
            return match_case(word, terms[lower])
        if word[0].isupper() and lower.capitalize() in names:
            return match_case(word, names[lower.capitalize()])
        return word

    return _WORD.sub(repl, text)


def _gender(text: str, rng: random.Random, target: Gender) -> str:
    source: Gender = "male" if target == "female" else "female"
    groups = sorted({group for group, _ in _names()})
    names = _name_map([((g, source), (g, target)) for g in groups], text, rng)
    ambiguous = {"his": ("her", "hers")} if target == "female" else {"her": ("his", "him")}
    return _replace_words(text, _term_maps()[target], names, ambiguous)


def _race(text: str, rng: random.Random, target: str) -> str:
    groups = sorted({group for group, _ in _names()} - {target})
    moves = [((g, gender), (target, gender)) for g in groups for gender in ("female", "male")]
    return _replace_words(text, {}, _name_map(moves, text, rng), {})


gender_female = Perturbation(
    "gender_female",
    "fairness",
    partial(_gender, target="female"),
    "Makes every gendered term, pronoun and listed first name female.",
    group="gender=female",
)
gender_male = Perturbation(
    "gender_male",
    "fairness",
    partial(_gender, target="male"),
    "Makes every gendered term, pronoun and listed first name male.",
    group="gender=male",
)
names_african_american = Perturbation(
    "names_african_american",
    "fairness",
    partial(_race, target="african_american"),
    "Replaces listed European-American first names by African-American ones of the same gender.",
    group="race=african_american",
)
names_european_american = Perturbation(
    "names_european_american",
    "fairness",
    partial(_race, target="european_american"),
    "Replaces listed African-American first names by European-American ones of the same gender.",
    group="race=european_american",
)
