"""Case files as users have them: flat rows whose columns a suite maps to variables and references.

Every test runs `evals run` on a real git repository with the fake backend, which answers France and Japan
right and Italy wrong, so a scored suite has exact_match 2/3 over 3 cases and one that scores nothing has n = 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import cli, evals, exited
from tests.support.git import GitRepo
from tests.support.repos import QA_V1, count_rows, results_db

CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Italy": "Rome"}
ANSWERS = {"Capital of France?": "Paris", "Capital of Japan?": "Tokyo", "Capital of Italy?": "Milan"}
CSV = "id,country,answer\n" + "".join(f"{c.lower()},{c},{city}\n" for c, city in CAPITALS.items())
FLAT = "".join(json.dumps({"id": c.lower(), "country": c, "answer": city}) + "\n" for c, city in CAPITALS.items())


def repo_with(root: Path, cases: Any, files: dict[str, str]) -> GitRepo:
    """One committed prompt, a suite whose `cases:` is ``cases``, and its case files under evals/."""
    repo = GitRepo(root)
    repo.write("prompts/qa.prompt", QA_V1)
    for name, text in files.items():
        repo.write(f"evals/{name}", text)
    suite = {
        "prompt": "qa",
        "cases": cases,
        "metrics": ["exact_match"],
        "model": {"backend": "fake", "responses": ANSWERS},
    }
    repo.write("evals/qa.yaml", yaml.safe_dump(suite, sort_keys=False))
    repo.commit("qa")
    return repo


def run_json(repo: GitRepo) -> tuple[dict[str, Any], str]:
    """`evals run --json`: the suite's document and stderr; the run must exit 0."""
    result = cli("run", "--json", "--repo", str(repo.root))
    stderr = exited(result, 0)
    (suite,) = json.loads(result.stdout)["suites"]
    return suite, stderr


def exact_match(suite: dict[str, Any]) -> dict[str, Any]:
    (arm,) = suite["arms"]
    return arm["metrics"]["exact_match"]


def test_csv_answer_column_mapped_as_reference_scores_for_real(tmp_path: Path) -> None:
    cases = {"file": "cases/capitals.csv", "reference": "answer", "vars": ["country"]}
    repo = repo_with(tmp_path / "repo", cases, {"cases/capitals.csv": CSV})
    suite, stderr = run_json(repo)
    score = exact_match(suite)
    assert score["n"] == 3 and score["mean"] == pytest.approx(2 / 3)
    assert suite["warnings"] == [] and "warning" not in stderr


def test_console_script_scores_a_mapped_csv_and_prints_no_warning(tmp_path: Path) -> None:
    cases = {"file": "cases/capitals.csv", "reference": "answer"}
    repo = repo_with(tmp_path / "repo", cases, {"cases/capitals.csv": CSV})
    out = evals("run", cwd=repo.root)
    assert out.returncode == 0, out.stderr
    assert "warning" not in out.stderr and "0.667" in out.stdout


def test_flat_jsonl_with_the_same_mapping(tmp_path: Path) -> None:
    repo = repo_with(tmp_path / "repo", {"file": "cases/qa.jsonl", "reference": "answer"}, {"cases/qa.jsonl": FLAT})
    suite, _ = run_json(repo)
    assert exact_match(suite)["mean"] == pytest.approx(2 / 3) and suite["warnings"] == []


def test_several_reference_columns_and_a_list_cell(tmp_path: Path) -> None:
    rows = [
        {"key": "f", "country": "France", "answer": "Paris"},
        {"key": "j", "country": "Japan", "answer": "Tokio", "alias": ["Tōkyō", "Tokyo"]},
        {"key": "i", "country": "Italy", "answer": "Rome", "alias": "Roma"},
    ]
    cases = {"file": "cases/qa.jsonl", "id": "key", "reference": ["answer", "alias"]}
    repo = repo_with(tmp_path / "repo", cases, {"cases/qa.jsonl": "".join(json.dumps(r) + "\n" for r in rows)})
    suite, _ = run_json(repo)
    assert exact_match(suite)["mean"] == pytest.approx(2 / 3)  # Tokyo is one of Japan's references


@pytest.mark.parametrize(
    ("cases", "files", "where"),
    [
        ({"file": "cases/c.csv", "reference": "anwser"}, {"cases/c.csv": CSV}, "cases/c.csv:1: no column 'anwser'"),
        ({"file": "cases/c.csv", "reference": "answer", "vars": ["contry"]}, {"cases/c.csv": CSV}, "'contry'"),
        ({"file": "cases/c.jsonl", "reference": "anwser"}, {"cases/c.jsonl": FLAT}, "evals/cases/c.jsonl:1:"),
    ],
)
def test_an_unknown_column_exits_2_naming_file_line_and_a_near_column(
    tmp_path: Path, cases: dict[str, Any], files: dict[str, str], where: str
) -> None:
    repo = repo_with(tmp_path / "repo", cases, files)
    err = exited(cli("run", "--repo", str(repo.root)), 2)
    assert where in err and "did you mean" in err and "evals/qa.yaml:" in err  # where the suite names it
    assert count_rows(results_db(repo), "runs") == 0 and count_rows(results_db(repo), "generations") == 0


