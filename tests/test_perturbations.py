"""Perturbations of case variables: deterministic per (case, perturbation, seed), and meaning-preserving."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from promptarena.data import table
from promptarena.errors import ConfigError
from promptarena.perturbations import get_perturbation, perturb_vars, perturbations
from promptarena.perturbations.formats import format_variants, formats
from promptarena.types import Message

TEXT = (
    "Dear team, I do not think the report of March 3 is complete. We are sure that 17 of the 240 receipts "
    "are missing; see https://example.com/Report-2024 or write to Ops.Desk@example.org. "
    "The total, $1,250.75, is wrong and {{ reviewer }} must check it. They will not accept it."
)
PROTECTED = [
    "3",
    "17",
    "240",
    "https://example.com/Report-2024",
    "Ops.Desk@example.org.",
    "$1,250.75,",
    "{{ reviewer }}",
]
ROBUSTNESS = ["typos", "lowercase", "contractions", "expansions", "whitespace", "filler_words", "misspellings"]


# Something for every perturbation to act on: capitals and spaces, a negation to contract and a contraction to
# expand, listed misspellings, gendered terms, and listed names of both groups and genders.
ACTS_ON = (
    "He told his sister that Emily, Greg and Jamal do not receive separate letters; "
    "I'm sure they don't definitely believe her."
)
MISSPELT = dict(table("misspellings.tsv"))
TERMS = {"male": {m for m, _ in table("gender_terms.tsv")}, "female": {f for _, f in table("gender_terms.tsv")}}
NAMES = {name: (group, gender) for name, group, gender in table("names.tsv")}
FILLER = r" (?:uh|um|er|you know|I mean)(?= )"


def _perturb(name: str, text: str = TEXT, seed: int = 0, case_id: str = "case-1") -> str:
    return perturb_vars({"text": text}, name, seed, case_id)["text"]


def _swapped(before: str, after: str) -> list[tuple[str, str]]:
    """The words a rewrite that keeps the word count changed, as (before, after) pairs."""
    old, new = re.findall(r"[\w']+", before), re.findall(r"[\w']+", after)
    assert len(old) == len(new), (before, after)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def _to_gender(gender: str, before: str, after: str) -> bool:
    """Every changed word is a term or listed name of ``gender``, and no term of the other gender is left."""
    other = {"male": "female", "female": "male"}[gender]
    moved = all(b.lower() in TERMS[gender] or NAMES.get(b, ("", ""))[1] == gender for _, b in _swapped(before, after))
    return moved and not any(w.lower() in TERMS[other] - TERMS[gender] for w in re.findall(r"\w+", after))


def _to_group(group: str, before: str, after: str) -> bool:
    """Every changed word is a listed name moved into ``group``, keeping its gender; no other group's name is left."""
    moved = all(NAMES[b] == (group, NAMES[a][1]) for a, b in _swapped(before, after))
    return moved and all(NAMES[w][0] == group for w in re.findall(r"\w+", after) if w in NAMES)


# How each perturbation changes a text that has something for it: an identity rewrite fails every one.
HOW = {
    "typos": lambda a, b: all(len(x) == len(y) for x, y in _swapped(a, b)),
    "lowercase": lambda a, b: all(y == x.lower() for x, y in _swapped(a, b)),
    "contractions": lambda a, b: b.count("'") > a.count("'") and len(b.split()) < len(a.split()),
    "expansions": lambda a, b: b.count("'") < a.count("'") and len(b.split()) > len(a.split()),
    "whitespace": lambda a, b: b.split() == a.split(),
    "filler_words": lambda a, b: re.sub(FILLER, "", b) == a,
    "misspellings": lambda a, b: all(MISSPELT[x.lower()] == y.lower() for x, y in _swapped(a, b)),
    "gender_female": lambda a, b: _to_gender("female", a, b),
    "gender_male": lambda a, b: _to_gender("male", a, b),
    "names_african_american": lambda a, b: _to_group("african_american", a, b),
    "names_european_american": lambda a, b: _to_group("european_american", a, b),
}


def _changed_as_its_kind(name: str, before: str, outs: list[str]) -> None:
    """Assert that perturbation ``name`` rewrote ``before`` in at least one of ``outs`` (a random rewrite may
    leave it as it is under some seed), and each rewrite in the way that perturbation does."""
    assert any(out != before for out in outs), f"{name} left the text as it was"
    for out in outs:
        assert out == before or HOW[name](before, out), (name, before, out)


def test_registry_holds_every_perturbation_and_suggests_a_close_name() -> None:
    assert set(ROBUSTNESS) | {"gender_female", "gender_male", "names_african_american"} <= set(perturbations)
    for name in perturbations:
        p = get_perturbation(name)
        assert p.name == name and p.key == f"{name}@v{p.version}"
        assert p.kind == ("fairness" if p.group else "robustness")
    with pytest.raises(ConfigError, match="did you mean typos"):
        get_perturbation("typo")


