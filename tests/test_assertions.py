"""Per-case assertions (`assert:`) end to end: each type on hand-worked outputs, weights, the suite's list beside the
case's, metric entries as assertions, the score cache, bad input, and what `--json`, compare and the workbench say.

The prompt says a case's `out` variable and the fake backend echoes it back, so each output is written by hand.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptarena.engine import ArmResult, run_suite
from promptarena.errors import ConfigError
from promptarena.gitstore import PromptStore
from promptarena.metrics import FactoryContext, Metric, Score, get_metric, metric_factories, metrics
from promptarena.metrics.assertions import failed_assertions
from promptarena.store import ResultsStore
from promptarena.suite import Suite, load_suite
from tests.support.cli import cli, exited
from tests.support.git import GitRepo
from tests.support.repos import count_rows, qa_repo, results_db

ECHO = """---
description: says the case's text back (the fake backend echoes the user message)
variables:
  out: the text to say
parameters:
  max_new_tokens: 200
---
user:
{{ out }}
"""


def echo_repo(root: Path, cases: list[dict[str, Any]], **fields: Any) -> GitRepo:
    """A repository whose suite `echo` answers each case with its `out` variable, committed."""
    repo = GitRepo(root)
    repo.write("prompts/echo.prompt", ECHO)
    write_cases(repo, cases)
    doc = {"prompt": "echo", "cases": "cases/echo.jsonl", "model": {"backend": "fake"}, **fields}
    repo.write("evals/echo.yaml", yaml.safe_dump(doc, sort_keys=False))
    repo.commit("echo")
    return repo


def write_cases(repo: GitRepo, cases: list[dict[str, Any]]) -> None:
    repo.write("evals/cases/echo.jsonl", "".join(json.dumps(c) + "\n" for c in cases))


def evaluate(repo: GitRepo) -> tuple[Suite, ArmResult, dict[str, dict[str, Any]]]:
    """The suite run on the fake backend: its one arm, and each case's stored details."""
    suite = load_suite(repo.root / "evals" / "echo.yaml", repo.root)
    with PromptStore(repo.root) as store, ResultsStore(results_db(repo)) as results:
        arm = run_suite(suite, store, results).arms[0]
        details = {c.id: p.details for c, p in zip(suite.cases, arm.predictions, strict=True)}
    return suite, arm, details


def scores(suite: Suite, arm: ArmResult, metric: str = "assertions") -> dict[str, float | None]:
    return dict(zip((c.id for c in suite.cases), arm.scores[metric], strict=True))


def reason(details: dict[str, Any], metric: str = "assertions") -> str | None:
    return details.get("reasons", {}).get(metric)


# --- every type on hand-worked outputs -----------------------------------------------------------------------

# (name, assertion, an output that passes, one that fails, the failure's reason)
TYPES = [
    ("equals", {"type": "equals", "value": "Paris"}, "Paris", "Lyon", "expected 'Paris', got 'Lyon'"),
    ("contains", {"type": "contains", "value": "Paris"}, "It is Paris.", "It is paris.", "does not contain 'Paris'"),
    ("icontains", {"type": "icontains", "value": "paris"}, "PARIS!", "Lyon", "does not contain 'paris' in any case"),
    ("not_contains", {"type": "not_contains", "value": "sorry"}, "Here it is.", "I am sorry.", "contains 'sorry'"),
    (
        "starts_with",
        {"type": "starts_with", "value": "{"},
        '{"a": 1}',
        'Here: {"a": 1}',
        "starts with 'Here: {\"a\":', not '{'",
    ),
    ("regex", {"type": "regex", "value": "^[0-9]{3}$"}, "123", "12a", "no match for '^[0-9]{3}$' in '12a'"),
    (
        "is_json",
        {"type": "is_json"},
        '```json\n{"a": 1}\n```',
        "{a: 1}",
        "not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
    ),
    (
        "json_schema",
        {"type": "json_schema", "value": {"type": "object", "required": ["name"]}},
        '{"name": "x"}',
        '{"id": 1}',
        "$: 'name' is a required property",
    ),
    ("length max", {"type": "length", "max": 5}, "abcde", "abcdef", "6 characters, more than the max of 5"),
    ("length min", {"type": "length", "min": 3}, "abc", "ab", "2 characters, fewer than the min of 3"),
    (
        "metric",
        {"type": "metric", "value": "exact_match"},
        "The Paris",
        "Lyon",
        "exact_match scored 0, below the threshold 1",
    ),
    (
        "metric threshold",
        {"type": "metric", "value": "rougeL", "threshold": 0.5},
        "Paris in France",
        "Lyon",
        "rougeL scored 0, below the threshold 0.5",
    ),
]


