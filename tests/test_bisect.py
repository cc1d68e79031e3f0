"""`evals bisect` on real git histories: the fake model answers right before a given commit and wrong after it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from promptarena.bisect import bisect_suite, steps_by_commit
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from promptarena.views import score_drops, suite_entries
from tests.support.cli import cli, exited
from tests.support.git import GitRepo
from tests.support.repos import COUNTRIES, QA_V1, count_rows, qa_cases, results_db, write_suite
from tests.support.workbench import APP, ok, point_app_at

RIGHT = {f"Capital of {c}?": city for c, city in {**COUNTRIES, "Germany": "Berlin"}.items()}
HALF_WRONG = {f"Capital of {c}?!": "no idea" for c in list(COUNTRIES)[:3]}  # matched before RIGHT: 3 of 6 wrong


def prompt(edit: int, ending: str = "?") -> str:
    """The qa prompt at an edit; ending "?" is answered right, "!?" wrong for every case, "?!" wrong for half."""
    return QA_V1.replace("Capital of {{ country }}?", f"Capital of {{{{ country }}}}{ending} (edit {edit})")


GERMANY = {"id": "germany", "vars": {"country": "Germany"}, "reference": "Berlin"}


def write_cases(repo: GitRepo, form: str, cases: list[dict], **suite: object) -> None:
    """Write the suite with ``cases`` in one of the documented forms of `cases:`.

    "path": `cases: cases/qa.jsonl`; "columns": `cases: {file, id, reference, vars}` over a CSV file whose
    columns are named otherwise (and one is not a variable); "inline": a list in the suite file.
    """
    model = {"backend": "fake", "responses": {**HALF_WRONG, **RIGHT}}
    if form == "path":
        repo.write("evals/cases/qa.jsonl", "".join(json.dumps(c) + "\n" for c in cases))
        spec: object = "cases/qa.jsonl"
    elif form == "columns":
        rows = "".join(f"{c['id']},{c['vars']['country']},{c['reference']},somewhere\n" for c in cases)
        repo.write("evals/data/capitals.csv", "key,country,capital,continent\n" + rows)
        spec = {"file": "data/capitals.csv", "id": "key", "reference": "capital", "vars": ["country"]}
    else:
        spec = cases
    write_suite(repo, model=model, cases=spec, **suite)


def history(
    root: Path, edits: int, first_bad: int, ending: str = "!?", form: str = "path", **suite: object
) -> tuple[GitRepo, list[str]]:
    """A prompt with ``edits`` commits after its first, each after an unrelated commit; wrong from ``first_bad`` on.

    Edit 2 moves the prompt to prompts/capital.prompt; edit 4 adds a case to the cases (written in ``form``, see
    ``write_cases``) instead of editing the prompt. Returns the repository and the shas of the first commit and
    of every edit.
    """
    repo = GitRepo(root)
    repo.write("prompts/qa.prompt", prompt(0))
    write_cases(repo, form, qa_cases(), **suite)
    shas = [repo.commit("qa: first version")]
    for edit in range(1, edits + 1):
        repo.write("NOTES.md", f"notes {edit}\n")
        repo.commit(f"notes {edit}")
        name = "qa" if edit < 2 else "capital"
        if edit == 2:
            repo.move("prompts/qa.prompt", "prompts/capital.prompt")
            write_cases(repo, form, qa_cases(), prompt="capital", **suite)
        if edit == 4:
            write_cases(repo, form, [*qa_cases(), GERMANY], prompt="capital", **suite)
        else:
            repo.write(f"prompts/{name}.prompt", prompt(edit, ending if edit >= first_bad else "?"))
        shas.append(repo.commit(f"qa: edit {edit}"))
    return repo, shas


def run_each_version(repo: GitRepo, shas: list[str]) -> None:
    """Evaluate the prompt at every commit of the history but edit 4, which changed only the cases."""
    with PromptStore(repo.root) as store, ResultsStore(results_db(repo)) as results:
        suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
        run_suite(suite, store, results, versions=[store.version_at("capital", s) for s in shas if s != shas[4]])


def bisect(repo: GitRepo, good: str, bad: str, **kwargs: object):  # noqa: ANN201 - a Bisection
    with PromptStore(repo.root) as store, ResultsStore(results_db(repo)) as results:
        suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
        return bisect_suite(suite, store, results, good, bad, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("first_bad", [1, 6, 11, 12])
def test_finds_the_first_bad_commit_evaluating_log_n_of_the_candidates(tmp_path: Path, first_bad: int) -> None:
    repo, shas = history(tmp_path, edits=12, first_bad=first_bad)
    outcome = bisect(repo, shas[0], "HEAD")

    assert outcome.first_bad is not None and outcome.first_bad.sha == shas[first_bad]
    assert outcome.first_bad.subject == f"qa: edit {first_bad}"
    # only the twelve edits are candidates (the rename and the case file too), never the unrelated commits
    assert [c.sha for c in outcome.candidates] == shas[1:]
    assert all(not s.commit.subject.startswith("notes") for s in outcome.steps)
    # good, the bad revision's state, then a binary search over the other eleven: at most 2 + ceil(log2 12)
    assert outcome.evaluated <= 2 + math.ceil(math.log2(12)) < 13
    verdicts = {s.commit.sha: s for s in outcome.steps}
    assert verdicts[shas[first_bad]].verdict == "worse"
    assert verdicts[shas[first_bad]].comparison.p_value < 0.05
    assert all(s.verdict == "ok" for s in outcome.steps if shas.index(s.commit.sha) < first_bad)
    assert outcome.conclusion.startswith(f"first bad commit: {shas[first_bad][:7]} qa: edit {first_bad};")


@pytest.mark.parametrize("form", ["path", "columns", "inline"])
def test_every_form_of_cases_is_read_at_each_commit(tmp_path: Path, form: str) -> None:
    repo, shas = history(tmp_path, edits=6, first_bad=5, form=form)
    outcome = bisect(repo, shas[0], "HEAD")

    assert outcome.first_bad is not None and outcome.first_bad.sha == shas[5]
    assert [c.sha for c in outcome.candidates] == shas[1:]  # edit 4 changed only the cases, in whichever file
    # each commit is evaluated on the cases it had then: six before edit 4, seven from it on
    assert {s.commit.sha: s.interval.n for s in steps_by_commit(outcome)} == {
        s.commit.sha: 6 if shas.index(s.commit.sha) < 4 else 7 for s in outcome.steps
    } | {shas[0]: 6}

    result = cli("bisect", "qa", "--good", shas[0], "--bad", "HEAD", "--repo", str(repo.root), "--json")
    assert json.loads(exited_out(result))["first_bad"]["commit"] == shas[5]


def test_a_rerun_generates_nothing(tmp_path: Path) -> None:
    repo, shas = history(tmp_path, edits=8, first_bad=5)
    first = bisect(repo, shas[0], "HEAD")
    generations = count_rows(results_db(repo), "generations")
    assert first.generated == generations > 0

    again = bisect(repo, shas[0], "HEAD")
    assert again.generated == 0 and again.first_bad == first.first_bad and again.first_bad.sha == shas[5]
    assert count_rows(results_db(repo), "generations") == generations


def test_a_bisect_after_a_run_generates_nothing(tmp_path: Path) -> None:
    repo, shas = history(tmp_path, edits=8, first_bad=5)
    run_each_version(repo, shas)
    generations = count_rows(results_db(repo), "generations")

    outcome = bisect(repo, shas[0], "HEAD")
    assert outcome.first_bad is not None and outcome.first_bad.sha == shas[5]
    # the run evaluated every version on today's cases; older commits had a subset of them, all cached
    assert outcome.generated == 0 and count_rows(results_db(repo), "generations") == generations


def test_a_commit_below_the_threshold_is_bad_even_when_not_significantly_worse(tmp_path: Path) -> None:
    repo, shas = history(tmp_path, edits=6, first_bad=3, ending="?!", thresholds={"exact_match": 0.8})
    outcome = bisect(repo, shas[0], "HEAD")

    assert outcome.first_bad is not None and outcome.first_bad.sha == shas[3]
    step = next(s for s in outcome.steps if s.commit.sha == shas[3])
    assert step.verdict == "below threshold" and step.comparison.verdict != "worse"
    assert step.interval.mean == pytest.approx(0.5)

    # from a good that misses the threshold too, the threshold tells nothing apart: only a significant drop counts
    later = bisect(repo, shas[3], "HEAD")
    assert later.first_bad is None and later.threshold is None and later.ignored_threshold == 0.8
    assert "is not significantly worse than good" in later.conclusion


def test_a_bad_revision_that_is_not_worse_is_reported_with_exit_0(tmp_path: Path) -> None:
    repo, shas = history(tmp_path, edits=5, first_bad=99)
    result = cli("bisect", "qa", "--good", shas[0], "--bad", "HEAD", "--repo", str(repo.root))
    exited(result, 0)
    assert "no bad commit: bad (as of" in " ".join(result.stdout.split())
    assert "2 of 6 commits evaluated" in " ".join(result.stdout.split())


def test_cli_prints_each_tested_commit_and_the_first_bad_one_and_json(tmp_path: Path) -> None:
    repo, shas = history(tmp_path, edits=8, first_bad=6)
    args = ("bisect", "qa", "--good", shas[0], "--bad", "HEAD", "--repo", str(repo.root))
    out = " ".join(exited_out(cli(*args)).split())
    assert f"{shas[6][:7]} qa: edit 6" in out and "worse (p=" in out and " ok " in out
    assert f"first bad commit: {shas[6][:7]} qa: edit 6;" in out
    assert "of 9 commits evaluated (good and 8 candidates)" in out

    result = cli(*args, "--json")
    exited(result, 0)
    doc = json.loads(result.stdout)
    assert doc["first_bad"] == {"commit": shas[6], "subject": "qa: edit 6"}
    assert doc["generated"] == 0 and doc["metric"] == "exact_match" and len(doc["candidates"]) == 8
    assert [s["verdict"] for s in doc["steps"]][0] == "good"
    assert doc["steps"][-1]["commit"] == shas[8] and doc["steps"][-1]["verdict"] == "worse"


def test_variant_names_the_arm_every_commit_is_evaluated_with(tmp_path: Path) -> None:
    repo, shas = history(tmp_path, edits=4, first_bad=3, variants=["plain", "cot"])
    result = cli(
        "bisect", "qa", "--good", shas[0], "--bad", "HEAD", "--repo", str(repo.root), "--variant", "cot", "--json"
    )
    doc = json.loads(exited_out(result))
    assert doc["arm"] == "cot" and doc["first_bad"]["commit"] == shas[3]
    with ResultsStore(results_db(repo)) as results:
        variants = {row[0] for row in results.conn.execute("SELECT DISTINCT variant FROM results")}
    assert variants == {"cot"}  # the first variant (plain) was never evaluated


def exited_out(result) -> str:  # noqa: ANN001 - click's Result
    exited(result, 0)
    return result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nosuch", "--good", "HEAD~1", "--bad", "HEAD"), "nosuch: no such suite file"),
        (("qa", "--good", "v9", "--bad", "HEAD"), "--good v9: unknown revision 'v9'"),
        (("qa", "--good", "HEAD", "--bad", "HEAD~3"), "is not an ancestor of --bad HEAD~3"),
        (("qa", "--good", "HEAD~2", "--bad", "HEAD", "--metric", "exact_mach"), "did you mean exact_match?"),
        (("qa", "--good", "HEAD~1", "--bad", "HEAD~1"), "no commit in HEAD~1..HEAD~1 changes the prompt"),
        (
            ("qa", "--good", "HEAD~2", "--bad", "HEAD", "--variant", "pain"),
            "lists no variant 'pain' (did you mean plain?)",
        ),
    ],
)
def test_bad_input_exits_2_with_one_sentence_and_writes_nothing(tmp_path: Path, args, message: str) -> None:
    repo, _ = history(tmp_path, edits=3, first_bad=2)
    result = cli("bisect", *args, "--repo", str(repo.root))
    assert message in exited(result, 2)
    assert count_rows(results_db(repo), "generations") == 0


def test_history_marks_where_the_stored_score_dropped_without_generating(tmp_path: Path) -> None:
    repo, shas = history(tmp_path, edits=6, first_bad=5)
    run_each_version(repo, shas)
    generations = count_rows(results_db(repo), "generations")
    with PromptStore(repo.root) as store, ResultsStore(results_db(repo)) as results:
        drops = score_drops(results, store, "capital", suite_entries(repo.root, results))
    assert [(d.version, d.before, d.metric, d.comparison.verdict) for d in drops] == [
        (shas[5][:7], shas[3][:7], "exact_match", "worse")  # edit 4 changed the cases only: same prompt text
    ]
    assert drops[0].message == "qa: edit 5"
    assert count_rows(results_db(repo), "generations") == generations


def test_history_page_marks_the_commit_where_the_score_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    repo, shas = history(tmp_path, edits=6, first_bad=5)
    run_each_version(repo, shas)
    point_app_at(monkeypatch, repo.root, results_db(repo))
    at = ok(AppTest.from_file(str(APP / "pages" / "1_Prompt_history.py"), default_timeout=60).run())
    drops = next(d.value for d in at.dataframe if d.value.columns[0] == "")
    assert drops.to_dict("records")[0] | {"p": None} == {
        "": "⚠ dropped here",
        "version": shas[5][:7],
        "message": "qa: edit 5",
        "suite": "qa",
        "variant": "plain",
        "metric": "exact_match",
        "before → after": f"1.00 ({shas[3][:7]}) → 0.00",
        "p": None,
    }