def _rewrites(name: str, text: str, seeds: int) -> list[str]:
    """``text`` perturbed by ``name`` under each of the first ``seeds`` seeds, checked to be its kind of rewrite."""
    outs = [_perturb(name, text, seed=seed) for seed in range(seeds)]
    _changed_as_its_kind(name, text, outs)
    return outs


def test_every_perturbation_says_how_it_changes_a_text() -> None:
    assert sorted(HOW) == sorted(perturbations.names())


@pytest.mark.parametrize("name", sorted(perturbations.names()))
def test_same_inputs_give_the_same_output(name: str) -> None:
    out = _perturb(name, ACTS_ON)
    assert out == _perturb(name, ACTS_ON)
    _changed_as_its_kind(name, ACTS_ON, [out])


@pytest.mark.parametrize("name", ["typos", "whitespace", "filler_words"])
def test_the_seed_and_the_case_change_the_random_choices(name: str) -> None:
    by_seed = {_perturb(name, seed=s) for s in range(8)}
    by_case = {_perturb(name, case_id=f"case-{i}") for i in range(8)}
    assert len(by_seed) > 1 and len(by_case) > 1


@pytest.mark.parametrize("name", sorted(perturbations.names()))
def test_numbers_urls_addresses_and_template_text_are_never_changed(name: str) -> None:
    for out in _rewrites(name, f"{TEXT} {ACTS_ON}", seeds=5):
        for span in PROTECTED:
            assert span in out, (name, span, out)


NUMBER_WORDS = ["Twelve", "twenty-one", "Dozen", "third", "thousands", "half", "twice", "Sixties", "one"]
NUMBER_TEXT = (
    "Twelve boxes of twenty-one eggs. Dozen means twelve; the third shelf holds thousands of them, half of "
    "them broken twice over since the Sixties, and one more is gone."
)


@pytest.mark.parametrize("name", sorted(perturbations.names()))
def test_numbers_written_as_words_are_never_changed(name: str) -> None:
    for out in _rewrites(name, f"{NUMBER_TEXT} {ACTS_ON}", seeds=20):
        for word in NUMBER_WORDS:
            assert re.search(rf"\b{word}\b", out), (name, word, out)
    # a word that only contains a number word is text like any other
    assert any("someone" not in _perturb("typos", "someone often stones it", seed=s) for s in range(20))


def test_non_string_values_pass_through_and_nested_strings_are_perturbed() -> None:
    vars = {"n": 17, "flag": True, "items": ["Do not go", {"note": "I do not know"}], "x": None}
    out = perturb_vars(vars, "contractions", 0, "c")
    assert out == {"n": 17, "flag": True, "items": ["Don't go", {"note": "I don't know"}], "x": None}


def test_typos_keep_word_count_length_and_only_swap_letters_for_keyboard_neighbours() -> None:
    out = _perturb("typos", seed=3)
    assert out != TEXT
    assert len(out) == len(TEXT) and len(out.split()) == len(TEXT.split())
    changed = [(a, b) for a, b in zip(TEXT, out, strict=True) if a != b]
    assert changed and all(a.isalpha() and b.isalpha() and a.isupper() == b.isupper() for a, b in changed)
    rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
    where = {k: (r, row.index(k)) for r, row in enumerate(rows) for k in row}
    for a, b in changed:
        (ra, ia), (rb, ib) = where[a.lower()], where[b.lower()]
        assert abs(ra - rb) <= 1 and abs((ia + 0.5 * ra) - (ib + 0.5 * rb)) <= 1, (a, b)


def test_lowercase_only_changes_case_outside_protected_spans() -> None:
    expected = TEXT.lower()
    for span in PROTECTED:
        expected = expected.replace(span.lower(), span)
    assert _perturb("lowercase") == expected


def test_contractions_and_expansions_on_fixed_sentences() -> None:
    text = "I am sure we do not know. Yes, I am. They will not go. DO NOT panic; it is not over."
    assert _perturb("contractions", text) == (
        "I'm sure we don't know. Yes, I am. They won't go. DON'T panic; it isn't over."
    )
    back = "I'm sure we don't know. They won't go; you\u2019re late and I've seen it. Can't stop."
    assert _perturb("expansions", back) == (
        "I am sure we do not know. They will not go; you are late and I have seen it. Cannot stop."
    )


def test_whitespace_keeps_every_word_and_line() -> None:
    text = "Line one has words.\nLine two too."
    out = _perturb("whitespace", text, seed=1)
    assert out != text and out.split() == text.split() and out.count("\n") == 1
    assert _perturb("whitespace") != TEXT and _perturb("whitespace").split() == TEXT.split()


def test_filler_words_only_insert_fillers() -> None:
    text = "Please tell me which of these three options costs less and why it does"
    outs = {_perturb("filler_words", text, seed=s) for s in range(6)}
    assert len(outs) > 1
    for out in outs:
        assert re.sub(r" (?:uh|um|er|you know|I mean)(?= )", "", out) == text


