"""Answer extraction and the one normalizer that votes and metrics share, on the outputs that used to fool them."""

from __future__ import annotations

import pytest

from promptarena.extract import canonical_number, extract_answer, normalize_answer
from promptarena.promptfile import AnswerSpec


def _extract(text: str, extract: str, **spec: object) -> str:
    return extract_answer(text, AnswerSpec(extract=extract, **spec))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("-21", "-21"),
        ("\u221221", "-21"),  # Unicode minus sign
        ("3.5", "3.5"),
        ("35", "35"),
        ("1,000", "1000"),
        ("$1,000.00", "1000"),
        ("-1,234.50", "-1234.5"),
        (".5", "0.5"),
        ("1e3", "1000"),
        ("-0", "0"),
        ("1,2,3", "1 2 3"),
        ("pages 10-12", "pages 10 12"),
        ("v1.2.3", "v1.2.3"),
        ("x1.5", "x1.5"),
        ("It is 4.", "it is 4"),
        ("!!!", "!!!"),
        ("  The  Eiffel-Tower!! ", "eiffeltower"),
        ("An apple, a day.", "apple day"),
        ("The", "the"),
        ("", ""),
    ],
)
def test_normalize_keeps_the_value_of_numbers(text: str, normalized: str) -> None:
    assert normalize_answer(text) == normalized


@pytest.mark.parametrize(
    ("token", "canonical"),
    [
        ("1,000", "1000"),
        ("1000.000", "1000"),
        ("0.50", "0.5"),
        ("1E3", "1000"),
        ("2.5e-3", "0.0025"),
        ("1e999", "1e+999"),
        ("\u22127", "-7"),
    ],
)
def test_canonical_number_has_one_spelling_per_value(token: str, canonical: str) -> None:
    assert canonical_number(token) == canonical


def test_canonical_number_is_exact_for_long_numbers() -> None:
    long = "1234567890" * 4
    assert canonical_number(long) == long
    assert canonical_number(long + "1") != canonical_number(long + "2")


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("First 2, then 3, so 1,250.50 in all.", "1250.5"),
        ("the list is 1,2,3", "3"),
        ("see pages 10-12", "12"),
        ("x = -3, so", "-3"),
        ("it is \u22123", "-3"),
        ("about .5 of it", "0.5"),
        ("roughly 1e3 people", "1000"),
        ("it weighs 5kg", "5"),
        ("no digits", ""),
        ("Answer: 24 (4 boxes of 6 eggs)", "24"),  # an aside in parentheses is not the answer
        ("24 (4 boxes of 6 eggs) in all (so 24)", "24"),
        ("f(3) = 9", "9"),
        ("the answer is (6)", "6"),  # only numbers in parentheses: the last of them
        ("a stray ) closes nothing: 7 (then 8", "7"),
    ],
)
def test_last_number(text: str, number: str) -> None:
    assert _extract(text, "last_number") == number


@pytest.mark.parametrize(
    ("text", "choice"),
    [
        ("I think it is a trick; the answer is C", "C"),
        ("A trick question, so the answer: B.", "B"),
        ("A trick question. C", "C"),
        ("The answer is not A. The answer is (D).", "D"),
        ("(B) because the others are wrong", "B"),
        ("A is correct.", "A"),
        ("Answer: A because it fits", "A"),
        ("answer: c", "C"),
        ("a", "A"),
        ("I cannot tell", ""),
        ("the correct option is a B", "B"),  # the article "a" before a capital letter
        ("the answer is a B.", "B"),
        ("a is the one", "A"),
        ("Option a, because the others are wrong", "A"),
    ],
)
def test_choice_reads_letters_not_articles(text: str, choice: str) -> None:
    assert _extract(text, "choice", choices=("A", "B", "C", "D")) == choice


def test_choice_of_words_prefers_the_explicit_answer() -> None:
    choices = ("positive", "negative")
    assert _extract("Label: Negative. Not positive.", "choice", choices=choices) == "negative"
    assert _extract("Positive at first, but the answer is negative", "choice", choices=choices) == "negative"


@pytest.mark.parametrize(
    ("pattern", "text", "answer"),
    [
        (r"(\d+)|none", "none", ""),  # group 1 took no part in the match
        (r"(\d+)|none", "it is 12", "12"),
        (r"answer is (\w+)", "The answer is Rome.", "Rome"),
        (r"\d+", "it is 12", "12"),
        (r"(\d+)", "nothing", ""),
    ],
)
def test_regex_never_crashes(pattern: str, text: str, answer: str) -> None:
    assert _extract(text, "regex", pattern=pattern) == answer


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ('{"v": true}', "true"),
        ('{"v": {"v": 1}}', '{"v": 1}'),
        ('{"v": [1, "é"]}', '[1, "é"]'),
        ('```json\n{"v": "spam"}\n```', "spam"),
        ('{"v": null}', "null"),
        ('{"w": 1}', ""),
        ('{"v": NaN}', ""),
        ("} not json {", ""),
        ("{" + "[" * 100_000 + "}", ""),
        ('{"v": "B"} hope this helps {:)}', "B"),  # text after the object does not spoil it
        ('{"v": "B"} }', "B"),
        ('{"v": 1} {"v": 2}', "1"),
        ('{"w": 1} and then {"v": 2}', "2"),  # the first object that has the field
        ('{:)} {"v": "C"}', "C"),
        ("{" * 10_000, ""),
    ],
)
def test_json_field_returns_json_text(text: str, answer: str) -> None:
    assert _extract(text, "json_field", field="v") == answer
