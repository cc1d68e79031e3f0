"""Variants and answer extraction with scripted outputs whose votes and picks are known in advance."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from promptarena.errors import ConfigError
from promptarena.extract import extract_answer
from promptarena.metrics import get_metric
from promptarena.promptfile import AnswerSpec
from promptarena.suite import load_suite
from promptarena.types import Case, Generation, GenParams, Message, Prediction
from promptarena.variants import Item, majority, make_variant, variants
from tests.support.cli import cli, exited
from tests.support.repos import qa_repo


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


@pytest.mark.parametrize(
    ("answers", "won"),
    [
        (["-21", "21", "21"], (1, 2)),
        (["1,000", "1000", "-1000"], (0, 2)),
        (["3.5", "35", "3.50"], (0, 2)),
        (["\u22123", "-3", "3"], (0, 2)),
        (["!!!", "???", "???"], (1, 2)),
    ],
)
def test_majority_counts_numbers_by_value(answers: list[str], won: tuple[int, int]) -> None:
    assert majority(answers) == won


def test_votes_and_exact_match_agree_on_what_is_the_same_answer() -> None:
    pairs = [("-21", "21"), ("1,000", "1000"), ("3.5", "35"), ("The Paris.", "paris"), ("!!!", "???"), (".5", "0.5")]
    metric = get_metric("exact_match")
    for a, b in pairs:
        same_vote = majority([a, b]) == (0, 2)
        scored = metric.score([Prediction(a, a)], [Case("c", {}, (b,))], {})[0]
        assert same_vote == (scored == 1.0), (a, b)


def test_an_unextractable_answer_is_empty_and_the_run_goes_on() -> None:
    item = _item("regex", pattern=r"(\d+)|none")
    pred, _ = _play(make_variant("plain"), item, lambda r, req: "none")
    assert pred.answer == "" and pred.output == "none"


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


def test_cot_reads_the_last_answer_outside_parentheses() -> None:
    cot = make_variant("cot")
    text = "2 plus 3.\nAnswer: 5\n(Note: a wrong answer: 4 would miss the carry)"
    assert cot.split(_item(), text) == ("5", "2 plus 3.")


def test_cot_with_last_number_passes_over_a_parenthetical_after_the_answer() -> None:
    cot = make_variant("cot")
    text = "Four boxes of six eggs.\nAnswer: 24 (4 boxes of 6 eggs)"
    assert cot.split(_item("last_number"), text) == ("24", "Four boxes of six eggs.")


def test_cot_prefix_is_found_in_any_case_without_shifting_the_text() -> None:
    # "İ" lower-cases to two characters: a search in text.lower() would slice the original one off.
    cot = make_variant("cot")
    assert cot.split(_item(), "İİİ so it is ANSWER: 5") == ("5", "İİİ so it is")
    assert cot.split(_item("text"), "İİ answer: Paris\nmore") == ("Paris", "İİ")


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


JSON_FORMAT = '{"type":"json_schema","json_schema":{"name":"sum","schema":{"type":"object"}}}'


def _json_item() -> Item:
    item = _item("json_field", field="sum")
    return dataclasses.replace(item, params=GenParams(max_new_tokens=32, response_format=JSON_FORMAT))


def test_cot_on_a_prompt_with_a_response_format_reasons_freely_then_answers_in_the_format() -> None:
    seen: list = []

    def script(round_, req):
        seen.append(req)
        return "2 plus 3 makes 5.\nAnswer: 5" if round_ == 0 else '{"sum": 5}'

    pred, history = _play(make_variant("cot"), _json_item(), script)
    thinking, formatting = seen
    assert thinking.params.response_format is None and thinking.params.max_new_tokens >= 160  # room, free text
    assert formatting.params == _json_item().params  # the prompt's own: constrained, its own length
    assert [m.role for m in formatting.messages[-3:]] == ["user", "assistant", "user"]
    assert formatting.messages[-2].content == "2 plus 3 makes 5.\nAnswer: 5"
    assert (pred.output, pred.answer, pred.reasoning) == ('{"sum": 5}', "5", "2 plus 3 makes 5.\nAnswer: 5")
    assert len(history) == 2 and pred.generations == (history[0][0], history[1][0])


def test_sampled_variants_on_cot_format_each_samples_answer_before_voting_or_judging() -> None:
    thoughts = ["so\nAnswer: 5", "hmm\nAnswer: 4", "thus\nAnswer: 4"]

    def script(round_, req):
        if round_ == 0:
            return thoughts[req.sample_index]
        if round_ == 1:
            assert req.params.response_format == JSON_FORMAT and req.params.temperature == 0.0
            return json.dumps({"sum": int(req.messages[-2].content[-1])})
        assert '{"sum": 5}' in req.messages[-1].content  # the judge is shown the answers in the format
        return f"{variant.order(_json_item()).index(0) + 1}"  # and picks the first sample

    variant = make_variant("self_consistency", {"samples": 3, "base": "cot"})
    pred, history = _play(variant, _json_item(), script)
    assert len(history) == 2 and (pred.output, pred.answer, pred.reasoning) == ('{"sum": 4}', "4", "hmm\nAnswer: 4")
    assert len(pred.generations) == 6
    variant = make_variant("judge", {"samples": 3, "base": "cot"})
    pred, history = _play(variant, _json_item(), script)
    assert len(history) == 3 and (pred.output, pred.answer, pred.details["pick"]) == ('{"sum": 5}', "5", 0)
    assert len(pred.generations) == 7


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


def test_judge_confidence_describes_the_answer_it_picked() -> None:
    variant = make_variant("judge", {"samples": 5})
    item = _item()
    candidates = ["It is 4", "It is 4", "It is 4", "It is 5", "It is 5.0"]
    shown_pos = variant.order(item).index(3) + 1  # the judge picks "It is 5", against the majority's 4

    pred, _ = _play(variant, item, lambda r, req: candidates[req.sample_index] if r == 0 else f"{shown_pos}")
    assert pred.answer == "5" and pred.details["pick"] == 3
    assert pred.confidence == pytest.approx(2 / 5)  # "5" and "5.0" agree with the pick; the three 4s do not
    assert pred.details["votes"] == {"4": 3, "5": 2}
    assert "maj_at_k" not in pred.details  # the majority's maj@k would describe an answer not scored


def test_judge_that_picks_an_empty_answer_has_no_confidence_in_it() -> None:
    variant = make_variant("judge", {"samples": 3})
    item = _item()
    candidates = ["It is 4", "no idea", "no idea"]
    shown_pos = variant.order(item).index(1) + 1
    pred, _ = _play(variant, item, lambda r, req: candidates[req.sample_index] if r == 0 else f"{shown_pos}")
    assert pred.answer == "" and pred.confidence == 0.0


def test_judge_that_names_no_candidate_falls_back_to_the_vote() -> None:
    variant = make_variant("judge", {"samples": 3})
    outputs = ["It is 7", "It is 7", "It is 8"]
    pred, _ = _play(variant, _item(), lambda r, req: outputs[req.sample_index] if r == 0 else "all good")
    assert pred.answer == "7" and "judge_fallback" in pred.details
    assert pred.confidence == pytest.approx(2 / 3) and pred.details["maj_at_k"] == ["7", "7", "7"]


def test_variant_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="did you mean samples"):
        make_variant("self_consistency", {"sample": 5})
    with pytest.raises(ConfigError, match="temperature"):
        make_variant("self_consistency", {"temperature": 0})
    with pytest.raises(ConfigError, match="did you mean self_consistency"):
        make_variant("self_consistancy")


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("self_consistency", {"samples": 2.5}, r"option 'samples': input should be a valid integer \(got 2.5\)"),
        ("self_consistency", {"samples": True}, "option 'samples'"),
        ("self_consistency", {"samples": "5"}, "option 'samples'"),
        ("self_consistency", {"samples": 0}, "option 'samples': input should be greater than or equal to 1"),
        ("self_consistency", {"top_p": 1.5}, "option 'top_p'"),
        ("self_consistency", {"temperature": float("inf")}, "option 'temperature'"),
        ("self_consistency", {"base": "judge"}, "option 'base'"),
        ("cot", {"max_new_tokens": 2.5}, "option 'max_new_tokens'"),
        ("cot", {"answer_prefix": ""}, "option 'answer_prefix'"),
        ("cot", {"max_new_token": 200}, r"no option 'max_new_token' \(did you mean max_new_tokens\?\)"),
        ("judge", {"judge_max_new_tokens": -1}, "option 'judge_max_new_tokens'"),
        ("plain", {"samples": 3}, "has no option 'samples'; options: none"),
        ("judge", ["samples"], "must be a mapping"),
    ],
)
def test_variant_options_are_strict(name: str, options: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        variants.get(name).validate_options(options)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=message):
        make_variant(name, options)  # type: ignore[arg-type]


def test_validate_options_fills_in_the_defaults() -> None:
    assert variants.get("self_consistency").validate_options({"samples": 3, "temperature": 1}) == {
        "samples": 3,
        "temperature": 1.0,
        "top_p": 1.0,
        "base": "plain",
    }
    assert variants.get("plain").validate_options(None) == {}


def test_suite_loader_names_the_place_of_a_bad_variant_option(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "prompt: qa\nmetrics: [exact_match]\ncases:\n  - {id: a}\nvariants:\n  - plain\n"
        "  - self_consistency: {samples: 2.5}\n"
    )
    with pytest.raises(ConfigError, match=r"s\.yaml:7: variants\[1\]: variant 'self_consistency': option 'samples'"):
        load_suite(path)


def test_evals_run_exits_2_on_a_bad_variant_option(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo", variants=[{"cot": {"max_new_tokens": 2.5}}])
    err = exited(cli("run", "--repo", str(repo.root)), 2)
    assert "evals/qa.yaml:" in err and "max_new_tokens" in err
