"""The rubric judge: reading verdicts, weighing them by log-probabilities (G-Eval), grading suites through the
cache with the fake backend, bad input before any model call, and graders on the embedded model and on
llama.cpp's OpenAI-compatible server."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptarena.backends.fake import FakeBackend
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.judge import DEFAULT_PROMPT, Verdict, read_verdict, scale_of, weigh
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from promptarena.types import TokenLogprobs
from tests.support.cli import cli, exited
from tests.support.git import GitRepo
from tests.support.llama_server import MODEL_ALIAS, LlamaServer
from tests.support.repos import COUNTRIES, edit_suite, qa_repo, results_db
from tests.test_imports import _evals_importing

PASS_FAIL = scale_of("pass_fail")
ONE_TO_FIVE = scale_of("1-5")
RUBRIC = "The reply names the capital of {{ country }}."

# Version 1 answers every capital right; version 2 answers half with "I do not know" (tests/support/repos.py).
ANSWERS = {f"Capital of {c}?": city for c, city in COUNTRIES.items()}
ANSWERS.update(
    {f"capital city of {c}.": city if i % 2 else "I do not know" for i, (c, city) in enumerate(COUNTRIES.items())}
)
# The grader's verdicts, found by the output inside its prompt: one cannot be read.
VERDICTS = {
    "Response:\nI do not know": "VERDICT: FAIL\nREASON: It names no city.",
    "Response:\nLima": "Hmm, that is hard to say.",
    "Response:\n": "VERDICT: PASS\nREASON: It names the capital.",
}


def judge_repo(root: Path, metric: dict[str, Any] | None = None, **fields: Any) -> GitRepo:
    """The two-version capitals repository whose suite grades with a rubric on the fake backend."""
    entry = metric or {"rubric": RUBRIC, "name": "names_capital"}
    return qa_repo(root, responses={**ANSWERS, **VERDICTS}, metrics=["exact_match", entry], **fields)


def run_json(repo: GitRepo) -> dict[str, Any]:
    """``evals run --json`` in the repository, which must exit 0."""
    out = cli("run", "--repo", str(repo.root), "--json")
    exited(out, 0)
    return json.loads(out.stdout)


def tokens(*steps: tuple[str, dict[str, float]]) -> tuple[TokenLogprobs, ...]:
    """Tokens with the probabilities of their top alternatives (the token itself among them)."""
    return tuple(
        TokenLogprobs(t, math.log(top[t]), tuple((a, math.log(p)) for a, p in top.items())) for t, top in steps
    )


# --- reading a verdict -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label", "reason"),
    [
        ("VERDICT: PASS\nREASON: It is polite.", "pass", "It is polite."),
        ("verdict: fail\nreason: rude", "fail", "rude"),
        ("**Verdict:** Fail - it is rude", "fail", "it is rude"),
        ("The reply thanks the customer.\nVerdict: passed", "pass", "The reply thanks the customer."),
        ("PASS. The reply is polite.", "pass", "The reply is polite."),
        ("VERDICT: PASS", "pass", None),
    ],
)
def test_a_pass_fail_verdict_is_read_case_insensitively_with_its_reason(text: str, label: str, reason: str) -> None:
    verdict = read_verdict(text, PASS_FAIL)
    assert verdict == Verdict(label, verdict.offset, reason) and text[verdict.offset :].lower().startswith(label)


@pytest.mark.parametrize(
    ("text", "label"),
    [("SCORE: 4\nREASON: close", "4"), ("Score: 4/5", "4"), ("Scores: 2", "2"), ("5 - it meets the rubric", "5")],
)
def test_a_score_is_read_on_its_scale(text: str, label: str) -> None:
    verdict = read_verdict(text, ONE_TO_FIVE)
    assert verdict is not None and verdict.label == label and text[verdict.offset] == label


@pytest.mark.parametrize(
    ("text", "scale"),
    [
        ("Hmm, that is hard to say.", PASS_FAIL),
        ("The reply is polite.", PASS_FAIL),
        ("VERDICT: MAYBE", PASS_FAIL),
        ("SCORE: 4.5", ONE_TO_FIVE),
        ("SCORE: 7", ONE_TO_FIVE),
        ("The answer is 5", ONE_TO_FIVE),
        ("", ONE_TO_FIVE),
    ],
)
def test_a_verdict_off_the_scale_is_not_read(text: str, scale: Any) -> None:
    assert read_verdict(text, scale) is None


def test_scales_map_onto_zero_to_one() -> None:
    assert ONE_TO_FIVE.labels == ("1", "2", "3", "4", "5")
    assert ONE_TO_FIVE.values == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert scale_of("1-3").values == (0.0, 0.5, 1.0)
    assert PASS_FAIL.value("pass") == 1.0 and PASS_FAIL.value("fail") == 0.0
    with pytest.raises(ValueError, match="unknown scale '1-10'"):
        scale_of("1-10")


# --- G-Eval: the verdict weighed by its token's probabilities ---------------------------------------------------


def test_a_score_is_the_probability_weighted_mean_over_the_scale_renormalized() -> None:
    text = "SCORE: 4\nREASON: close"
    logprobs = tokens(
        ("SCORE", {"SCORE": 1.0}),
        (":", {":": 1.0}),
        (" 4", {" 4": 0.5, " 5": 0.3, " 3": 0.1, " A": 0.1}),
        ("\nREASON: close", {"\nREASON: close": 1.0}),
    )
    verdict = read_verdict(text, ONE_TO_FIVE)
    # (0.5 * 0.75 + 0.3 * 1.0 + 0.1 * 0.5) / (0.5 + 0.3 + 0.1): " A" is no score and leaves the mean
    assert weigh(logprobs, text, verdict, ONE_TO_FIVE) == pytest.approx(0.725 / 0.9)


def test_pass_fail_weighs_the_labels_first_tokens_after_the_same_lead() -> None:
    text = "VERDICT: PASS"
    logprobs = tokens(
        ("VER", {"VER": 1.0}),
        ("DICT", {"DICT": 1.0}),
        (": P", {": P": 0.6, ": F": 0.2, ":": 0.1, " FAIL": 0.1}),  # only ": ..." continues the same text
        ("ASS", {"ASS": 1.0}),
    )
    assert weigh(logprobs, text, read_verdict(text, PASS_FAIL), PASS_FAIL) == pytest.approx(0.6 / 0.8)


def test_tokens_that_do_not_spell_the_verdict_weigh_nothing() -> None:
    text = "VERDICT: PASS"
    verdict = read_verdict(text, PASS_FAIL)
    other = tokens(("VERDICT:", {"VERDICT:": 1.0}), (" FAIL", {" FAIL": 0.7, " PASS": 0.3}))
    assert weigh(other, text, verdict, PASS_FAIL) is None  # the text says PASS where the tokens say FAIL
    assert weigh(other[:1], text, verdict, PASS_FAIL) is None  # the tokens stop before the verdict


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"logprobs": None}, None),
        ({}, None),
        ({"logprobs": {"content": "?"}}, None),
        ({"logprobs": {"content": [{"token": "A", "logprob": -0.1}]}}, None),  # no top_logprobs
        (
            {
                "logprobs": {
                    "content": [{"token": "A", "logprob": -0.1, "top_logprobs": [{"token": "A", "logprob": -0.1}]}]
                }
            },
            (TokenLogprobs("A", -0.1, (("A", -0.1),)),),
        ),
    ],
)
def test_a_servers_log_probabilities_are_read_only_in_the_openai_shape(choice: dict[str, Any], expected: Any) -> None:
    from promptarena.backends.openai._responses import logprobs_of

    assert logprobs_of(choice) == expected


# --- grading a suite with the fake backend ----------------------------------------------------------------


def test_a_suite_is_graded_with_reasons_and_an_unreadable_verdict_is_counted_not_zero(tmp_path: Path) -> None:
    repo = judge_repo(tmp_path / "repo")
    (suite,) = run_json(repo)["suites"]
    v2, v1 = suite["arms"]  # newest first
    # version 2: three capitals and three "I do not know", all read
    assert v2["metrics"]["names_capital"]["mean"] == pytest.approx(0.5) and v2["metrics"]["names_capital"]["n"] == 6
    assert v2["errors"]["names_capital"] == 0
    # version 1: every capital right, but Lima's verdict cannot be read: five graded, one counted apart
    assert v1["metrics"]["names_capital"]["mean"] == 1.0 and v1["metrics"]["names_capital"]["n"] == 5
    assert v1["errors"]["names_capital"] == 1
    table = cli("run", "--repo", str(repo.root))
    assert "· 1 error" in " ".join(table.stdout.split())

    compared = cli("compare", "qa", "HEAD~1", "HEAD", "--repo", str(repo.root), "--json")
    exited(compared, 0)
    cases = {c["case_id"]: c for c in json.loads(compared.stdout)["cases"]}
    head, prev = repo.rev_parse("HEAD")[:7], repo.rev_parse("HEAD~1")[:7]
    france = cases["france"]
    assert france["reasons"][f"{head}:plain"]["names_capital"] == "It names no city."
    assert france["reasons"][f"{prev}:plain"]["names_capital"] == "It names the capital."
    peru = cases["peru"]
    assert peru["scores"][f"{prev}:plain"]["names_capital"] is None
    assert peru["errors"][f"{prev}:plain"]["names_capital"] == (
        "the grader's verdict could not be read: 'Hmm, that is hard to say.'"
    )


@pytest.fixture()
def engine(tmp_path: Path):
    """Run the judged suite through the engine with one scripted fake serving the arms and the grader."""
    repo = judge_repo(tmp_path / "repo")
    results = ResultsStore(tmp_path / "results.db")
    stores: list[PromptStore] = []

    def run(**options: Any) -> tuple[Any, FakeBackend]:
        store = PromptStore(repo.root)
        stores.append(store)
        suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
        backend = FakeBackend(responses={**ANSWERS, **VERDICTS}, **options)
        return run_suite(suite, store, results, backend=backend), backend

    yield repo, run
    results.close()
    for store in stores:
        store.close()


def grading(backend: FakeBackend) -> list[str]:
    """The grader prompts the fake was asked (the arms' prompts have no rubric)."""
    return [r.messages[-1].content for r in backend.history if "Rubric:" in r.messages[-1].content]


def test_grades_are_cached_and_a_changed_grader_prompt_regrades(engine) -> None:
    repo, run = engine
    first, backend = run()
    assert len(grading(backend)) == len(COUNTRIES) + 3  # the answers both versions give alike are graded once
    assert any("Rubric: The reply names the capital of France.\n" in p for p in grading(backend))

    again, backend = run()
    assert backend.history == []  # the arms from the generation cache, the grades from the score cache
    assert [a.scores["names_capital"] for a in again.arms] == [a.scores["names_capital"] for a in first.arms]

    # the team's own grader prompt in prompts/: a new blob, so every output is graded again, and nothing else
    default = (Path(__file__).parents[1] / "src/promptarena/data/rubric_judge.prompt").read_text()
    repo.write(f"prompts/{DEFAULT_PROMPT}.prompt", default.replace("strict and fair", "careful"))
    _, backend = run()
    assert len(grading(backend)) == len(backend.history) == len(COUNTRIES) + 3
    assert "You are a careful grader" in backend.history[0].messages[0].content


def test_a_baseline_run_grades_again_when_only_the_grader_prompt_changed(tmp_path: Path) -> None:
    repo = judge_repo(tmp_path / "repo")

    def baseline() -> dict[str, Any]:
        out = cli("run", "--repo", str(repo.root), "--json", "--baseline", "HEAD")
        exited(out, 0)
        return json.loads(out.stdout)["suites"][0]

    assert baseline()["skipped"] == "unchanged since HEAD"
    default = (Path(__file__).parents[1] / "src/promptarena/data/rubric_judge.prompt").read_text()
    repo.write(f"prompts/{DEFAULT_PROMPT}.prompt", default.replace("strict and fair", "careful"))  # a new file
    assert baseline()["skipped"] is None
    repo.commit("qa: our own grader prompt")
    assert baseline()["skipped"] == "unchanged since HEAD"
    repo.write(f"prompts/{DEFAULT_PROMPT}.prompt", default.replace("strict and fair", "kind"))  # an edited one
    assert baseline()["skipped"] is None


def test_an_unreadable_verdict_is_read_again_from_the_cached_generation(engine) -> None:
    _, run = engine
    run()
    again, backend = run()
    assert backend.history == []  # errors are not cached as scores, but the grader's text is
    assert sum(a.errors.get("names_capital", 0) for a in again.arms) == 1


def test_a_case_rubric_is_added_to_the_suites_and_keys_its_grade(tmp_path: Path) -> None:
    repo = judge_repo(
        tmp_path / "repo", cases=[{"id": "fr", "vars": {"country": "France"}, "rubric": "It is one word."}]
    )
    backend = FakeBackend(responses={**ANSWERS, **VERDICTS})
    with PromptStore(repo.root) as store, ResultsStore(tmp_path / "results.db") as results:
        suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
        run_suite(suite, store, results, backend=backend)
        assert len(grading(backend)) == 2  # Paris, and "I do not know"
        assert all("Rubric: The reply names the capital of France.\nIt is one word." in p for p in grading(backend))
        doc = yaml.safe_load((repo.root / "evals/qa.yaml").read_text())
        doc["cases"][0]["rubric"] = "It is two words."
        repo.write("evals/qa.yaml", yaml.safe_dump(doc, sort_keys=False))
        backend = FakeBackend(responses={**ANSWERS, **VERDICTS})
        run_suite(load_suite(repo.root / "evals" / "qa.yaml", repo.root), store, results, backend=backend)
        assert len(grading(backend)) == 2 and "It is two words." in grading(backend)[0]


def test_a_case_files_rubric_column_is_each_rows_rubric_not_a_variable(tmp_path: Path) -> None:
    repo = judge_repo(tmp_path / "repo", {"rubric": None, "name": "row_rubric"}, versions=["HEAD~1"])
    repo.write("evals/cases/rows.csv", "id,country,answer,criteria\nfr,France,Paris,It names Paris.\njp,Japan,Tokyo,\n")
    edit_suite(repo, cases={"file": "cases/rows.csv", "reference": "answer", "rubric": "criteria"})
    backend = FakeBackend(responses={**ANSWERS, **VERDICTS})
    with PromptStore(repo.root) as store, ResultsStore(tmp_path / "results.db") as results:
        suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
        assert [c.vars for c in suite.cases] == [{"country": "France"}, {"country": "Japan"}]
        out = run_suite(suite, store, results, backend=backend)
    assert len(grading(backend)) == 1 and "Rubric: It names Paris." in grading(backend)[0]
    assert out.arms[0].scores["row_rubric"] == [1.0, None]  # the row without a rubric is not applicable

    edit_suite(repo, cases={"file": "cases/rows.csv", "reference": "answer", "rubric": "critera"})
    err = _refused(repo)
    assert "no column 'critera' (did you mean criteria?), which cases.rubric names (evals/qa.yaml:" in err, err


def test_a_rubric_of_the_cases_alone_grades_only_the_cases_that_bring_one(tmp_path: Path) -> None:
    cases = [{"id": "fr", "vars": {"country": "France"}, "rubric": "It names {{ country }}'s capital."}]
    cases.append({"id": "jp", "vars": {"country": "Japan"}})
    repo = judge_repo(tmp_path / "repo", {"rubric": None, "name": "case_rubric"}, cases=cases, versions=["HEAD~1"])
    ((arm,),) = [suite["arms"] for suite in run_json(repo)["suites"]]
    assert arm["metrics"]["case_rubric"]["n"] == 1 and arm["errors"]["case_rubric"] == 0


def test_log_probabilities_weigh_the_verdict_where_the_backend_returns_them(tmp_path: Path) -> None:
    verdicts = {"Response:\n": "SCORE: 4\nREASON: Close enough."}
    logprobs = {"4": {"4": math.log(0.5), "2": math.log(0.4), "5": math.log(0.1)}}
    model = {"backend": "fake", "responses": {**ANSWERS, **verdicts}, "logprobs": logprobs}
    entry = {"rubric": RUBRIC, "name": "capital", "scale": "1-5"}
    repo = qa_repo(tmp_path / "repo", metrics=[entry], versions=["HEAD~1"])
    edit_suite(repo, model=model)
    ((arm,),) = [suite["arms"] for suite in run_json(repo)["suites"]]
    assert arm["metrics"]["capital"]["mean"] == pytest.approx(0.5 * 0.75 + 0.4 * 0.25 + 0.1 * 1.0)
    stored = sqlite3.connect(results_db(repo)).execute("SELECT logprobs FROM generations WHERE logprobs IS NOT NULL")
    rows = [json.loads(r[0]) for r in stored]
    assert len(rows) == len(COUNTRIES) and rows[0][1][0] == " 4"  # ["SCORE:", " 4", ...], each with its top

    # the grades again from the stored generations alone: their log-probabilities come back with them
    with sqlite3.connect(results_db(repo)) as con:
        con.execute("DELETE FROM scores")
    (again,) = run_json(repo)["suites"]
    assert again["generated"] == 0 and again["arms"][0]["metrics"]["capital"]["mean"] == pytest.approx(0.575)

    # without log-probabilities (logprobs: false) the same verdicts are read: 4 on 1-5 is 0.75
    (repo.root / "evals/qa.yaml").write_text(
        (repo.root / "evals/qa.yaml").read_text().replace("scale: 1-5", "scale: 1-5\n  logprobs: false")
    )
    ((arm,),) = [suite["arms"] for suite in run_json(repo)["suites"]]
    assert arm["metrics"]["capital"]["mean"] == pytest.approx(0.75)


def test_pass_fail_is_binary_unless_it_is_weighed(tmp_path: Path) -> None:
    repo = judge_repo(tmp_path / "repo")
    suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
    assert suite.metric("names_capital").kind == "binary"
    weighed = judge_repo(tmp_path / "weighed", {"rubric": RUBRIC, "name": "p", "logprobs": True})
    assert load_suite(weighed.root / "evals" / "qa.yaml", weighed.root).metric("p").kind == "continuous"
    scaled = judge_repo(tmp_path / "scaled", {"rubric": RUBRIC, "name": "s", "scale": "1-5"})
    assert load_suite(scaled.root / "evals" / "qa.yaml", scaled.root).metric("s").kind == "continuous"


def test_the_grader_may_be_another_model_than_the_arms(tmp_path: Path) -> None:
    grader = {"backend": "fake", "model": "grader", "default": "VERDICT: FAIL\nREASON: The grader says no."}
    repo = judge_repo(tmp_path / "repo", {"rubric": RUBRIC, "name": "graded", "grader": grader}, versions=["HEAD~1"])
    ((arm,),) = [suite["arms"] for suite in run_json(repo)["suites"]]
    assert arm["metrics"]["graded"]["mean"] == 0.0
    assert arm["metrics"]["exact_match"]["mean"] == 1.0  # the arms' own fake answered the arms
    models = {m for (m,) in sqlite3.connect(results_db(repo)).execute("SELECT model FROM generations")}
    assert any(m.startswith("fake:grader:") for m in models) and any(m.startswith("fake:fake:") for m in models)


def test_the_case_explorer_shows_the_graders_reason_and_an_unreadable_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.support.workbench import APP, point_app_at

    repo = judge_repo(tmp_path / "repo", versions=["HEAD~1"])
    run_json(repo)
    point_app_at(monkeypatch, repo.root, results_db(repo))
    at = AppTest.from_file(str(APP / "Overview.py"), default_timeout=60)
    at.switch_page("pages/3_Case_explorer.py")
    at.query_params.update({"explorer_case": "france"})
    at.run()
    assert not at.exception and not at.error
    (why,) = [d.value for d in at.dataframe if "why" in d.value.columns]
    assert why.to_dict("records") == [{"metric": "names_capital", "score": "1.000", "why": "It names the capital."}]
    at.selectbox(key="explorer_case").select("peru").run()
    assert not at.exception and not at.error
    assert "Scoring failed here on names_capital: the case is not counted in that mean." in [
        c.value for c in at.caption
    ]
    (why,) = [d.value for d in at.dataframe if "why" in d.value.columns]
    assert why["why"].tolist() == ["the grader's verdict could not be read: 'Hmm, that is hard to say.'"]


# --- bad input: exit 2 before any model call ------------------------------------------------------------------


def _refused(repo: GitRepo) -> str:
    err = exited(cli("run", "--repo", str(repo.root)), 2)
    assert not results_db(repo).exists()  # nothing generated, nothing written
    return err


def test_a_rubric_variable_that_a_case_lacks_is_exit_2_naming_the_suite_line_and_the_case(tmp_path: Path) -> None:
    repo = judge_repo(tmp_path / "repo", {"rubric": "It answers {{ question }}.", "name": "answers"})
    assert _refused(repo) == (
        "error: evals/qa.yaml:5: metrics[1]: the rubric uses the variable 'question', which case 'france' "
        "(evals/cases/qa.jsonl:1) does not have; add it to that case's vars or take it out of the rubric."
    )


def test_a_case_rubric_variable_that_the_case_lacks_is_exit_2_naming_the_case(tmp_path: Path) -> None:
    cases = [{"id": "fr", "vars": {"country": "France"}, "rubric": "It names {{ city }}."}]
    repo = judge_repo(tmp_path / "repo", cases=cases)
    err = _refused(repo)
    assert err.startswith("error: evals/qa.yaml:3: the rubric of case 'fr' uses the variable 'city'"), err


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"scale": "1-10"}, "metrics[1]: scale: unknown scale '1-10'; use pass_fail, or 1-N"),
        ({"grader": {"backend": "fake", "modle": "x"}}, "metrics[1]: grader: model.modle: unknown option"),
        ({"grader": {"backend": "fakr"}}, "metrics[1]: grader: unknown backend 'fakr' (did you mean fake?)"),
        ({"scael": "1-5"}, "metrics[1]: scael: a rubric metric has no such key (did you mean scale?)"),
        ({"prompt": "strict_judge"}, "metrics[1]: prompt: there is no grader prompt prompts/strict_judge.prompt"),
        ({"rubric": "It is {{ broken"}, "metrics[1]: rubric: the rubric is not a valid template"),
    ],
)
def test_a_bad_rubric_entry_is_exit_2_naming_the_key(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    repo = judge_repo(tmp_path / "repo", {"rubric": RUBRIC, **entry})
    err = _refused(repo)
    assert err.startswith("error: evals/qa.yaml:5: ") and message in err, err


def test_a_rubric_entry_that_does_not_start_with_rubric_says_so(tmp_path: Path) -> None:
    repo = judge_repo(tmp_path / "repo")
    path = repo.root / "evals/qa.yaml"
    path.write_text(path.read_text().replace("- rubric: The reply", "- scale: pass_fail\n  rubric: The reply"))
    err = _refused(repo)
    assert "start the entry with `rubric:`, the kind of metric it builds" in err, err


def test_a_grader_prompt_that_asks_for_a_variable_it_does_not_get_is_exit_2(tmp_path: Path) -> None:
    repo = judge_repo(tmp_path / "repo")
    repo.write(
        "prompts/rubric_judge.prompt",
        "---\nvariables: [rubric, output, country]\n---\nuser:\n{{ rubric }} {{ output }} {{ country }}\n",
    )
    err = _refused(repo)
    assert (
        "prompts/rubric_judge.prompt: the grader prompt declares 'country', which a grader prompt does not get" in err
    )


def test_a_grader_prompt_that_reads_a_missing_case_variable_is_exit_2_naming_the_case(tmp_path: Path) -> None:
    repo = judge_repo(tmp_path / "repo")
    repo.write(
        "prompts/rubric_judge.prompt", "---\nvariables: [rubric, vars]\n---\nuser:\n{{ rubric }} {{ vars.city }}\n"
    )
    err = _refused(repo)
    assert err.startswith("error: evals/qa.yaml:5: metrics[1]: prompts/rubric_judge.prompt: rendering prompt") and (
        "for case 'france'" in err
    ), err


# --- the packaged default ------------------------------------------------------------------------------------


def test_the_default_grader_prompt_ships_in_the_package() -> None:
    from importlib import resources

    text = resources.files("promptarena.data").joinpath("rubric_judge.prompt").read_text(encoding="utf-8")
    assert "VERDICT: PASS or FAIL" in text
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert '"promptarena.data" = ["*.tsv", "*.txt", "*.prompt"]' in pyproject


def test_the_fake_backend_example_of_the_docs_grades_as_it_says(tmp_path: Path) -> None:
    doc = (Path(__file__).parents[1] / "docs" / "judges.md").read_text(encoding="utf-8")
    snippet = yaml.safe_load(doc.rsplit("```yaml\n", 1)[1].split("```")[0])
    repo = qa_repo(tmp_path / "repo", versions=["HEAD~1"], cases=[{"id": "fr", "vars": {"country": "France"}}])
    edit_suite(repo, **snippet)
    ((arm,),) = [suite["arms"] for suite in run_json(repo)["suites"]]
    p5, p4 = math.exp(-0.1), math.exp(-2.4)
    assert arm["metrics"]["names_capital"]["n"] == 1 and arm["errors"]["names_capital"] == 0
    assert arm["metrics"]["names_capital"]["mean"] == pytest.approx((p5 * 1.0 + p4 * 0.75) / (p5 + p4))


# --- real graders: the embedded model, and llama.cpp's server ------------------------------------------------


def _graded_by(repo: GitRepo, grader: dict[str, Any], scale: str) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """The suite's run graded on ``scale`` by ``grader``, and the grader's generations: (text, its logprobs)."""
    entry = {"rubric": RUBRIC, "name": "graded", "scale": scale, "grader": grader}
    path = repo.root / "evals/qa.yaml"
    doc = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**doc, "metrics": ["exact_match", entry]}, sort_keys=False))
    (suite,) = run_json(repo)["suites"]
    con = sqlite3.connect(results_db(repo))
    rows = con.execute("SELECT text, logprobs FROM generations WHERE model NOT LIKE 'fake:%'").fetchall()
    con.close()
    return suite, [(text, json.loads(lp) if lp else None) for text, lp in rows]