@pytest.mark.parametrize(
    ("files", "where"),
    [
        ({"cases/c.csv": CSV.replace("Tokyo", "")}, "evals/cases/c.csv:3: the row has no reference in column 'answer'"),
        ({"cases/c.csv": CSV.replace(",Tokyo", "")}, "evals/cases/c.csv:3: the row ends before column 'answer'"),
        (
            {"cases/c.jsonl": FLAT + json.dumps({"id": "peru", "country": "Peru"}) + "\n"},
            "evals/cases/c.jsonl:4: the row has no reference in column 'answer'",
        ),
    ],
)
def test_a_row_without_its_reference_exits_2_naming_file_and_line(
    tmp_path: Path, files: dict[str, str], where: str
) -> None:
    (name,) = files
    repo = repo_with(tmp_path / "repo", {"file": name, "reference": "answer"}, files)
    err = exited(cli("run", "--repo", str(repo.root)), 2)
    assert where in err
    assert count_rows(results_db(repo), "runs") == 0


def test_a_misspelt_mapping_field_names_the_suite_line(tmp_path: Path) -> None:
    repo = repo_with(tmp_path / "repo", {"file": "cases/c.csv", "referense": "answer"}, {"cases/c.csv": CSV})
    err = exited(cli("run", "--repo", str(repo.root)), 2)
    assert "evals/qa.yaml:4: cases.referense: unknown field (did you mean reference?)" in err


def test_nested_rows_refuse_a_column_mapping(tmp_path: Path) -> None:
    nested = json.dumps({"id": "france", "vars": {"country": "France"}, "reference": "Paris"}) + "\n"
    repo = repo_with(tmp_path / "repo", {"file": "cases/c.jsonl", "reference": "answer"}, {"cases/c.jsonl": nested})
    err = exited(cli("run", "--repo", str(repo.root)), 2)
    assert "evals/cases/c.jsonl:1: the row nests its variables under `vars`" in err


@pytest.mark.parametrize("name", ["cases/c.csv", "cases/c.jsonl"])
def test_an_unmapped_answer_column_warns_twice_and_keeps_the_exit_code(tmp_path: Path, name: str) -> None:
    repo = repo_with(tmp_path / "repo", name, {name: CSV if name.endswith(".csv") else FLAT})
    suite, stderr = run_json(repo)
    assert exact_match(suite)["n"] == 0  # nothing scored: what the warnings are for
    metric, unused = suite["warnings"]
    assert metric.startswith("evals/qa.yaml:4: metric 'exact_match'") and "no case has one" in metric
    assert unused.startswith("evals/qa.yaml:2: cases:") and "'answer'" in unused and "reference: answer" in unused
    lines = [line for line in stderr.split("warning: ") if line]
    assert len(lines) == 2 and "exact_match" in lines[0] and "'answer'" in lines[1]


def test_a_variable_the_prompt_never_reads_warns_even_with_references(tmp_path: Path) -> None:
    rows = "id,country,answer,region\nfrance,France,Paris,Europe\n"
    repo = repo_with(tmp_path / "repo", {"file": "cases/c.csv", "reference": "answer"}, {"cases/c.csv": rows})
    suite, stderr = run_json(repo)
    (warning,) = suite["warnings"]
    assert "'region'" in warning and "`vars: [...]`" in warning and "'region'" in stderr


NESTED = "".join(
    json.dumps({"id": c.lower(), "vars": {"country": c}, "reference": city}) + "\n" for c, city in CAPITALS.items()
)
INLINE = [{"id": c.lower(), "vars": {"country": c}, "reference": city} for c, city in CAPITALS.items()]
OLD_CSV = CSV.replace(",answer\n", ",reference\n", 1)


@pytest.mark.parametrize(
    ("cases", "files"),
    [
        ("cases/c.jsonl", {"cases/c.jsonl": NESTED}),
        ("cases/c.csv", {"cases/c.csv": OLD_CSV}),
        (INLINE, {}),
        ({"file": "cases/c.jsonl"}, {"cases/c.jsonl": NESTED}),
        ("cases/c.jsonl", {"cases/c.jsonl": FLAT.replace('"answer"', '"reference"')}),
    ],
    ids=["nested-jsonl", "csv-reference-column", "inline", "mapping-with-only-a-file", "flat-jsonl-reference"],
)
def test_the_forms_that_worked_before_still_score(tmp_path: Path, cases: Any, files: dict[str, str]) -> None:
    suite, stderr = run_json(repo_with(tmp_path / "repo", cases, files))
    assert exact_match(suite)["mean"] == pytest.approx(2 / 3) and suite["warnings"] == []
    assert "warning" not in stderr