@pytest.fixture(scope="module")
def typed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, float | None], dict[str, float | None], dict]:
    """One run over a passing and a failing output for every type: scores, all-passed scores, and details."""
    cases = []
    for name, entry, good, bad, _ in TYPES:
        for tag, out in (("pass", good), ("fail", bad)):
            cases.append({"id": f"{name}-{tag}", "vars": {"out": out}, "reference": "Paris", "assert": [entry]})
    repo = echo_repo(tmp_path_factory.mktemp("types") / "repo", cases)
    suite, arm, details = evaluate(repo)
    return scores(suite, arm), scores(suite, arm, "assertions_passed"), details


@pytest.mark.parametrize(("name", "entry", "good", "bad", "why"), TYPES, ids=[t[0] for t in TYPES])
def test_each_type_passes_and_fails_with_its_reason(typed, name, entry, good, bad, why) -> None:  # noqa: ANN001
    share, passed, details = typed
    assert (share[f"{name}-pass"], passed[f"{name}-pass"]) == (1.0, 1.0)
    assert reason(details[f"{name}-pass"]) is None
    assert (share[f"{name}-fail"], passed[f"{name}-fail"]) == (0.0, 0.0)
    assert reason(details[f"{name}-fail"]) == f"assert[0] {entry['type']}: {why}"


def test_weights_count_in_the_share_and_all_passed_is_binary(tmp_path: Path) -> None:
    checks = [
        {"type": "contains", "value": "a"},
        {"type": "contains", "value": "zzz", "weight": 2},
        {"type": "length", "max": 100, "weight": 3},
    ]
    repo = echo_repo(tmp_path / "repo", [{"id": "c", "vars": {"out": "a b c"}, "assert": checks}])
    suite, arm, details = evaluate(repo)
    assert scores(suite, arm) == {"c": pytest.approx(4 / 6)}
    assert scores(suite, arm, "assertions_passed") == {"c": 0.0}
    assert reason(details["c"]) == "assert[1] contains: does not contain 'zzz'"
    assert [s.name for s in suite.metrics] == ["assertions", "assertions_passed"]
    assert suite.metric("assertions").kind == "continuous" and suite.metric("assertions_passed").kind == "binary"


def test_the_suites_list_and_the_cases_own_add_up(tmp_path: Path) -> None:
    cases = [
        {"id": "own", "vars": {"out": "Paris is the capital"}, "assert": [{"type": "contains", "value": "Rome"}]},
        {"id": "none", "vars": {"out": "Paris"}},
    ]
    suite_level = [{"type": "length", "max": 10}, {"type": "starts_with", "value": "Paris"}]
    repo = echo_repo(tmp_path / "repo", cases, **{"assert": suite_level})
    suite, arm, details = evaluate(repo)
    assert [a.label for a in suite.cases[0].assertions] == ["suite assert[0]", "suite assert[1]", "assert[0]"]
    assert [a.label for a in suite.cases[1].assertions] == ["suite assert[0]", "suite assert[1]"]
    assert scores(suite, arm) == {"own": pytest.approx(1 / 3), "none": 1.0}
    assert reason(details["own"]) == (
        "suite assert[0] length: 20 characters, more than the max of 10\nassert[0] contains: does not contain 'Rome'"
    )
    assert failed_assertions(details["own"]) == [
        {"assertion": "suite assert[0]", "type": "length", "reason": "20 characters, more than the max of 10"},
        {"assertion": "assert[0]", "type": "contains", "reason": "does not contain 'Rome'"},
    ]


