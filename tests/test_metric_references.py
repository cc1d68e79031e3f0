"""Every reference metric against its reference implementation, or a direct computation, on generated inputs.

bleu and chrf against sacrebleu's metric classes, rouge1/2/L against rouge-score and against n-gram counts
and a longest common subsequence computed here, exact_match and contains against the values of the numbers
they are given (spelled with signs, Unicode minus, decimals, thousands separators and exponents), and
json_valid against how the JSON was written. Votes and metrics must agree on what "the same answer" is.
"""

from __future__ import annotations

import json
import math
import string
from collections import Counter
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptarena.extract import normalize_answer
from promptarena.metrics import get_metric
from promptarena.types import Case, Prediction
from promptarena.variants import majority

FEW = settings(max_examples=100, deadline=None)
MANY = settings(max_examples=200, deadline=None)


def score(name: str, answer: str, *references: str) -> float | None:
    return get_metric(name).score([Prediction(answer, answer)], [Case("c", {}, references)], {})[0]


# numbers: exact_match and contains against the values -------------------------------------------------

values = st.builds(lambda n, places: Decimal(n).scaleb(-places), st.integers(-(10**12), 10**12), st.integers(0, 4))
STYLES = ("plain", "thousands", "trailing_zeros", "unicode_minus", "exponent", "leading_point")


def spell(value: Decimal, style: str) -> str:
    """One of the ways a person or a model writes ``value``."""
    plain = format(value, "f")
    if style == "thousands":
        return format(value, ",f")
    if style == "trailing_zeros":
        return plain + ("00" if "." in plain else ".0")
    if style == "unicode_minus":
        return plain.replace("-", "\u2212")
    if style == "exponent":
        return format(value, "e")
    if style == "leading_point":
        return plain.replace("0.", ".", 1) if plain.lstrip("-").startswith("0.") else plain
    return plain


spelled = st.tuples(values, st.sampled_from(STYLES)).map(lambda vs: (vs[0], spell(*vs)))


@MANY
@given(spelled, spelled)
def test_exact_match_is_equality_of_values(a: tuple[Decimal, str], b: tuple[Decimal, str]) -> None:
    assert score("exact_match", a[1], b[1]) == float(a[0] == b[0])


@MANY
@given(values, st.sampled_from(STYLES), st.sampled_from(STYLES))
def test_every_spelling_of_a_value_matches(value: Decimal, style_a: str, style_b: str) -> None:
    assert score("exact_match", spell(value, style_a), spell(value, style_b)) == 1.0


@MANY
@given(spelled, spelled)
def test_contains_finds_a_number_only_with_its_value(a: tuple[Decimal, str], b: tuple[Decimal, str]) -> None:
    assert score("contains", f"So it is {a[1]}.", b[1]) == float(a[0] == b[0])


@MANY
@given(values.filter(lambda v: v != 0), st.sampled_from(STYLES), st.sampled_from(STYLES))
def test_a_number_never_equals_its_negation(value: Decimal, style_a: str, style_b: str) -> None:
    a, b = spell(value, style_a), spell(-value, style_b)
    assert normalize_answer(a) != normalize_answer(b)
    assert score("exact_match", a, b) == 0.0
    assert score("contains", f"it is {a}", b) == 0.0


@MANY
@given(spelled, spelled, spelled)
def test_number_scores_are_the_best_over_references(
    a: tuple[Decimal, str], r1: tuple[Decimal, str], r2: tuple[Decimal, str]
) -> None:
    for name in ("exact_match", "contains"):
        assert score(name, a[1], r1[1], r2[1]) == max(score(name, a[1], r1[1]), score(name, a[1], r2[1]))


number_like = st.one_of(
    spelled.map(lambda vs: vs[1]),
    st.text(alphabet="0123456789-+.,eE \u2212", max_size=10),
)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@MANY
@given(number_like, number_like)
def test_equal_normal_forms_of_numbers_have_equal_values(a: str, b: str) -> None:
    fa, fb = _float(a), _float(b)
    if fa is not None and fb is not None and normalize_answer(a) == normalize_answer(b):
        assert fa == fb or (math.isnan(fa) and math.isnan(fb))


