"""`evals try`: a draft file evaluated beside the newest commit, cached by its content, never committed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import cli, exited
from tests.support.repos import COUNTRIES, QA_V2, qa_repo

DRAFT = QA_V2.replace("Name the capital city of {{ country }}.", "Tell me about {{ country }}.")


def right_at_head(tmp_path: Path):
    """The qa repository where the newest commit answers every case right and the draft (echoed) none."""
    return qa_repo(tmp_path / "repo", responses={f"capital city of {c}.": city for c, city in COUNTRIES.items()})


def test_try_prints_the_comparison_and_a_second_try_generates_nothing(tmp_path: Path) -> None:
    repo = right_at_head(tmp_path)
    draft = repo.write("../draft.prompt", DRAFT)  # outside the repository: any file can be tried
    first = cli("try", str(draft), "--suite", "qa", "--repo", str(repo.root))
    exited(first, 0)
    assert "paired comparison on 6 cases" in first.stdout and "worse" in first.stdout
    assert "12 generated" in first.stdout  # the draft and the newest commit, 6 cases each
    again = cli("try", str(draft), "--suite", "qa", "--repo", str(repo.root))
    exited(again, 0)
    assert "0 generated, 12 from cache" in again.stdout
    assert repo.git("status", "--porcelain") == ""


def test_try_gates_only_when_asked(tmp_path: Path) -> None:
    repo = right_at_head(tmp_path)
    repo.write("prompts/qa.prompt", DRAFT)  # a worktree edit, tried as a file of its prompt (suite found by name)
    gated = cli("try", str(repo.root / "prompts/qa.prompt"), "--repo", str(repo.root), "--gate", "--json")
    exited(gated, 1)
    doc = json.loads(gated.stdout)
    [tried] = doc["tries"]
    assert tried["draft"].startswith("draft-") and tried["newest"] == repo.rev_parse("HEAD")[:7]
    assert [g["passed"] for g in tried["gates"]] == [False]
    assert tried["comparisons"][0]["metrics"][0]["verdict"] == "worse"


def test_try_on_the_first_cases_and_its_draft_revision_runs_again(tmp_path: Path) -> None:
    repo = right_at_head(tmp_path)
    draft = repo.write("../qa.prompt", DRAFT)
    result = cli("try", str(draft), "--repo", str(repo.root), "--cases", "first:2", "--json")
    exited(result, 0)
    [tried] = json.loads(result.stdout)["tries"]
    assert tried["cases"] == ["france", "japan"]
    run = cli("run", "qa", "--repo", str(repo.root), "--rev", tried["draft"], "--json")
    exited(run, 0)
    [suite] = json.loads(run.stdout)["suites"]
    assert (suite["cached"], suite["generated"]) == (2, 4)  # the two tried cases come from the cache


def test_a_template_error_is_bad_input_naming_the_line(tmp_path: Path) -> None:
    repo = right_at_head(tmp_path)
    draft = repo.write("../qa.prompt", DRAFT.replace("{{ country }}", "{{ country }"))
    stderr = exited(cli("try", str(draft), "--repo", str(repo.root)), 2)
    assert "prompts/qa.prompt:11" in stderr
    assert not (repo.root / ".promptarena" / "drafts" / "qa").exists()


def test_bad_case_selection_and_a_missing_file_are_bad_input(tmp_path: Path) -> None:
    repo = right_at_head(tmp_path)
    draft = repo.write("../qa.prompt", DRAFT)
    assert "first:N" in exited(cli("try", str(draft), "--repo", str(repo.root), "--cases", "top:3"), 2)
    assert "no such file" in exited(cli("try", str(tmp_path / "gone.prompt"), "--repo", str(repo.root)), 2)
    assert "gets no stored case wrong" in exited(
        cli("try", str(draft), "--repo", str(repo.root), "--cases", "wrong"), 2
    )


def test_a_holistic_suite_compares_the_worst_cases_and_the_workbench_has_its_rows(tmp_path: Path) -> None:
    from promptarena import views
    from promptarena.gitstore import PromptStore
    from promptarena.store import ResultsStore
    from tests.test_holistic_run import PROMPT, review_repo

    repo = review_repo(tmp_path / "repo")
    draft = repo.write("../review.prompt", PROMPT.replace("Label the review.", "Label the review, in one word."))
    result = cli("try", str(draft), "--repo", str(repo.root), "--json")
    exited(result, 0)
    [tried] = json.loads(result.stdout)["tries"]
    [comparison] = tried["comparisons"]
    assert {row["metric"] for row in comparison["holistic"]} >= {"exact_match (robust worst case)"}
    with PromptStore(repo.root) as store, ResultsStore(repo.root / ".promptarena" / "results.db") as results:
        newest = store.resolve("review@HEAD").blob
        rows = views.holistic_rows(results, "review", {"newest commit": newest, "draft": tried["blob"]})
    accuracy = next(r for r in rows if r["dimension"] == "accuracy")
    assert accuracy["newest commit"] and accuracy["draft"]  # both versions, side by side


def test_try_on_the_cases_the_newest_commit_gets_wrong(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")  # the newest commit gets every other country wrong
    exited(cli("run", "qa", "--repo", str(repo.root), "--rev", "HEAD"), 0)
    draft = repo.write("../qa.prompt", DRAFT)
    result = cli("try", str(draft), "--repo", str(repo.root), "--cases", "wrong", "--json")
    exited(result, 0)
    [tried] = json.loads(result.stdout)["tries"]
    assert tried["cases"] == ["france", "italy", "peru"]
    assert tried["summary"]["generated"] == 3  # the newest commit's answers come from the cache