def test_a_json_schema_failure_names_the_path_that_failed(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"properties": {"price": {"type": "number"}}}}},
    }
    cases = [
        {"id": "bad", "vars": {"out": '{"items": [{"price": 2}, {"price": "x"}]}'}},
        {"id": "prose", "vars": {"out": "Sure! Here is the JSON."}},
        {"id": "good", "vars": {"out": '{"items": [{"price": 2.5}]}'}},
    ]
    for case in cases:
        case["assert"] = [{"type": "contains", "value": "{"}, {"type": "json_schema", "value": schema, "weight": 2}]
    suite, arm, details = evaluate(echo_repo(tmp_path / "repo", cases))
    assert reason(details["bad"]) == "assert[1] json_schema: $.items[1].price: 'x' is not of type 'number'"
    assert reason(details["prose"]).splitlines()[1].startswith("assert[1] json_schema: not JSON (Expecting value")
    assert scores(suite, arm) == {"bad": pytest.approx(1 / 3), "prose": 0.0, "good": 1.0}


def test_an_assertion_that_does_not_apply_is_left_out(tmp_path: Path) -> None:
    """A metric with nothing to compare with (no reference) scores None: the case's other assertions count alone,
    and a case whose every assertion does not apply has no score at all (not a 0)."""
    rouge = {"type": "metric", "value": "rougeL", "threshold": 0.5}
    cases = [
        {"id": "mixed", "vars": {"out": "Paris"}, "assert": [rouge, {"type": "contains", "value": "Paris"}]},
        {"id": "only", "vars": {"out": "Paris"}, "assert": [rouge]},
    ]
    suite, arm, _ = evaluate(echo_repo(tmp_path / "repo", cases))
    assert scores(suite, arm) == {"mixed": 1.0, "only": None}
    assert arm.summary["assertions"].n == 1


# --- any metric entry as an assertion ------------------------------------------------------------------------


class Ending:
    """A metric factory registered for the test, as `python:` and `rubric:` are: it scores whether the answer ends
    with the entry's text, reads the repository through the scoring context, and is keyed by a salt file."""

    def __init__(self) -> None:
        self.built: list[tuple[dict[str, Any], str]] = []
        self.batches: list[list[str]] = []

    def __call__(self, entry: Any, context: FactoryContext) -> Metric:
        self.built.append((dict(entry), context.where))
        ending = entry["ends_test"]
        if not isinstance(ending, str):
            raise ConfigError(f"{context.where}: ends_test: give the text the answer must end with.")

        def score(predictions, cases, options, scoring) -> list[Score]:  # noqa: ANN001
            self.batches.append([c.id for c in cases])
            assert scoring.root == context.root
            return [
                Score(None, error="the scorer fell over")
                if "boom" in p.answer
                else Score(float(p.answer.endswith(ending)), reason=f"ends {p.answer[-1]!r}")
                for p in predictions
            ]

        salt = context.root / "evals" / "salt.txt"
        return Metric(
            name=entry.get("name", f"ends_{len(ending)}"),
            description="ends with the text",
            score=score,
            kind="binary",
            needs_context=True,
            cache_salt=lambda options, scoring: salt.read_text() if salt.exists() else None,
        )


@pytest.fixture
def ending() -> Iterator[Ending]:
    factory = Ending()
    with metric_factories.added("ends_test", factory):
        yield factory


def test_a_metric_entry_is_an_assertion_built_by_its_factory_and_scored_in_one_batch(
    tmp_path: Path, ending: Ending
) -> None:
    check = {"type": "ends_test", "value": "!", "weight": 2, "loud": True}
    cases = [
        {"id": "yes", "vars": {"out": "Hello!"}, "assert": [check]},
        {"id": "no", "vars": {"out": "Hello."}, "assert": [check, {"type": "contains", "value": "Hello"}]},
        {"id": "boom", "vars": {"out": "boom!"}, "assert": [check]},
    ]
    suite, arm, details = evaluate(echo_repo(tmp_path / "repo", cases))
    assert ending.built == [({"ends_test": "!", "loud": True}, "evals/cases/echo.jsonl:1: assert[0]")]
    # one batch for the three cases; a failure is never cached, so the second metric asks again for that case
    assert [sorted(batch) for batch in ending.batches] == [["boom", "no", "yes"], ["boom"]]
    assert scores(suite, arm) == {"yes": 1.0, "no": pytest.approx(1 / 3), "boom": None}
    assert reason(details["no"]) == "assert[0] ends_test: ends_1 scored 0, below the threshold 1: ends '.'"
    assert details["boom"]["errors"]["assertions"] == "assert[0] ends_test: the scorer fell over"
    assert failed_assertions(details["boom"]) == [
        {"assertion": "assert[0]", "type": "ends_test", "error": "the scorer fell over"}
    ]
    assert arm.errors == {"assertions": 1, "assertions_passed": 1}


