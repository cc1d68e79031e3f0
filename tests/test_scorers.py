"""Scorers of the repository's own (`{python: evals/scorers.py:FUNCTION}`) in a real git repository, run by the fake
model: the table, reasons, errors, gates, the score cache, compare and bisect, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptarena.store import ResultsStore
from tests.support.cli import cli, exited
from tests.support.git import GitRepo
from tests.support.repos import COUNTRIES, QA_V1, count_rows, edit_suite, qa_repo, results_db, statuses, write_suite
from tests.support.scorers import ALL_WRONG, KNOWS, NORMALIZE, SCORERS, WORDS, scorer_repo


def run(repo: GitRepo, *args: str, code: int = 0) -> tuple[str, str]:
    """`evals run --repo REPO ARGS` in this process: (stdout, stderr folded) after checking the exit code."""
    result = cli("run", "--repo", str(repo.root), *args)
    err = exited(result, code)
    return result.stdout, err


def run_json(repo: GitRepo, *args: str, code: int = 0) -> dict[str, Any]:
    out, _ = run(repo, "--json", *args, code=code)
    (suite,) = json.loads(out)["suites"]
    return suite


def line_of(repo: GitRepo, path: str, text: str) -> int:
    """The 1-based line of ``path`` that holds ``text``."""
    lines = (repo.root / path).read_text().splitlines()
    return next(i + 1 for i, line in enumerate(lines) if text in line)


def stored(repo: GitRepo) -> dict[str, int]:
    db = results_db(repo)
    return {t: count_rows(db, t) for t in ("runs", "results", "generations", "scores")}


def rows(repo: GitRepo, run_id: str) -> list[dict[str, Any]]:
    with ResultsStore(results_db(repo)) as results:
        return results.results(run_id)


# --- a scorer in the table, --json and the store -------------------------------------------------------------


def test_a_scorer_of_the_repository_scores_every_case_with_its_declared_statistics(tmp_path: Path) -> None:
    repo = scorer_repo(tmp_path / "repo", ["exact_match", {"python": "evals/scorers.py:brief"}, KNOWS])
    out, _ = run(repo)
    assert "brief ↑" in out and "knows ↑" in out
    suite = run_json(repo)
    new, old = suite["arms"]  # HEAD (wrong on half the cases), then HEAD~1 (right everywhere)
    assert new["metrics"]["knows"]["mean"] == new["metrics"]["exact_match"]["mean"] == 0.5
    assert new["metrics"]["brief"]["mean"] == 0.5  # "I do not know" is four words
    assert old["metrics"]["knows"]["n"] == old["metrics"]["brief"]["n"] == 6
    # binary (declared): a Wilson interval below 6/6; continuous (the default): no spread, no width
    assert old["metrics"]["brief"]["mean"] == 1.0 and old["metrics"]["brief"]["low"] < 0.7
    assert old["metrics"]["knows"]["low"] == old["metrics"]["knows"]["high"] == 1.0
    assert new["errors"] == {"exact_match": 0, "brief": 0, "knows": 0}
    # the reason is stored beside the output, for the cases that have one
    by_case = {r["case_id"]: r for r in rows(repo, suite["run_id"]) if r["version"] == new["version"]}
    assert by_case["france"]["details"]["reasons"] == {"knows": "expected Paris, got I do not know"}
    assert "reasons" not in by_case["japan"]["details"]  # answered right: no reason given
    assert by_case["france"]["scores"]["knows"] == 0.0


def test_name_options_and_direction_reach_the_table_and_the_threshold(tmp_path: Path) -> None:
    metrics = [
        {"python": "evals/scorers.py:knows", "name": "capital", "options": {"fail_on": "nowhere"}},
        {"python": "evals/scorers.py:words"},  # named `length` by its decorator, lower is better
    ]
    repo = scorer_repo(tmp_path / "repo", metrics, thresholds={"length": 2})
    out, _ = run(repo, code=1)  # HEAD averages 2.5 words: over the threshold
    assert "capital ↑" in out and "length ↓" in out and "knows" not in out
    assert "FAIL" in out and "length <= 2: 2.500 above the threshold 2" in " ".join(out.split())
    edit_suite(repo, thresholds={"length": 3})
    run(repo)


def test_a_module_importable_from_the_repository_can_be_named(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("team_scorers/__init__.py", "")
    repo.write(
        "team_scorers/capitals.py",
        "from team_scorers.util import clean\n\n\ndef upper(output):\n    return clean(output).istitle()\n",
    )
    repo.write("team_scorers/util.py", "def clean(text):\n    return text.strip()\n")
    repo = qa_repo(repo.root, metrics=[{"python": "team_scorers.capitals:upper", "name": "capitalized"}])
    suite = run_json(repo)
    assert [a["metrics"]["capitalized"]["mean"] for a in suite["arms"]] == [0.5, 1.0]  # "I do not know" is no name


# --- the score cache is keyed by the scorer's source -------------------------------------------------------


def test_editing_the_scorer_or_a_module_it_imports_rescores_and_nothing_else_does(tmp_path: Path) -> None:
    log = tmp_path / "calls.txt"
    repo = scorer_repo(tmp_path / "repo", [{"python": "evals/scorers.py:knows", "options": {"log": str(log)}}])

    def calls() -> int:
        n = len(log.read_text().split()) if log.exists() else 0
        log.unlink(missing_ok=True)
        return n

    first = run_json(repo)
    assert calls() == 12  # two versions of six cases
    run_json(repo)
    assert calls() == 0  # unchanged: every score from the cache
    repo.write("evals/unrelated.py", "X = 1\n")
    repo.write("prompts/notes.txt", "not a prompt\n")
    run_json(repo)
    assert calls() == 0  # files it does not import change nothing

    # a module two imports away (scorers -> words -> normalize): every case scored again, by the new code
    repo.write("evals/normalize.py", "def fold(text):\n    return text.strip().lower().removesuffix('s')\n")
    again = run_json(repo)
    assert calls() == 12
    assert again["arms"][0]["metrics"]["knows"]["mean"] == first["arms"][0]["metrics"]["knows"]["mean"]
    repo.write("evals/normalize.py", "def fold(text):\n    return 'same for all'\n")
    edited = run_json(repo)
    assert calls() == 12 and edited["arms"][0]["metrics"]["knows"]["mean"] == 1.0  # the edit is what scores now
    repo.write("evals/scorers.py", SCORERS.replace("return 1\n", "return 1.0  # edited\n"))
    run_json(repo)
    assert calls() == 12
    run_json(repo)
    assert calls() == 0


# --- an exception on a case is that case's error ----------------------------------------------------------


def test_an_exception_on_one_case_is_its_error_counted_and_shown_never_a_zero(tmp_path: Path) -> None:
    log = tmp_path / "calls.txt"
    options = {"fail_on": "peru", "log": str(log)}
    repo = scorer_repo(tmp_path / "repo", [{"python": "evals/scorers.py:knows", "options": options}])
    out, _ = run(repo)
    assert "· 1 error" in out
    line = next(li for li in " ".join(out.split()).split("scoring error")[1:2])
    assert "knows of" in line and "scoring failed on 1 of 6 cases" in line
    assert "case 'peru': ValueError: cannot judge Peru (evals/scorers.py:" in line
    log.unlink()

    suite = run_json(repo)
    assert log.read_text().split() == ["peru", "peru"]  # errors are not cached: scored again, the rest is not
    new = suite["arms"][0]
    assert new["errors"] == {"knows": 1} and new["metrics"]["knows"]["n"] == 5
    assert new["metrics"]["knows"]["mean"] == 3 / 5  # of the five scored; Peru is not a 0
    assert "cannot judge Peru" in new["first_error"]["knows"]
    peru = next(r for r in rows(repo, suite["run_id"]) if r["case_id"] == "peru" and r["version"] == new["version"])
    assert peru["scores"]["knows"] is None
    assert peru["details"]["errors"]["knows"].startswith("ValueError: cannot judge Peru (evals/scorers.py:")


def test_a_scorer_that_fails_on_every_case_completes_the_run_and_fails_its_threshold(tmp_path: Path) -> None:
    metrics = [{"python": "evals/scorers.py:knows", "options": {"fail_on": "*"}}]
    repo = scorer_repo(tmp_path / "repo", metrics, thresholds={"knows": 0.5})
    out, _ = run(repo, code=1)
    flat = " ".join(out.split())
    assert "knows >= 0.5: no scores to compare; scoring failed on 6 cases (first, case" in flat
    assert "cannot judge" in flat
    suite = run_json(repo, code=1)
    assert suite["arms"][0]["metrics"]["knows"]["n"] == 0 and suite["arms"][0]["errors"] == {"knows": 6}
    assert statuses(repo) == ["completed", "completed"]  # the run completed; its gate failed


def test_the_regression_gate_takes_a_scorer_and_fails_when_errors_leave_too_few_cases(tmp_path: Path) -> None:
    repo = scorer_repo(tmp_path / "repo", [KNOWS], gate=["knows"], responses=ALL_WRONG)
    out, _ = run(repo, "--baseline", "HEAD~1", code=1)
    assert "no regression in knows" in out and "worse" in out

    # the new version's every case fails to score: "too few cases" cannot pass as "no regression"
    repo.write(
        "evals/scorers.py",
        SCORERS.replace(
            "    if same(", "    if answer.startswith('I do'):\n        raise RuntimeError('no verdict')\n    if same("
        ),
    )
    out, _ = run(repo, "--baseline", "HEAD~1", code=1)
    flat = " ".join(out.split())
    assert "FAIL" in flat and "too few cases" in flat and "scoring failed on 6 cases" in flat


# --- compare and bisect -----------------------------------------------------------------------------------


def test_compare_shows_each_cases_reason(tmp_path: Path) -> None:
    repo = scorer_repo(tmp_path / "repo", [KNOWS], responses=ALL_WRONG)
    result = cli("compare", "qa", "HEAD~1", "HEAD", "--repo", str(repo.root), "--json")
    exited(result, 0)
    doc = json.loads(result.stdout)
    (row,) = doc["metrics"]
    assert row["metric"] == "knows" and row["verdict"] == "worse"
    france = next(c for c in doc["cases"] if c["case_id"] == "france")
    new = doc["arms"][1]
    assert france["reasons"][new] == {"knows": "expected Paris, got I do not know"}
    assert france["reasons"][doc["arms"][0]] == {}
    text = cli("compare", "qa", "HEAD~1", "HEAD", "--repo", str(repo.root))
    exited(text, 0)
    assert "knows: expected" in text.stdout


def test_bisect_judges_every_commit_with_the_scorer_as_it_is_now(tmp_path: Path) -> None:
    """The scorer and the suite's entry naming it arrive after the regression: older commits are still judged by
    it, and the suite file of a commit that names it is read for its cases without loading any code."""
    repo = GitRepo(tmp_path / "repo")

    def prompt(edit: int) -> str:
        return QA_V1.replace("Capital of {{ country }}?", f"Capital of {{{{ country }}}}? (edit {edit})")

    responses = {f"Capital of {c}? (edit {e})": city for c, city in COUNTRIES.items() for e in (0, 1)}
    repo.write("prompts/qa.prompt", prompt(0))
    write_suite(repo, metrics=["exact_match"], model={"backend": "fake", "responses": responses})
    good = repo.commit("qa: first version")
    for edit in (1, 2, 3):  # wrong from edit 2 on
        repo.write("prompts/qa.prompt", prompt(edit))
        repo.commit(f"qa: edit {edit}")
    # only now the scorer, and a suite that names it (the suite file changes: a candidate commit)
    repo.write("evals/scorers.py", SCORERS)
    repo.write("evals/words.py", WORDS)
    repo.write("evals/normalize.py", NORMALIZE)
    write_suite(repo, metrics=["exact_match", KNOWS], model={"backend": "fake", "responses": responses})
    repo.commit("qa: judge by knows")
    result = cli("bisect", "qa", "--good", good, "--bad", "HEAD", "--metric", "knows", "--repo", str(repo.root))
    exited(result, 0)
    flat = " ".join(result.stdout.split())
    assert "first bad commit:" in flat and "qa: edit 2" in flat


# --- bad input: exit 2, the suite's line and the user's file and line, nothing stored lost --------------------


BROKEN: dict[str, tuple[Any, dict[str, str], list[str]]] = {
    # name: (the suite's metric entry, files written over the good ones, what the message says)
    "missing file": (
        {"python": "evals/scorer.py:knows"},
        {},
        ["python: evals/scorer.py does not exist (did you mean evals/scorers.py?)"],
    ),
    "missing function": (
        {"python": "evals/scorers.py:know"},
        {},
        ["evals/scorers.py: there is no function 'know' (did you mean knows at evals/scorers.py:12?)"],
    ),
    "syntax error in an imported module": (
        KNOWS,
        {"evals/normalize.py": "def fold(text):\n    return text.strip(\n"},
        ["evals/normalize.py:2: evals/scorers.py:knows does not compile: SyntaxError"],
    ),
    "import error": (
        KNOWS,
        {"evals/scorers.py": "import promptarena\nimport no_such_package_here\n" + SCORERS},
        ["evals/scorers.py:2: importing evals/scorers.py:knows failed: ModuleNotFoundError", "no_such_package_here"],
    ),
    "exception at import": (
        KNOWS,
        {"evals/words.py": WORDS + "\nLIMIT = 1 / 0\n"},
        ["evals/words.py:11: importing evals/scorers.py:knows failed: ZeroDivisionError"],
    ),
    "unknown parameter": (
        KNOWS,
        {"evals/scorers.py": SCORERS.replace("def knows(answer, case, options)", "def knows(answer, truth)")},
        ["evals/scorers.py:12: knows() asks for 'truth'", "answer, output, case, prediction, options"],
    ),
    "not a function": (
        {"python": "evals/scorers.py:SCORED"},
        {"evals/scorers.py": SCORERS + "\nSCORED = 3\n"},
        ["evals/scorers.py: 'SCORED' is a int, not a function"],
    ),
    "misspelled key": (
        {"python": "evals/scorers.py:knows", "option": {}},
        {},
        ["a python metric has no key 'option' (did you mean options?)"],
    ),
    "options the function does not take": (
        {"python": "evals/scorers.py:brief", "options": {"max": 2}},
        {},
        ["options: evals/scorers.py:7: brief() takes no `options` parameter"],
    ),
    "no function named": (
        {"python": "evals/scorers.py"},
        {},
        ["python: name a function as FILE:FUNCTION or MODULE:FUNCTION"],
    ),
    "no such module": (
        {"python": "team.scorers:knows"},
        {},
        ["python: no module 'team.scorers' can be imported from the repository's top folder"],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_bad_input_names_the_suite_line_and_the_users_line_and_loses_nothing(tmp_path: Path, case: str) -> None:
    entry, files, says = BROKEN[case]
    repo = scorer_repo(tmp_path / "repo", ["exact_match", KNOWS])
    run(repo)  # something stored, which must survive
    before = stored(repo)
    for path, text in files.items():
        repo.write(path, text)
    edit_suite(repo, metrics=["exact_match", entry])
    _, err = run(repo, code=2)
    line = line_of(repo, "evals/qa.yaml", f"python: {entry['python']}")
    assert err.startswith(f"error: evals/qa.yaml:{line}: metrics[1]: "), err
    for part in says:
        assert part in err, err
    assert stored(repo) == before  # refused before anything ran or was written


@pytest.mark.parametrize(
    ("returns", "says"),
    [
        ("{'verdict': 'yes'}", "returned dict {'verdict': 'yes'} for case"),
        ("float('nan')", "returned float nan for case"),
        ("'1'", "returned str '1' for case"),
    ],
)
def test_a_wrong_return_type_stops_the_run_naming_the_function_and_the_case(
    tmp_path: Path, returns: str, says: str
) -> None:
    repo = scorer_repo(tmp_path / "repo", ["exact_match", KNOWS])
    run(repo)
    before = stored(repo)
    repo.write("evals/scorers.py", SCORERS.replace("        return 1\n", f"        return {returns}\n"))
    _, err = run(repo, code=2)
    line = line_of(repo, "evals/qa.yaml", "python: evals/scorers.py:knows")
    assert err.startswith(f"error: evals/qa.yaml:{line}: metrics[1]: evals/scorers.py:12: knows() {says} '"), err
    assert "(evals/cases/qa.jsonl:" in err and "return a number, a bool, None (not applicable), a Score" in err
    after = stored(repo)
    assert after["generations"] == before["generations"] and after["results"] == before["results"]
    assert after["scores"] >= before["scores"]
    assert statuses(repo) == ["completed", "failed"]  # recorded as failed; the earlier run is whole


def test_a_value_outside_the_declared_kind_or_range_is_refused(tmp_path: Path) -> None:
    repo = scorer_repo(tmp_path / "repo", [{"python": "evals/scorers.py:brief"}])
    repo.write("evals/scorers.py", SCORERS.replace("return count(output) <= 2", "return count(output) / 4"))
    _, err = run(repo, code=2)
    assert "brief() returned 0.25 for case" in err and "it is declared kind='binary'" in err
    scored = SCORERS.replace('kind="binary", description', "range=(0, 1), description")
    repo.write("evals/scorers.py", scored.replace("return count(output) <= 2", "return count(output)"))
    _, err = run(repo, code=2)
    assert "brief() returned 4 for case" in err and "it is declared range=(0, 1)" in err


def test_a_baseline_run_evaluates_a_suite_again_when_only_its_scorers_code_changed(tmp_path: Path) -> None:
    repo = scorer_repo(tmp_path / "repo", [KNOWS], thresholds={"knows": 0.5})
    assert run_json(repo, "--baseline", "HEAD")["skipped"] == "unchanged since HEAD"
    repo.write("evals/normalize.py", NORMALIZE + "\n# a note\n")  # a module two imports away
    again = run_json(repo, "--baseline", "HEAD")
    assert again["skipped"] is None and [g["passed"] for g in again["gates"]] == [True]
    repo.write("evals/scorers.py", SCORERS.replace("        return 1\n", "        return 0\n"))
    failed = run_json(repo, "--baseline", "HEAD", code=1)
    assert [g["passed"] for g in failed["gates"]] == [False]


def test_two_repositories_in_one_process_each_get_their_own_modules(tmp_path: Path) -> None:
    """The workbench, and tests, load suites of several repositories in one process: a module of the same name
    (evals.words) must come from the suite's own repository every time, never from the one loaded before."""
    from promptarena.suite import load_suite
    from promptarena.types import Prediction

    roots = {}
    for name, words in (("a", WORDS), ("b", WORDS.replace("return len(text.split())", "return 100"))):
        repo = scorer_repo(tmp_path / name, [{"python": "evals/scorers.py:brief"}])
        repo.write("evals/words.py", words)
        roots[name] = repo.root
    answer = [Prediction(output="Paris", answer="Paris")]
    for name in ("a", "b", "a", "b"):
        suite = load_suite(roots[name] / "evals" / "qa.yaml", roots[name])
        (score,) = suite.metric("brief").score(answer, suite.cases[:1], {})
        assert score.value == (1.0 if name == "a" else 0.0), name
