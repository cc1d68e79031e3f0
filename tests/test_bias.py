"""HELM's bias measures, checked against direct computations on fixed texts."""

from __future__ import annotations

import math

import pytest

from promptarena.errors import ConfigError
from promptarena.metrics.bias import (
    bias_measures,
    demographic_representation,
    gender_groups,
    race_groups,
    stereotypical_association,
    tv_from_uniform,
)

GROUPS = {"a": frozenset({"he", "him", "man"}), "b": frozenset({"she", "woman"})}


def test_tv_from_uniform_normalizes_by_list_size() -> None:
    assert tv_from_uniform([3, 2], [3, 2]) == 0.0
    # normalized 2/3 and 0 -> distribution (1, 0) -> TV from (1/2, 1/2) is 1/2
    assert tv_from_uniform([2, 0], [3, 2]) == pytest.approx(0.5)
    # normalized 1/3 and 1 -> (1/4, 3/4) -> TV 1/4
    assert tv_from_uniform([1, 2], [3, 2]) == pytest.approx(0.25)
    assert tv_from_uniform([0, 0], [3, 2]) is None


def test_demographic_representation_counts_group_words_over_all_texts() -> None:
    texts = ["He said the man was late.", "HE left; she stayed.", "Nothing here."]
    # a: he, man, he = 3 -> 1.0 ; b: she = 1 -> 0.5 ; distribution (2/3, 1/3) -> TV 1/6
    assert demographic_representation(texts, GROUPS) == pytest.approx(1 / 6)
    assert demographic_representation(["He and she; him and woman; man."], GROUPS) == pytest.approx(0.0)
    assert demographic_representation(["No group words at all."], GROUPS) is None
    assert demographic_representation([], GROUPS) is None


def test_stereotypical_association_averages_over_co_occurring_targets() -> None:
    texts = ["The man is a doctor. He is a doctor.", "She is a nurse and a doctor.", "A nurse and a lawyer."]
    # doctor: text 1 -> 2 doctors x 2 a-words = 4 for a; text 2 -> 1 x 1 = 1 for b.
    #   normalized (4/3, 1/2) -> (8/11, 3/11) -> TV 8/11 - 1/2 = 5/22
    # nurse: text 2 -> b 1; normalized (0, 1/2) -> TV 1/2.  lawyer: no group word -> left out.
    expected = (5 / 22 + 1 / 2) / 2
    got = stereotypical_association(texts, GROUPS, ["doctor", "nurse", "lawyer"])
    assert got == pytest.approx(expected)
    assert stereotypical_association(["A lawyer."], GROUPS, ["doctor", "lawyer"]) is None


def test_word_lists_are_loaded_from_the_documented_files() -> None:
    gender = gender_groups()
    assert {"he", "him", "his", "man", "father"} <= gender["male"]
    assert {"she", "her", "hers", "woman", "mother"} <= gender["female"]
    assert not gender["male"] & gender["female"]
    race = race_groups()
    assert set(race) == {"african_american", "european_american"}
    assert {"emily", "greg"} <= race["european_american"] and {"lakisha", "jamal"} <= race["african_american"]
    assert "kenya" not in race["african_american"]


def test_registered_measures_on_fixed_texts() -> None:
    assert bias_measures.names() == [
        "association_gender_adjective",
        "association_gender_profession",
        "association_race_adjective",
        "association_race_profession",
        "representation_gender",
        "representation_race",
    ]
    texts = ["He is a doctor.", "He is a doctor and an engineer.", "She is a nurse."]
    g = gender_groups()
    m, f = len(g["male"]), len(g["female"])
    # representation: male 2, female 1, each divided by its list size
    p = (2 / m) / (2 / m + 1 / f)
    assert bias_measures.get("representation_gender")(texts) == pytest.approx(abs(p - 0.5))
    # doctor and engineer co-occur only with male words, nurse only with female ones: all three maximally uneven
    assert bias_measures.get("association_gender_profession")(texts) == pytest.approx(0.5)
    assert bias_measures.get("association_gender_adjective")(texts) is None
    assert bias_measures.get("representation_race")(["Emily met Jamal and Lakisha."]) == pytest.approx(
        abs((1 / len(race_groups()["african_american"]) * 2) / (2 / 17 + 1 / 18) - 0.5)
    )
    assert math.isfinite(bias_measures.get("association_race_adjective")(["Emily is honest."]))
    with pytest.raises(ConfigError, match="did you mean representation_gender"):
        bias_measures.get("representation_gendr")


# HELM counts the tokens of nltk's word_tokenize(text.lower()); each case below is worked out by hand from its
# rules: punkt ends a sentence at a period (not after an abbreviation it knows, such as "mr."), and the Treebank
# rules split clitics ('s, n't, 'll) and punctuation off a word but keep a hyphenated word or "he/she" whole.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "He's a doctor. She's Emily's sister.",
            ["he", "'s", "a", "doctor", ".", "she", "'s", "emily", "'s", "sister", "."],
        ),
        ("he’s here", ["he", "’", "s", "here"]),
        ("My step-father and step-son.", ["my", "step-father", "and", "step-son", "."]),
        ("She isn't he/she.", ["she", "is", "n't", "he/she", "."]),
        ("The boys' uncle won't.", ["the", "boys", "'", "uncle", "wo", "n't", "."]),
        (
            "Mr. Smith met Mrs. Jones. The nurse. He left",
            ["mr.", "smith", "met", "mrs.", "jones", ".", "the", "nurse", ".", "he", "left"],
        ),
        ("A nurse... he left (a man).", ["a", "nurse", "...", "he", "left", "(", "a", "man", ")", "."]),
        (
            '"The nurse." He said: mother, father; sister',
            ["``", "the", "nurse", ".", "''", "he", "said", ":", "mother", ",", "father", ";", "sister"],
        ),
        ("the nurse.she left", ["the", "nurse.she", "left"]),
    ],
)
def test_tokens_follow_helms_word_tokenize(text: str, expected: list[str]) -> None:
    from collections import Counter

    from promptarena.metrics.bias import tokens

    assert tokens(text) == Counter(expected)


def test_contractions_possessives_and_hyphens_count_as_helm_counts_them() -> None:
    g, r = gender_groups(), race_groups()
    m, f = len(g["male"]), len(g["female"])
    # he's, she's, Emily's count; step-father and Mr. do not: male 1 (he), female 2 (she, sister)
    texts = ["He's a step-father. She's Emily's sister, said Mr. Smith."]
    p = (1 / m) / (1 / m + 2 / f)
    assert demographic_representation(texts, g) == pytest.approx(abs(p - 0.5))
    assert demographic_representation(["Emily's"], r) == pytest.approx(0.5)
    assert demographic_representation(["a step-father and Mr. Smith"], g) is None
    # "nurse." at a sentence's end is the word nurse: it co-occurs with she's "she"
    assert stereotypical_association(["She's a nurse."], g, ["nurse"]) == pytest.approx(0.5)


def test_every_measure_tops_out_at_one_minus_one_over_the_groups() -> None:
    for name in bias_measures.names():
        measure = bias_measures.get(name)
        assert measure.groups == 2 and measure.maximum == 0.5
        assert "0.5 = all in one of the 2 groups" in measure.description
    # all mentions in one group is the most uneven a measure can be: 0.5, not 1
    assert bias_measures.get("representation_gender")(["He and his son."]) == pytest.approx(0.5)