def test_two_entries_of_one_factory_are_scored_apart_and_a_listed_metric_once(tmp_path: Path) -> None:
    """A factory's metric may have one name for two entries ("!" and "?" both make `ends_1`): each assertion is
    scored as its entry says. A registered metric both listed and asserted scores each output once."""
    factory = Ending()
    cases = [
        {
            "id": "a",
            "vars": {"out": "Hi!"},
            "reference": "Hi!",
            "assert": [{"type": "ends_test", "value": "!"}, {"type": "ends_test", "value": "?"}],
        },
        {"id": "b", "vars": {"out": "Hi?"}, "reference": "Bye", "assert": [{"type": "ends_test", "value": "?"}]},
    ]
    for case in cases:
        case["assert"].append({"type": "metric", "value": "counted_test"})
    exact = get_metric("exact_match")
    counted: list[str] = []

    def counting(predictions, cases, options):  # noqa: ANN001, ANN202 - a ScoreFn
        counted.extend(c.id for c in cases)
        return exact.score(predictions, cases, options)

    with (
        metric_factories.added("ends_test", factory),
        metrics.added("counted_test", dataclasses.replace(exact, name="counted_test", score=counting)),
    ):
        suite, arm, _ = evaluate(echo_repo(tmp_path / "repo", cases, metrics=["counted_test"]))
    assert sorted(counted) == ["a", "b"]
    assert arm.scores["counted_test"] == [1.0, 0.0]
    assert scores(suite, arm) == {"a": pytest.approx(2 / 3), "b": 0.5}


def test_a_metric_of_the_suites_own_may_not_take_an_assertion_metrics_name(tmp_path: Path, ending: Ending) -> None:
    repo = echo_repo(
        tmp_path / "repo", [{"id": "a", "vars": {"out": "x"}}], metrics=[{"ends_test": "!", "name": "assertions"}]
    )
    err = exited(cli("run", "--repo", str(repo.root)), 2)
    assert "evals/echo.yaml:6: metrics[0]: 'assertions' names the metrics of `assert:`; give this one a name." in err


def test_a_factorys_bad_entry_is_exit_2_at_the_case(tmp_path: Path, ending: Ending) -> None:
    repo = echo_repo(
        tmp_path / "repo", [{"id": "a", "vars": {"out": "x"}, "assert": [{"type": "ends_test", "value": 3}]}]
    )
    err = exited(cli("run", "--repo", str(repo.root)), 2)
    assert "evals/cases/echo.jsonl:1: assert[0]: ends_test: give the text the answer must end with." in err


def test_the_score_cache_rescores_only_what_changed(tmp_path: Path, ending: Ending) -> None:
    """A rerun scores nothing; a changed salt (a scorer's source) rescores its assertions, and an edited `assert:`
    list rescores that case's assertions only, never another metric's scores."""
    cases = [
        {"id": "a", "vars": {"out": "Paris!"}, "reference": "Paris!", "assert": [{"type": "ends_test", "value": "!"}]},
        {"id": "b", "vars": {"out": "Rome"}, "reference": "Rome", "assert": [{"type": "ends_test", "value": "!"}]},
    ]
    repo = echo_repo(tmp_path / "repo", cases, metrics=["exact_match"])
    evaluate(repo)
    assert [sorted(batch) for batch in ending.batches] == [["a", "b"]]
    before = _scores_by_metric(repo)
    evaluate(repo)
    assert len(ending.batches) == 1 and _scores_by_metric(repo) == before

    repo.write("evals/salt.txt", "the scorer changed")
    evaluate(repo)
    assert [sorted(batch) for batch in ending.batches[1:]] == [["a", "b"]]
    after = _scores_by_metric(repo)
    assert after["exact_match"] == before["exact_match"]
    assert after["assertions"] == before["assertions"] + 2

    cases[1]["assert"].append({"type": "contains", "value": "Ro"})
    write_cases(repo, cases)
    suite, arm, _ = evaluate(repo)
    assert ending.batches[2:] == []  # the scorer's scores of b come from the cache
    edited = _scores_by_metric(repo)
    assert edited["exact_match"] == before["exact_match"]
    assert edited["assertions"] == after["assertions"] + 1
    assert scores(suite, arm) == {"a": 1.0, "b": 0.5}


