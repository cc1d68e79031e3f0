"""One vote per person per output: casting, withdrawing and changing a vote, the migration that keyed votes by
voter, and the share and merge that count people instead of clicks."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from promptarena import feedback
from promptarena.store import MIGRATIONS, ResultsStore
from tests.support.repos import database_at

BLOB = "b" * 40


def _vote(results: ResultsStore, up: bool, **kwargs: str) -> feedback.Outcome:
    args = {"case_id": "c", "output": "Paris", "comment": None, "name": None, **kwargs}
    return feedback.record(results, suite="qa", prompt="qa", blob=BLOB, variant="plain", thumbs_up=up, **args)


def _rows(results: ResultsStore) -> list[tuple[str, bool, str | None]]:
    return sorted((v.voter, v.thumbs_up, v.comment) for v in feedback.votes(results, "qa"))


@pytest.fixture
def results(tmp_path: Path):
    with ResultsStore(tmp_path / "r.db") as store:
        yield store


def test_a_vote_is_cast_once_and_the_same_click_again_withdraws_it(results: ResultsStore) -> None:
    assert _vote(results, True, name="Alice", comment="short and right") == "cast"
    assert _rows(results) == [("alice", True, "short and right")]
    assert _vote(results, True, name="Alice") == "withdrawn"
    assert _rows(results) == [] and results.count("feedback") == 1  # the row stays, as a withdrawal
    assert feedback.thumbs_up_share(results, "qa", BLOB, "plain")[1] == 0
    assert results.vote_counts("qa") == {}
    assert _vote(results, False, name="Alice") == "cast"
    assert _rows(results) == [("alice", False, None)]  # a withdrawn comment does not come back


def test_the_other_thumb_changes_the_vote_in_place(results: ResultsStore) -> None:
    _vote(results, True, name="Alice", comment="too long")
    (before,) = feedback.votes(results, "qa")
    assert _vote(results, False, name="alice ") == "changed"  # the same person: case and spaces ignored
    (after,) = feedback.votes(results, "qa")
    assert (after.id, after.thumbs_up, after.comment, after.name) == (before.id, False, "too long", "alice")
    assert _vote(results, True, name="Alice", comment="fine after all") == "changed"
    assert _rows(results) == [("alice", True, "fine after all")]


def test_repeated_clicks_count_once_and_people_count_each(results: ResultsStore) -> None:
    for _ in range(3):
        _vote(results, True, voter="anonymous:tab1")
        _vote(results, True, voter="anonymous:tab1")
    assert _vote(results, True, voter="anonymous:tab1") == "cast"
    _vote(results, False, name="Bob")
    _vote(results, True, name="Alice")
    _vote(results, True, name="Alice", output="Paris, France")  # another output of the same case: its own vote
    assert _rows(results) == [
        ("alice", True, None),
        ("alice", True, None),
        ("anonymous:tab1", True, None),
        ("bob", False, None),
    ]
    assert feedback.thumbs_up_share(results, "qa", BLOB, "plain") == (0.75, 4)
    interval = feedback.thumbs_up_shares(results, "qa")[("qa", BLOB, "plain")]
    assert (interval.n, interval.mean) == (4, 0.75)


def test_votes_narrow_to_one_output(results: ResultsStore) -> None:
    _vote(results, True, name="Alice", comment="right")
    _vote(results, False, name="Bob", output="Lyon", comment="wrong city")
    (vote,) = feedback.votes(results, "qa", BLOB, "plain", "c", output="Lyon")
    assert (vote.name, vote.comment, vote.output_hash) == ("Bob", "wrong city", feedback.output_hash("Lyon"))


def test_clicks_from_two_connections_at_once_leave_one_vote(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    ResultsStore(db).close()
    outcomes: list[str] = []

    def click() -> None:
        with ResultsStore(db) as store:
            outcomes.append(_vote(store, True, name="Alice"))

    threads = [threading.Thread(target=click) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with ResultsStore(db) as store:
        rows = _rows(store)
    assert sorted(outcomes) == ["cast", "cast", "cast", "withdrawn", "withdrawn"]
    assert rows == [("alice", True, None)]  # five clicks alternate cast / withdrawn, never two rows


def test_the_database_refuses_a_second_row_for_the_same_person_and_output(results: ResultsStore) -> None:
    _vote(results, True, name="Alice")
    with pytest.raises(Exception, match="UNIQUE constraint failed"), results.write() as conn:
        conn.execute(
            "INSERT INTO feedback SELECT NULL, suite, prompt, blob, variant, case_id, output_hash, voter, "
            "thumbs_up, comment, name, created_at FROM feedback"
        )
    assert results.count("feedback") == 1


# --- the migration -----------------------------------------------------------------------------------------


def _version_5_database(path: Path) -> None:
    """A database as promptarena made it before votes had voters, with repeated clicks of one person in it."""
    rows = [
        ("qa", "qa", BLOB, "plain", "c", "h1", 1, "good", "Alice", "2024-05-01T10:00:00+00:00"),
        ("qa", "qa", BLOB, "plain", "c", "h1", 1, None, "Alice", "2024-05-01T10:00:00+00:00"),
        ("qa", "qa", BLOB, "plain", "c", "h1", 1, None, None, "2024-05-01T10:00:01+00:00"),
        ("qa", "qa", BLOB, "plain", "d", "h2", 0, "bad", None, "2024-05-02T09:00:00+00:00"),
    ]
    database_at(path, 5, feedback=[(None, *row) for row in rows])  # the id is given by SQLite


def test_the_migration_keeps_every_legacy_vote_apart(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _version_5_database(db)
    with ResultsStore(db) as results:
        assert results.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        old = sorted(feedback.votes(results, "qa"), key=lambda v: v.id)
        assert [(v.id, v.case_id, v.thumbs_up, v.comment, v.name) for v in old] == [
            (1, "c", True, "good", "Alice"),
            (2, "c", True, None, "Alice"),
            (3, "c", True, None, None),
            (4, "d", False, "bad", None),
        ]
        assert [v.voter for v in old] == [f"legacy:{v.id}@{v.created_at}" for v in old]
        assert feedback.thumbs_up_share(results, "qa", BLOB, "plain") == (0.75, 4)
        # a new vote of Alice's is hers alone; the legacy rows stay as they were
        _vote(results, True, name="Alice", output="x")
        assert _vote(results, True, name="Alice", output="x") == "withdrawn"
        assert len(feedback.votes(results, "qa")) == 4


# --- merging teammates' databases --------------------------------------------------------------------------


def test_merge_keeps_one_vote_per_person_the_newer_one(tmp_path: Path) -> None:
    ours, theirs = ResultsStore(tmp_path / "ours.db"), ResultsStore(tmp_path / "theirs.db")
    with ours, theirs:
        _vote(ours, True, name="Alice", comment="first look")
        _vote(theirs, True, name="Bob")
        _vote(theirs, False, name="Alice", comment="on second thought")
        with theirs.write() as conn:  # Alice's vote in their database is the later one
            conn.execute("UPDATE feedback SET created_at = '2999-01-01T00:00:00+00:00' WHERE voter = 'alice'")
        report = ours.merge(theirs)
        assert report.added["feedback"] == 1
        assert _rows(ours) == [("alice", False, "on second thought"), ("bob", True, None)]
        again = ours.merge(theirs)
        assert again.added["feedback"] == 0 and _rows(ours) == [
            ("alice", False, "on second thought"),
            ("bob", True, None),
        ]
        with theirs.write() as conn:  # now our vote of Alice's is the later one: theirs does not replace it
            conn.execute("UPDATE feedback SET created_at = '2000-01-01T00:00:00+00:00' WHERE voter = 'alice'")
        assert _vote(ours, True, name="Alice", comment="settled") == "changed"
        ours.merge(theirs)
        assert _rows(ours) == [("alice", True, "settled"), ("bob", True, None)]


def test_a_withdrawn_vote_stays_withdrawn_when_an_older_copy_is_merged(tmp_path: Path) -> None:
    ours, theirs = ResultsStore(tmp_path / "ours.db"), ResultsStore(tmp_path / "theirs.db")
    with ours, theirs:
        _vote(theirs, True, name="Alice", comment="first look")  # a teammate's copy from before the withdrawal
        with theirs.write() as conn:
            conn.execute("UPDATE feedback SET created_at = '2000-01-01T00:00:00+00:00'")
        _vote(ours, True, name="Alice", comment="first look")
        assert _vote(ours, True, name="Alice") == "withdrawn"
        ours.merge(theirs)
        assert _rows(ours) == [] and feedback.thumbs_up_share(ours, "qa", BLOB, "plain")[1] == 0
        # and a vote cast after the withdrawal, in the other copy, is the newer one: it comes in
        with theirs.write() as conn:
            conn.execute("UPDATE feedback SET created_at = '2999-01-01T00:00:00+00:00'")
        ours.merge(theirs)
        assert _rows(ours) == [("alice", True, "first look")]


def test_merge_keeps_two_databases_legacy_votes_apart(tmp_path: Path) -> None:
    _version_5_database(tmp_path / "a.db")
    _version_5_database(tmp_path / "b.db")
    conn = sqlite3.connect(tmp_path / "b.db")  # the teammate's first vote, cast at another moment
    with conn:
        conn.execute("UPDATE feedback SET created_at = '2024-06-01T08:00:00+00:00' WHERE id = 1")
    conn.close()
    with ResultsStore(tmp_path / "a.db") as a, ResultsStore(tmp_path / "b.db") as b:
        report = a.merge(b)
        assert report.added["feedback"] == 1  # the same database twice adds nothing; the other first vote is new
        assert a.count("feedback") == 5