def _check_grades(suite: dict[str, Any], generations: list[tuple[str, Any]], cases: int) -> None:
    """Every case is graded on the scale or counted as unreadable; a 135M grader's quality is not asserted."""
    (arm,) = suite["arms"]
    graded, failed = arm["metrics"]["graded"]["n"], arm["errors"]["graded"]
    assert graded + failed == cases and len(generations) == cases
    if graded:
        assert 0.0 <= arm["metrics"]["graded"]["mean"] <= 1.0


@pytest.mark.model
def test_the_embedded_model_grades_with_log_probabilities(tmp_path: Path) -> None:
    repo = judge_repo(tmp_path / "repo", versions=["HEAD~1"])
    suite, generations = _graded_by(repo, {"backend": "transformers", "model": "default"}, "1-5")
    _check_grades(suite, generations, len(COUNTRIES))
    # a rerun grades nothing, and neither loads the grader nor imports torch
    code, output, imported = _evals_importing(["run"], repo.root, ("torch", "transformers"))
    assert code == 0 and "0 generated, 6 from cache" in output and imported == []
    for text, steps in generations:  # the transformers backend keeps every step's top tokens, spelling the text
        assert steps and all(len(top) == 20 and top[0][1] >= top[-1][1] for _, _, top in steps)
        assert all(lp <= 0 and abs(lp - top[0][1]) < 1e-3 for _, lp, top in steps)  # greedy: each token the top one
        assert text.startswith("".join(token for token, _, _ in steps)[:20].strip())


@pytest.mark.server
def test_a_served_model_grades_through_the_openai_backend(tmp_path: Path, llama_server: LlamaServer) -> None:
    repo = judge_repo(tmp_path / "repo", versions=["HEAD~1"])
    grader = {"backend": "openai", "base_url": llama_server.base_url, "model": MODEL_ALIAS}
    suite, generations = _graded_by(repo, grader, "pass_fail")
    _check_grades(suite, generations, len(COUNTRIES))
    assert all(steps is None for _, steps in generations)  # pass/fail is read, not weighed: none asked for
    suite, generations = _graded_by(repo, grader, "1-5")
    weighed = [g for g in generations if g[1] is not None]
    assert len(weighed) == len(COUNTRIES)  # llama.cpp's server returns the top log-probabilities asked for
    _check_grades(suite, weighed, len(COUNTRIES))