def _scores_by_metric(repo: GitRepo) -> dict[str, int]:
    con = sqlite3.connect(results_db(repo))
    try:
        return dict(con.execute("SELECT metric, COUNT(*) FROM scores GROUP BY metric").fetchall())
    finally:
        con.close()


def test_bisect_finds_the_commit_whose_answers_fail_the_assertions(tmp_path: Path) -> None:
    """Bisect scores each commit's cases with their assertions as they were then, those gone by now included."""
    from promptarena.bisect import bisect_suite

    def cases(check: str) -> list[dict[str, Any]]:
        return [
            {"id": f"c{i}", "vars": {"out": f"fine answer {i}"}, "assert": [{"type": "contains", "value": check}]}
            for i in range(8)
        ]

    repo = echo_repo(tmp_path / "repo", cases("answer"), **{"assert": [{"type": "not_contains", "value": "bad"}]})
    good = repo.rev_parse("HEAD")
    write_cases(repo, cases("fine"))
    repo.commit("cases: check for fine")
    repo.write("prompts/echo.prompt", ECHO.replace("{{ out }}", "{{ out }} (bad)"))
    first_bad = repo.commit("echo: add a word")
    write_cases(repo, cases("answer"))
    repo.commit("cases: check for answer again")
    with PromptStore(repo.root) as store, ResultsStore(results_db(repo)) as results:
        suite = load_suite(repo.root / "evals" / "echo.yaml", repo.root)
        outcome = bisect_suite(suite, store, results, good, "HEAD", metric="assertions_passed")
    assert outcome.first_bad is not None and outcome.first_bad.sha == first_bad


# --- where assertions are written ----------------------------------------------------------------------------


def test_inline_cases_and_csv_columns_carry_assertions(tmp_path: Path) -> None:
    repo = echo_repo(tmp_path / "repo", [])
    repo.write(
        "evals/inline.yaml",
        "prompt: echo\n"
        "model: {backend: fake}\n"
        "metrics: [assertions_passed]\n"
        "cases:\n"
        "  - id: a\n"
        "    vars: {out: Paris}\n"
        "    assert:\n"
        "      - {type: equals, value: Paris}\n",
    )
    inline = load_suite(repo.root / "evals" / "inline.yaml", repo.root)
    assert [s.name for s in inline.metrics] == ["assertions_passed"]
    assert inline.cases[0].assertions[0].entry == {"type": "equals", "value": "Paris"}
    repo.write(
        "evals/cases/rows.csv",
        'id,out,checks\na,Paris,"[{""type"": ""contains"", ""value"": ""Par""}]"\nb,Rome,\n',
    )
    repo.write(
        "evals/rows.yaml", "prompt: echo\nmodel: {backend: fake}\ncases: {file: cases/rows.csv, assert: checks}\n"
    )
    rows = load_suite(repo.root / "evals" / "rows.yaml", repo.root)
    assert [c.vars for c in rows.cases] == [{"out": "Paris"}, {"out": "Rome"}]
    assert [len(c.assertions) for c in rows.cases] == [1, 0]


# --- bad input: exit 2, the file and line, nothing stored lost ------------------------------------------------

