"""Variants and answer extraction with scripted outputs whose votes and picks are known in advance."""

from __future__ import annotations

import pytest

from promptarena.errors import ConfigError
from promptarena.extract import extract_answer
from promptarena.promptfile import AnswerSpec
from promptarena.types import Case, Generation, GenParams, Message
from promptarena.variants import Item, majority, make_variant


def _item(extract: str = "last_number", **spec) -> Item:
    return Item(
        case=Case("c1", {"q": "2+3"}, ("5",)),
        messages=(Message("system", "Be brief."), Message("user", "What is 2+3?")),
        params=GenParams(max_new_tokens=32),
        seed=7,
        answer=AnswerSpec(extract=extract, **spec),
    )


def _gen(text: str) -> Generation:
    return Generation(text, 10, len(text.split()), 0.1)


def _play(variant, item, script):
    """Drive a variant through its rounds, answering each request with script(round, request)."""
    history: list[list[Generation]] = []
    rounds = 0
    while reqs := variant.requests(item, history):
        history.append([_gen(script(rounds, r)) for r in reqs])
        rounds += 1
    return variant.reduce(item, history), history


@pytest.mark.parametrize(
    ("extract", "spec", "text", "answer"),
    [
        ("last_number", {}, "First 2, then 3, so 1,250.50 in all.", "1250.5"),
        ("last_number", {}, "no digits", ""),
        ("first_line", {}, "\n  Paris \nbecause", "Paris"),
        ("last_line", {}, "because\nParis\n", "Paris"),
        ("choice", {"choices": ("positive", "negative")}, "Label: Negative. Not positive.", "negative"),
        ("regex", {"pattern": r"answer is (\w+)"}, "The answer is Rome.", "Rome"),
        ("json_field", {"field": "label"}, '```json\n{"label": "spam"}\n```', "spam"),
        ("text", {}, "  as is \n", "as is"),
    ],
)
def test_extractors(extract, spec, text, answer) -> None:
    assert extract_answer(text, AnswerSpec(extract=extract, **spec)) == answer


def test_majority_ties_go_to_the_first_sampled_and_empty_never_wins() -> None:
    assert majority(["4", "5", "5", "4"]) == (0, 2)
    assert majority(["", "", "7"]) == (2, 1)
    assert majority(["Paris.", "paris", "Lyon"]) == (0, 2)


def test_plain_is_one_greedy_request() -> None:
    pred, history = _play(make_variant("plain"), _item(), lambda r, req: "It is 5.")
    assert len(history) == 1 and len(history[0]) == 1
    assert pred.answer == "5" and pred.confidence is None


def test_cot_appends_the_instruction_and_reads_the_answer_line() -> None:
    seen = []

    def script(round_, req):
        seen.append(req)
        return "2 plus 3 makes 5, not 6.\nAnswer: 5"

    pred, _ = _play(make_variant("cot", {"answer_prefix": "Answer:"}), _item(), script)
    assert "step by step" in seen[0].messages[-1].content and "Answer:" in seen[0].messages[-1].content
    assert seen[0].params.max_new_tokens >= 160
    assert pred.answer == "5" and pred.reasoning == "2 plus 3 makes 5, not 6."


def test_self_consistency_votes_and_keeps_agreement_and_maj_at_k() -> None:
    outputs = ["5", "6", "6", "5", "5"]
    variant = make_variant("self_consistency", {"samples": 5, "temperature": 0.9})
    pred, history = _play(variant, _item(), lambda r, req: f"It is {outputs[req.sample_index]}")
    reqs = variant.requests(_item(), [])
    assert [r.sample_index for r in reqs] == [0, 1, 2, 3, 4]
    assert all(r.params.temperature == 0.9 for r in reqs)
    assert pred.answer == "5" and pred.confidence == pytest.approx(0.6)
    assert pred.details["maj_at_k"] == ["5", "5", "6", "5", "5"]
    assert pred.details["votes"] == {"5": 3, "6": 2}


def test_self_consistency_on_top_of_cot() -> None:
    outputs = ["so\nAnswer: 5", "hmm\nAnswer: 4", "thus\nAnswer: 4"]
    variant = make_variant("self_consistency", {"samples": 3, "base": "cot"})
    pred, _ = _play(variant, _item(), lambda r, req: outputs[req.sample_index])
    assert pred.answer == "4" and pred.reasoning == "hmm"


def test_judge_shows_shuffled_candidates_and_maps_the_pick_back() -> None:
    variant = make_variant("judge", {"samples": 3})
    item = _item()
    candidates = ["It is 4", "It is 5", "It is 9"]
    order = variant.order(item)
    assert sorted(order) == [0, 1, 2] and order == variant.order(item)  # shuffled, reproducibly
    shown_pos = order.index(1) + 1  # where candidate "It is 5" is shown

    def script(round_, req):
        if round_ == 0:
            return candidates[req.sample_index]
        listing = req.messages[-1].content
        assert f"{shown_pos}. It is 5" in listing
        return f"{shown_pos}\nIt is the correct sum."

    pred, history = _play(variant, item, script)
    assert len(history) == 2
    assert pred.answer == "5" and pred.details["pick"] == 1
    assert "correct sum" in pred.details["judge_output"]


def test_judge_that_names_no_candidate_falls_back_to_the_vote() -> None:
    variant = make_variant("judge", {"samples": 3})
    outputs = ["It is 7", "It is 7", "It is 8"]
    pred, _ = _play(variant, _item(), lambda r, req: outputs[req.sample_index] if r == 0 else "all good")
    assert pred.answer == "7" and "judge_fallback" in pred.details


def test_variant_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="did you mean samples"):
        make_variant("self_consistency", {"sample": 5})
    with pytest.raises(ConfigError, match="temperature"):
        make_variant("self_consistency", {"temperature": 0})
    with pytest.raises(ConfigError, match="did you mean self_consistency"):
        make_variant("self_consistancy")
