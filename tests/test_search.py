"""Filters and full-text search over stored outputs, answered by the results store: each filter on hand-built
results with the exact cases it must keep, the search index kept in step with replaced rows, and the migration
that indexes an older database's results."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from promptarena import feedback, views
from promptarena.errors import BackendError
from promptarena.store import MIGRATIONS, RESULT_COLUMNS, OutputFilter, ResultRow, ResultsStore, ScoreRange
from promptarena.suite import load_suite
from promptarena.types import Generation
from tests.support.repos import corrupt_a_page, qa_repo

A = ("run1", "a" * 40, "plain", "")
B = ("run1", "b" * 40, "plain", "")
# case -> (A's output, A's answer, A's exact_match, B's output, B's answer, B's exact_match, the input sent)
CASES = {
    "capital": ("The capital is Paris.", "paris", 1.0, "It is Lyon, I think.", "lyon", 0.0, "Capital of France?"),
    "sum": ("2 + 2 = 4", "4", 1.0, "The sum is 4.", "4", 1.0, "What is 2 + 2?"),
    "colour": ("The sky is blue", "blue", 1.0, "Sky: grey-blue", "grey", 0.0, "Colour of the sky?"),
    "river": ("The Seine flows there.", "seine", 0.0, "The Seine, of course", "seine", 0.0, "River of Paris?"),
}


def _row(arm: tuple[str, str, str, str], case: str, output: str, answer: str, score: float | None) -> ResultRow:
    run_id, blob, variant, model = arm
    return ResultRow(
        run_id=run_id,
        suite="qa",
        prompt="qa",
        version=blob[:7],
        commit_sha=blob,
        blob=blob,
        variant=variant,
        model=model,
        case_id=case,
        perturbation="",
        output=output,
        answer=answer,
        confidence=None,
        reasoning=None,
        generation_keys=[f"key-{blob[0]}-{case}"],
        scores={"exact_match": score, "length": float(len(output))},
    )


def _fill(results: ResultsStore) -> None:
    """Two arms of one run on four cases, each output's request stored first as the engine stores it."""
    with results.write() as conn:
        conn.execute("INSERT INTO runs (id, suite, prompt, status, started_at, provenance) VALUES (?, 'qa', 'qa', "
                     "'completed', '2026-01-01T00:00:00', '{}')", (A[0],))  # fmt: skip
    results.put_generations(
        [
            (
                f"key-{arm[1][0]}-{case}",
                "fake",
                {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": row[6]}]},
                Generation(row[0 if arm is A else 3], 3, 5, 0.1, "stop"),
            )
            for case, row in CASES.items()
            for arm in (A, B)
        ]
    )
    results.put_results(
        [_row(A, case, out, ans, score) for case, (out, ans, score, *_) in CASES.items()]
        + [_row(B, case, out, ans, score) for case, (_, _, _, out, ans, score, _) in CASES.items()]
    )


@pytest.fixture
def results(tmp_path: Path):
    with ResultsStore(tmp_path / "r.db") as store:
        _fill(store)
        yield store


def _cases(results: ResultsStore, arms=(A, B), **where) -> list[str]:  # noqa: ANN001
    return results.filter_cases("qa", list(arms), OutputFilter(**where))


def test_no_filter_keeps_every_case_in_the_order_stored(results: ResultsStore) -> None:
    assert _cases(results) == ["capital", "sum", "colour", "river"]
    assert not OutputFilter().active and OutputFilter(text="x").active and not OutputFilter(text=" * ").active


def test_arms_differ_keeps_the_cases_whose_answers_differ(results: ResultsStore) -> None:
    assert _cases(results, differ=True) == ["capital", "colour"]
    assert _cases(results, arms=(A,), differ=True) == []  # one arm never differs from itself


def test_a_score_range_keeps_the_cases_some_arm_scores_in_it(results: ResultsStore) -> None:
    failing = ScoreRange("exact_match", high=0.0)
    assert _cases(results, scores=(failing,)) == ["capital", "colour", "river"]
    assert _cases(results, arms=(A,), scores=(failing,)) == ["river"]
    assert _cases(results, scores=(ScoreRange("length", 13, 15),)) == ["sum", "colour"]  # 13; 15 and 14
    both = (failing, ScoreRange("length", low=20))
    assert _cases(results, scores=both) == ["capital", "river"]
    assert _cases(results, scores=(ScoreRange("no_such_metric", 0, 1),)) == []


def test_search_finds_words_in_outputs_answers_and_inputs(results: ResultsStore) -> None:
    assert _cases(results, text="seine") == ["river"]
    assert _cases(results, text="PARIS") == ["capital", "river"]  # A's output, and the input of the river case
    assert _cases(results, text="paris capital") == ["capital"]  # every word
    assert _cases(results, text="lyon") == ["capital"]  # B's output only
    assert _cases(results, arms=(A,), text="lyon") == []
    assert _cases(results, text="grey-blue") == ["colour"]  # punctuation is text, not an operator
    assert _cases(results, text="cap*") == ["capital"]  # a prefix
    assert _cases(results, text='"sky (') == ["colour"]  # FTS5 syntax typed by a person is plain words
    assert _cases(results, text="sky NEAR") == []  # every word, "near" too
    assert _cases(results, text="brief") == []  # the system prompt is not the input
    assert _cases(results, text="seine", differ=True) == []  # conditions combine


def test_vote_filters_count_votes_on_the_output_shown(results: ResultsStore) -> None:
    def vote(arm: tuple[str, str, str, str], case: str, output: str, voter: str, comment: str | None = None) -> None:
        feedback.record(
            results, suite="qa", prompt="qa", blob=arm[1], variant=arm[2], case_id=case, output=output,
            thumbs_up=True, comment=comment, name=None, voter=voter,
        )  # fmt: skip

    vote(A, "capital", CASES["capital"][0], "alice")
    vote(B, "capital", CASES["capital"][3], "bob", comment="wrong city")
    vote(A, "sum", CASES["sum"][0], "alice", comment="good")
    vote(B, "sum", CASES["sum"][3], "alice")
    vote(A, "colour", "an older output of this case", "alice")  # not the output stored: not a vote on it
    assert _cases(results, votes="voted") == ["capital", "sum"]
    assert _cases(results, votes="commented") == ["capital", "sum"]
    assert _cases(results, arms=(A,), votes="commented") == ["sum"]
    assert _cases(results, votes="unvoted") == ["colour", "river"]
    assert _cases(results, votes="unvoted", voter="bob") == ["capital", "sum", "colour", "river"]  # A's, for bob
    assert _cases(results, arms=(B,), votes="unvoted", voter="bob") == ["sum", "colour", "river"]
    assert _cases(results, votes="unvoted", voter="alice") == ["capital", "colour", "river"]
    vote(A, "capital", CASES["capital"][0], "alice")  # the same click again withdraws it
    assert _cases(results, votes="voted", voter="alice") == ["sum"]


def test_a_replaced_result_is_searched_by_its_new_words_only(results: ResultsStore) -> None:
    results.put_results([_row(A, "capital", "Marseille, surely", "marseille", 0.0)])  # INSERT OR REPLACE
    assert _cases(results, arms=(A,), text="marseille") == ["capital"]
    assert _cases(results, arms=(A,), text="paris") == ["river"]  # the old output's words are gone
    with results.read() as conn:
        indexed = conn.execute("SELECT COUNT(*) FROM results_text").fetchone()[0]
    assert indexed == results.count("results") == 8


def test_score_grid_holds_each_arms_score_by_case(results: ResultsStore) -> None:
    ids, columns = results.score_grid("qa", [A, B], "exact_match")
    assert ids == ["capital", "sum", "colour", "river"]
    assert columns == [
        {"capital": 1.0, "sum": 1.0, "colour": 1.0, "river": 0.0},
        {"capital": 0.0, "sum": 1.0, "colour": 0.0, "river": 0.0},
    ]


def test_the_migration_indexes_an_older_databases_results(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript("".join(MIGRATIONS[:10]) + "PRAGMA user_version = 10;")
    conn.execute("INSERT INTO runs (id, suite, prompt, status, started_at, provenance) VALUES (?, 'qa', 'qa', "
                 "'completed', '2026-01-01T00:00:00', '{}')", (A[0],))  # fmt: skip
    rows = [_row(A, case, out, ans, score) for case, (out, ans, score, *_) in CASES.items()]
    marks = ", ".join("?" * len(RESULT_COLUMNS))
    conn.executemany(f"INSERT INTO results ({', '.join(RESULT_COLUMNS)}) VALUES ({marks})", [r.values() for r in rows])
    request = {"messages": [{"role": "user", "content": "Capital of France?"}]}
    conn.execute(
        "INSERT INTO generations (key, model, request, text, prompt_tokens, completion_tokens, latency_s, "
        "finish_reason, created_at) VALUES (?, 'fake', ?, 'x', 1, 1, 0.1, 'stop', '2026-01-01T00:00:00')",
        ("key-a-capital", json.dumps(request)),
    )
    conn.commit()
    conn.close()
    with ResultsStore(db) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.filter_cases("qa", [A], OutputFilter(text="seine")) == ["river"]
        assert store.filter_cases("qa", [A], OutputFilter(text="france")) == ["capital"]  # the input, indexed
        store.put_results([_row(A, "sum", "Four, it is.", "4", 1.0)])  # the triggers work on the migrated file
        assert store.filter_cases("qa", [A], OutputFilter(text="four")) == ["sum"]
        assert store.filter_cases("qa", [A], OutputFilter(text="2")) == []  # the replaced output's words went


def test_a_database_checked_once_is_checked_again_once_it_changes(results: ResultsStore) -> None:
    """Opening skips the whole-file check for a file this process found sound and nothing wrote since: a page
    damaged afterwards is still refused."""
    path = results.path
    results.close()
    ResultsStore(path).close()  # checked, and remembered as sound
    corrupt_a_page(path)
    with pytest.raises(BackendError, match="is corrupt"):
        ResultsStore(path)


def test_failing_means_the_worse_half_of_a_metric_in_its_direction(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
    assert views.failing_range(suite, "exact_match") == ScoreRange("exact_match", high=0.0)  # pass/fail
    assert views.failing_range(suite, "rougeL") == ScoreRange("rougeL", high=0.5)  # in [0, 1], higher is better
    assert views.failing_range(suite, "latency_s") is None  # lower is better but unbounded: no half
    assert views.failing_range(suite, "prompt_tokens") is None  # no direction
    assert views.failing_range(suite, "no_such_metric") is None


def test_the_grid_scale_runs_from_worst_to_best_in_the_metrics_direction(results: ResultsStore) -> None:
    arms = [views.ArmChoice("qa", "qa", blob, variant, blob[:7], blob, run, "") for run, blob, variant, _ in (A, B)]
    grid = views.score_grid(results, None, arms, "length", cases=["sum", "river"])
    assert grid.cases == ["sum", "river"] and grid.values == [[9.0, 13.0], [22.0, 20.0]]
    assert (grid.worst, grid.best) == (9.0, 22.0)  # no suite: the scores' own span, higher is better
    assert [grid.parts(i) for i in range(2)] == [True, True]
    assert views.score_grid(results, None, arms[:1], "exact_match").values == [[1.0], [1.0], [1.0], [0.0]]