BAD_CASES = [
    (
        {"type": "contain", "value": "x"},
        "evals/cases/echo.jsonl:2: assert[0]: unknown assertion type 'contain' (did you mean contains?); known:",
    ),
    (
        {"type": "regex", "value": "(unclosed"},
        "evals/cases/echo.jsonl:2: assert[0]: regex: '(unclosed' is not a valid regular expression "
        "(missing ), unterminated subpattern at position 0); fix it.",
    ),
    (
        {"type": "json_schema", "value": {"type": "numbr"}},
        "evals/cases/echo.jsonl:2: assert[0]: json_schema: not a valid JSON Schema: $.type: 'numbr' is not valid "
        "under any of the given schemas; fix the schema.",
    ),
    (
        {"type": "contains", "vaule": "x"},
        "evals/cases/echo.jsonl:2: assert[0]: contains takes no field 'vaule' (did you mean value?); "
        'write it as {"type": "contains", "value": "Paris"}.',
    ),
    (
        {"type": "contains"},
        'evals/cases/echo.jsonl:2: assert[0]: value: Field required; write it as {"type": "contains", "value": ',
    ),
    ({"type": "length"}, "evals/cases/echo.jsonl:2: assert[0]: length: give min, max or both"),
    ({"type": "length", "min": 9, "max": 3}, "evals/cases/echo.jsonl:2: assert[0]: length: min 9 is more than max 3"),
    (
        {"type": "equals", "value": "x", "weight": 0},
        "evals/cases/echo.jsonl:2: assert[0]: weight: Input should be greater than 0",
    ),
    (
        {"type": "metric", "value": "rogueL"},
        "evals/cases/echo.jsonl:2: assert[0]: unknown metric 'rogueL' (did you mean rougeL?)",
    ),
    (
        {"type": "metric", "value": "latency_s"},
        "evals/cases/echo.jsonl:2: assert[0]: metric 'latency_s' is unbounded; give the assertion a threshold.",
    ),
    ("contains Paris", "evals/cases/echo.jsonl:2: assert[0]: write each assertion as a mapping with a type"),
]


@pytest.mark.parametrize(("entry", "message"), BAD_CASES, ids=[str(e) for e, _ in BAD_CASES])
def test_a_bad_assertion_is_exit_2_naming_the_file_line_and_index(tmp_path: Path, entry: Any, message: str) -> None:
    cases = [{"id": "a", "vars": {"out": "x"}}, {"id": "b", "vars": {"out": "y"}, "assert": [entry]}]
    repo = echo_repo(tmp_path / "repo", cases, metrics=["exact_match"])
    assert message in exited(cli("run", "--repo", str(repo.root)), 2)


def test_a_schema_reference_that_cannot_be_resolved_is_exit_2_and_nothing_is_fetched(tmp_path: Path) -> None:
    schema = {"$ref": "https://json.example/order.json"}
    cases = [{"id": "a", "vars": {"out": "{}"}, "assert": [{"type": "json_schema", "value": schema}]}]
    repo = echo_repo(tmp_path / "repo", cases)
    err = exited(cli("run", "--repo", str(repo.root)), 2)
    assert "evals/cases/echo.jsonl:1: assert[0]: json_schema: a $ref cannot be resolved (" in err
    assert "https://json.example/order.json" in err and "under $defs" in err


def test_bad_input_loses_nothing_stored(tmp_path: Path) -> None:
    cases = [{"id": "a", "vars": {"out": "x"}, "assert": [{"type": "contains", "value": "x"}]}]
    repo = echo_repo(tmp_path / "repo", cases, **{"assert": [{"type": "is_json"}]})
    exited(cli("run", "--repo", str(repo.root)), 0)
    stored = {t: count_rows(results_db(repo), t) for t in ("runs", "results", "scores", "generations")}
    suite_file = repo.root / "evals" / "echo.yaml"
    suite_file.write_text(suite_file.read_text().replace("is_json", "is_jsn"))
    err = exited(cli("run", "--repo", str(repo.root)), 2)
    assert err.startswith(
        "error: evals/echo.yaml:6: suite assert[0]: unknown assertion type 'is_jsn' (did you mean is_json?)"
    )
    assert {t: count_rows(results_db(repo), t) for t in stored} == stored


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metrics": ["assertions"]}, "evals/echo.yaml:6: metrics[0]: 'assertions' scores the `assert:` lists"),
        ({}, "evals/echo.yaml:1: metrics: the suite scores nothing; list its metrics"),
    ],
)
def test_assertion_metrics_without_assertions_are_exit_2(tmp_path: Path, fields: dict, message: str) -> None:
    repo = echo_repo(tmp_path / "repo", [{"id": "a", "vars": {"out": "x"}}], **fields)
    assert message in exited(cli("run", "--repo", str(repo.root)), 2)


# --- the reports ---------------------------------------------------------------------------------------------


