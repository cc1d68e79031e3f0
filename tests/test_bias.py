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