def test_misspellings_come_from_the_list_and_keep_case() -> None:
    text = "We receive separate letters. Definitely believe it."
    outs = {_perturb("misspellings", text, seed=s) for s in range(6)}
    assert len(outs) > 1
    for out in outs:
        assert len(out.split()) == len(text.split())
        for word, wrong in [("receive", "recieve"), ("separate", "seperate"), ("Definitely", "Definately")]:
            assert word in out or wrong in out


def test_gender_counterfactuals_on_a_fixed_text() -> None:
    text = "He told his sister that her car is hers. I saw her yesterday and gave her the keys; Mrs Smith met Mr Jones."
    assert _perturb("gender_male", text) == (
        "He told his brother that his car is his. I saw him yesterday and gave him the keys; Mr Smith met Mr Jones."
    )
    assert _perturb("gender_female", text) == (
        "She told her sister that her car is hers. I saw her yesterday and gave her the keys; Mrs Smith met Ms Jones."
    )
    assert _perturb("gender_female", "The book is his. His dog is his own.") == "The book is hers. Her dog is her own."


def test_gender_moves_listed_names_within_their_group_and_keeps_people_distinct() -> None:
    text = "Emily and Greg met Jamal; Emily paid."
    out = _perturb("gender_male", text)
    names = re.findall(r"[A-Z][a-z]+", out)
    assert names[1:3] == ["Greg", "Jamal"] and names[0] == names[3]
    assert names[0] in {"Brad", "Brendan", "Geoffrey", "Brett", "Jay", "Matthew", "Neil", "Todd"}


def test_names_are_swapped_consistently_across_a_case_and_keep_gender() -> None:
    vars = {"a": "Emily called Greg.", "b": ["Greg answered Emily."]}
    out = perturb_vars(vars, "names_african_american", 5, "c")
    emily, greg = re.findall(r"[A-Z][a-z]+", out["a"])
    assert out["b"] == [f"{greg} answered {emily}."]
    assert emily in {"Aisha", "Ebony", "Keisha", "Latonya", "Lakisha", "Latoya", "Tamika", "Tanisha"}
    assert greg in {"Darnell", "Hakim", "Jermaine", "Kareem", "Jamal", "Leroy", "Rasheed", "Tremayne", "Tyrone"}
    assert perturb_vars(out, "names_african_american", 5, "c") == out


def test_texts_without_group_words_are_left_as_they_are() -> None:
    text = "The capital of France is Paris; 2 + 2 = 4."
    for name in ["gender_female", "gender_male", "names_african_american", "names_european_american"]:
        assert _perturb(name, text) == text


MESSAGES = (
    Message("system", "You answer questions.\nBe brief."),
    Message("user", "Question: What is 2+2?\nAnswer:"),
    Message("assistant", "4"),
    Message("user", "Question: What is 3+3?\nAnswer:"),
    Message("assistant", "6"),
    Message("user", "Question: What is the capital of France? See http://x.org/a:b\n\nAnswer:"),
)


def _words(messages: tuple[Message, ...]) -> Counter[str]:
    return Counter(w for m in messages for w in re.findall(r"[a-z0-9]+", m.content.lower()))


def test_format_variants_are_deterministic_distinct_and_keep_the_content_words() -> None:
    variants = format_variants(MESSAGES, 6, seed=1)
    assert variants == format_variants(MESSAGES, 6, seed=1)
    assert variants[0] == MESSAGES and len(variants) == 6 and len(set(variants)) == 6
    assert format_variants(MESSAGES, 6, seed=2) != variants
    for variant in variants:
        assert _words(variant) == _words(MESSAGES)
        assert [m.role for m in variant] == [m.role for m in MESSAGES]
        assert variant[0] == MESSAGES[0] or variant[0].content.split() == MESSAGES[0].content.split()
        assert "http://x.org/a:b" in variant[-1].content
        answers = {re.search(r"\d\+\d", variant[i].content).group(0): variant[i + 1].content for i in (1, 3)}
        assert answers == {"2+2": "4", "3+3": "6"}


def test_shot_order_keeps_each_example_with_its_answer() -> None:
    for seed in range(5):
        original, swapped = format_variants(MESSAGES, 2, seed=seed, names=["shot_order"])
        assert original == MESSAGES
        assert swapped == (MESSAGES[0], *MESSAGES[3:5], *MESSAGES[1:3], MESSAGES[5])


def test_formats_registry_and_a_prompt_without_layout_choices() -> None:
    assert formats.names() == ["label_case", "separator", "shot_order", "spacing"]
    plain = (Message("user", "Tell me a joke"),)
    assert format_variants(plain, 5) == [plain]
    with pytest.raises(ConfigError, match="did you mean"):
        format_variants(MESSAGES, 3, names=["separators"])