def _qa_with_assertions(root: Path) -> GitRepo:
    """The qa repository (v1 right on every capital, v2 wrong on half) with a suite-level assertion and threshold."""
    return qa_repo(
        root,
        metrics=["exact_match"],
        thresholds={"assertions_passed": 0.9},
        **{"assert": [{"type": "not_contains", "value": "know"}, {"type": "length", "max": 20}]},
    )


def test_a_run_shows_the_metrics_in_the_table_and_which_assertion_failed_in_json(tmp_path: Path) -> None:
    repo = _qa_with_assertions(tmp_path / "repo")
    table = cli("run", "--repo", str(repo.root))
    exited(table, 1)
    assert "assertions ↑" in table.stdout and "assertions_passed ↑" in table.stdout
    assert "assertions_passed >= 0.9: 0.500 below the threshold 0.9" in " ".join(table.stdout.split())
    doc = json.loads(cli("run", "--json", "--repo", str(repo.root)).stdout)
    head, previous = doc["suites"][0]["arms"]
    assert previous["failed_assertions"] == []
    assert head["metrics"]["assertions_passed"]["mean"] == 0.5
    assert head["failed_assertions"][0] == {
        "case": "france",
        "failed": [{"assertion": "suite assert[0]", "type": "not_contains", "reason": "contains 'know'"}],
    }
    assert [f["case"] for f in head["failed_assertions"]] == ["france", "italy", "peru"]
    gates = {g["name"]: g["passed"] for g in doc["suites"][0]["gates"]}
    assert any("assertions_passed" in name and not passed for name, passed in gates.items())


def test_compare_shows_the_failed_assertions_of_the_cases_that_differ(tmp_path: Path) -> None:
    repo = _qa_with_assertions(tmp_path / "repo")
    text = cli("compare", "qa", "HEAD~1", "HEAD", "--repo", str(repo.root))
    exited(text, 0)
    assert "assertions_passed" in text.stdout
    assert "✗ suite assert[0] not_contains: contains 'know'" in text.stdout
    doc = json.loads(cli("compare", "qa", "HEAD~1", "HEAD", "--json", "--repo", str(repo.root)).stdout)
    head = repo.rev_parse("HEAD")[:7]
    france = next(c for c in doc["cases"] if c["case_id"] == "france")
    assert france["failed_assertions"][f"{head}:plain"] == [
        {"assertion": "suite assert[0]", "type": "not_contains", "reason": "contains 'know'"}
    ]
    assert {m["metric"] for m in doc["metrics"]} == {"exact_match", "assertions", "assertions_passed"}
    md = tmp_path / "comment.md"
    exited(cli("run", "--repo", str(repo.root), "--baseline", "HEAD~1", "--markdown", str(md)), 1)
    assert "<br>✗ suite assert[0] not_contains: contains 'know'" in md.read_text()


def test_the_case_explorer_shows_the_assertions_and_which_failed(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from streamlit.testing.v1 import AppTest

    from tests.support.workbench import APP, point_app_at

    repo = _qa_with_assertions(tmp_path / "repo")
    exited(cli("run", "--repo", str(repo.root)), 1)
    point_app_at(monkeypatch, repo.root, results_db(repo))
    at = AppTest.from_file(str(APP / "Overview.py"), default_timeout=60)
    at.switch_page("pages/3_Case_explorer.py")
    at.query_params.update({"suite": "qa", "case": "france"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    frames = [d.value for d in at.dataframe]
    listed = next(f for f in frames if "weight" in f.columns)
    assert listed["assertion"].tolist() == ["suite assert[0]", "suite assert[1]"]
    failed = [f for f in frames if "why" in f.columns]
    assert [f.to_dict("records") for f in failed] == [
        [{"assertion": "suite assert[0]", "type": "not_contains", "why": "contains 'know'"}]
    ]


def test_the_example_suite_asserts_a_json_schema_for_every_case_and_its_own_values() -> None:
    root = Path(__file__).resolve().parents[1]
    suite = load_suite(root / "evals" / "order_json.yaml", root)
    assert [s.name for s in suite.metrics] == ["assertions", "assertions_passed"]
    for case in suite.cases:
        assert [a.type for a in case.assertions] == ["json_schema", "icontains", "json_schema"]
        assert case.assertions[0].label == "suite assert[0]" and case.assertions[0].weight == 2