@MANY
@given(st.text(alphabet=string.punctuation + "\u00bf\u00a1\u2026", min_size=1, max_size=6), st.data())
def test_punctuation_only_answers_match_only_themselves(a: str, data: st.DataObject) -> None:
    b = data.draw(st.one_of(st.just(a), st.text(alphabet=string.punctuation, min_size=1, max_size=6)))
    assert score("exact_match", a, b) == float(a == b)


@MANY
@given(st.one_of(number_like, st.text(max_size=12)), st.one_of(number_like, st.text(max_size=12)))
def test_votes_and_exact_match_agree(a: str, b: str) -> None:
    if normalize_answer(a) and normalize_answer(b):
        assert (majority([a, b]) == (0, 2)) == (score("exact_match", a, b) == 1.0)


# rouge: against rouge-score, and against counts computed here -------------------------------------------

# Three-letter words: rouge-score's Porter stemmer leaves tokens of three characters or fewer alone.
SHORT_WORDS = ["cat", "dog", "sat", "mat", "red", "big", "run", "the", "sun", "sky", "old", "new"]
short_texts = st.lists(st.sampled_from(SHORT_WORDS), min_size=0, max_size=12).map(" ".join)
free_texts = st.lists(
    st.sampled_from(["Cats", "running", "ran", "the", "dog's", "dogs,", "sat.", "42", "4.2", "Über", "mat"]),
    max_size=12,
).map(" ".join)


def _f1(overlap: int, n_answer: int, n_reference: int) -> float:
    precision, recall = overlap / max(n_answer, 1), overlap / max(n_reference, 1)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _ngrams(words: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def _rouge_n(answer: str, reference: str, n: int) -> float:
    a, r = _ngrams(answer.split(), n), _ngrams(reference.split(), n)
    return _f1(sum((a & r).values()), sum(a.values()), sum(r.values()))


def _lcs(a: list[str], b: list[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev_diag, row[0] = 0, 0
        for j, y in enumerate(b, 1):
            prev_diag, row[j] = row[j], prev_diag + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def _rouge_l(answer: str, reference: str) -> float:
    a, r = answer.split(), reference.split()
    return _f1(_lcs(a, r), len(a), len(r))


@FEW
@given(short_texts, short_texts)
def test_rouge_equals_counts_computed_directly(answer: str, reference: str) -> None:
    assert score("rouge1", answer, reference) == _approx(_rouge_n(answer, reference, 1))
    assert score("rouge2", answer, reference) == _approx(_rouge_n(answer, reference, 2))
    assert score("rougeL", answer, reference) == _approx(_rouge_l(answer, reference))


@cache
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


@FEW
@given(free_texts, free_texts, free_texts)
def test_rouge_equals_rouge_score_best_over_references(answer: str, ref1: str, ref2: str) -> None:
    by_ref = [_rouge_scorer().score(ref, answer) for ref in (ref1, ref2)]
    for name, key in (("rouge1", "rouge1"), ("rouge2", "rouge2"), ("rougeL", "rougeL")):
        assert score(name, answer, ref1, ref2) == _approx(max(s[key].fmeasure for s in by_ref))


# bleu / chrf: against sacrebleu's metric classes ---------------------------------------------------------


@FEW
@given(free_texts, free_texts, free_texts)
def test_bleu_and_chrf_equal_sacrebleu(answer: str, ref1: str, ref2: str) -> None:
    from sacrebleu.metrics import BLEU, CHRF

    bleu, chrf = BLEU(effective_order=True), CHRF()
    expected_bleu = max(bleu.sentence_score(answer, [ref]).score for ref in (ref1, ref2)) / 100
    expected_chrf = max(chrf.sentence_score(answer, [ref]).score for ref in (ref1, ref2)) / 100
    assert score("bleu", answer, ref1, ref2) == _approx(expected_bleu)
    assert score("chrf", answer, ref1, ref2) == _approx(expected_chrf)


# json_valid: against how the JSON was written ------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


def _all_finite(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_all_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    return True


@MANY
@given(json_values, st.booleans())
def test_json_valid_accepts_exactly_strict_json(value: object, fenced: bool) -> None:
    text = json.dumps(value)  # writes NaN and Infinity for non-finite floats, which JSON does not have
    answer = f"```json\n{text}\n```" if fenced else text
    assert score("json_valid", answer) == float(_all_finite(value))


def _approx(expected: float) -> Any:
    return pytest.approx(expected, abs=1e-9)
