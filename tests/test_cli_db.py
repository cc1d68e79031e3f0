"""`evals db export` and `evals db merge` on real databases from real runs, and what the run path imports."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from promptarena import jobs
from promptarena.cli import main
from promptarena.store import ResultsStore, tables
from tests.support.cli import EVALS, exited
from tests.support.mounts import on_a_read_only_mount
from tests.support.repos import COUNTRIES, database_at, qa_repo
from tests.support.votes import vote

N = len(COUNTRIES)


@pytest.fixture(autouse=True)
def _no_db_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTARENA_DB", raising=False)


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _run(root: Path, *revs: str) -> None:
    args = ["run", "--repo", str(root)] + [a for rev in revs for a in ("--rev", rev)]
    exited(_invoke(*args), 0)


def _db(root: Path) -> Path:
    return root / ".promptarena" / "results.db"


def _rows(db: Path, table: str) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(f"SELECT * FROM {table} ORDER BY rowid")]
    finally:
        conn.close()


def _keys(db: Path, table: str) -> set[str]:
    return {row["key"] for row in _rows(db, table)}


def _counts(db: Path) -> dict[str, int]:
    with ResultsStore(db) as results:
        return {table: results.count(table) for table in tables()}


@pytest.fixture
def teammates(tmp_path: Path) -> tuple[Path, Path]:
    """Alice evaluated the first version; Bob, in his clone, both versions and cast one vote."""
    alice = qa_repo(tmp_path / "alice")
    bob = alice.clone(tmp_path / "bob")
    _run(alice.root, "HEAD~1")
    _run(bob.root, "HEAD~1", "HEAD")
    with ResultsStore(_db(bob.root)) as results:
        arm = results.stored_arms("qa")[0]
        vote(results, arm.blob, "france", "Paris", variant=arm.variant, name="Bob")
    return alice.root, bob.root


# --- export ----------------------------------------------------------------------------------------------


def test_export_writes_every_table_as_json_lines_equal_to_its_rows(teammates, tmp_path: Path) -> None:
    _, bob = teammates
    out = tmp_path / "export"
    result = _invoke("db", "export", "--repo", str(bob), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.jsonl" for t in tables())
    for table in tables():
        lines = (out / f"{table}.jsonl").read_text(encoding="utf-8").splitlines()
        assert [json.loads(line) for line in lines] == _rows(_db(bob), table)
        assert f"{table}: {len(lines)} rows" in result.output
    assert len((out / "generations.jsonl").read_text().splitlines()) == 2 * N


def test_export_of_chosen_tables_as_csv(teammates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, bob = teammates
    out = tmp_path / "csv"
    out.mkdir()
    monkeypatch.chdir(out)  # the default --out: the current folder
    result = _invoke("db", "export", "--db", str(_db(bob)), "--table", "runs", "--table", "feedback", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["feedback.csv", "runs.csv"]
    with (out / "runs.csv").open(encoding="utf-8", newline="") as f:
        runs = list(csv.DictReader(f))
    stored = _rows(_db(bob), "runs")
    assert [r["id"] for r in runs] == [r["id"] for r in stored]
    assert [json.loads(r["provenance"]) for r in runs] == [json.loads(r["provenance"]) for r in stored]
    with (out / "feedback.csv").open(encoding="utf-8", newline="") as f:
        (vote,) = csv.DictReader(f)
    assert (vote["case_id"], vote["thumbs_up"], vote["name"], vote["comment"]) == ("france", "1", "Bob", "")


def test_an_export_that_runs_out_of_room_leaves_the_earlier_file_whole(teammates, tmp_path: Path) -> None:
    from promptarena import feedback

    _, bob = teammates
    out = tmp_path / "export"
    with ResultsStore(_db(bob)) as results:
        arm = results.stored_arms("qa")[0]
        long = "a long comment " * 10_000  # 150 kB: more than the file size the export below may write
        kwargs = {"suite": "qa", "prompt": "qa", "blob": arm.blob, "variant": arm.variant, "output": "Rome"}
        feedback.record(results, **kwargs, case_id="italy", thumbs_up=True, comment=long, name="Carol")
    exited(_invoke("db", "export", "--db", str(_db(bob)), "--table", "feedback", "--out", str(out)), 0)
    earlier = (out / "feedback.jsonl").read_bytes()
    with ResultsStore(_db(bob)) as results:
        feedback.record(results, **kwargs, case_id="spain", thumbs_up=False, comment=long, name="Dan")
    limited = (  # files this process writes may not grow past 64 kB, as on a full disk
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))\n"
        "from promptarena.cli import main\n"
        "main()\n"
    )
    args = ["db", "export", "--db", str(_db(bob)), "--table", "feedback", "--out", str(out)]
    done = subprocess.run([sys.executable, "-c", limited, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3 and f"cannot write {out / 'feedback.jsonl'} (File too large)" in done.stderr
    assert "Traceback" not in done.stderr
    assert (out / "feedback.jsonl").read_bytes() == earlier and sorted(p.name for p in out.iterdir()) == [
        "feedback.jsonl"
    ]


def test_export_refuses_a_missing_database_an_unknown_table_and_a_corrupt_file(tmp_path: Path) -> None:
    missing = _invoke("db", "export", "--db", str(tmp_path / "none.db"), "--out", str(tmp_path / "out"))
    assert missing.exit_code == 2 and "no results database there" in missing.output
    assert not (tmp_path / "none.db").exists() and not (tmp_path / "out").exists()
    unknown = _invoke("db", "export", "--db", str(tmp_path / "none.db"), "--table", "score")
    assert unknown.exit_code == 2 and "'score' is not one of" in unknown.output
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database at all" * 100)
    corrupt = _invoke("db", "export", "--db", str(bad), "--out", str(tmp_path / "out"))
    assert corrupt.exit_code == 3 and f"the results database {bad} is corrupt" in corrupt.output


def test_every_path_under_a_file_is_bad_input(teammates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--out, --db and $PROMPTARENA_DB under a regular file are refused as bad input (2), naming the file."""
    alice, bob = teammates
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    before = _counts(_db(alice))
    export = _invoke("db", "export", "--db", str(_db(bob)), "--out", str(blocker / "out"))
    assert f"--out': {blocker / 'out'}: {blocker} is a file, not a folder" in exited(export, 2)
    assert "is a file, not a folder; name a folder" in exited(_invoke("db", "export", "--out", str(blocker)), 2)
    merge = _invoke("db", "merge", str(_db(bob)), "--db", str(blocker / "ours.db"))
    assert f"--db': {blocker / 'ours.db'}: {blocker} is a file, not a folder" in exited(merge, 2)
    monkeypatch.setenv("PROMPTARENA_DB", str(blocker / "ours.db"))
    for args in (["run", "--repo", str(alice)], ["db", "merge", str(_db(bob)), "--repo", str(alice)]):
        assert f"$PROMPTARENA_DB {blocker / 'ours.db'}: {blocker} is a file" in exited(_invoke(*args), 2)
    assert _counts(_db(alice)) == before


# --- merge -----------------------------------------------------------------------------------------------


def test_merge_brings_a_teammates_runs_into_ours_and_a_second_merge_adds_nothing(teammates) -> None:
    alice, bob = teammates
    ours, theirs = _db(alice), _db(bob)
    before, bobs, our_scores = _counts(ours), _counts(theirs), _keys(ours, "scores")
    new_generations = _keys(theirs, "generations") - _keys(ours, "generations")
    assert before["generations"] == N and len(new_generations) == N  # the first version's are shared
    result = _invoke("db", "merge", str(theirs), "--repo", str(alice), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["conflicts"] == []
    assert report["added"] == {
        "generations": N,
        "scores": len(_keys(theirs, "scores") - our_scores),
        "runs": bobs["runs"],
        "results": bobs["results"],
        "feedback": 1,
    }
    after = _counts(ours)
    assert after == {table: before[table] + n for table, n in report["added"].items()}
    assert _keys(ours, "generations") == _keys(theirs, "generations")
    assert _keys(ours, "scores") == _keys(theirs, "scores") | our_scores
    with ResultsStore(ours) as results:
        assert {r.id for r in results.runs()} >= {r["id"] for r in _rows(theirs, "runs")}
        (vote,) = results.votes("qa")
        assert vote.name == "Bob" and vote.case_id == "france"
    again = _invoke("db", "merge", str(theirs), "--repo", str(alice))
    assert again.exit_code == 0, again.output
    assert all(f"{table}: 0 rows added" in again.output for table in tables())
    assert _counts(ours) == after
    # Bob's version is now cached for Alice: evaluating it generates nothing
    _invoke("run", "--repo", str(alice), "--rev", "HEAD", "--rev", "HEAD~1")
    with ResultsStore(ours) as results:
        assert results.runs()[0].record.generated == 0


def test_a_run_id_both_hold_with_different_contents_is_skipped_and_named(teammates, tmp_path: Path) -> None:
    alice, _ = teammates
    ours = _db(alice)
    other = tmp_path / "copy.db"
    shutil.copy(ours, other)
    (run,) = _rows(ours, "runs")
    conn = sqlite3.connect(other)
    with conn:
        conn.execute("UPDATE runs SET status = 'failed' WHERE id = ?", (run["id"],))
        conn.execute("UPDATE results SET answer = 'changed' WHERE run_id = ?", (run["id"],))
    conn.close()
    before = _counts(ours)
    result = _invoke("db", "merge", str(other), "--db", str(ours))
    assert result.exit_code == 0, result.output
    assert f"skipped 1 run(s) both databases hold with different contents: {run['id']}" in result.output
    assert _counts(ours) == before
    assert _rows(ours, "runs") == [run] and "changed" not in {r["answer"] for r in _rows(ours, "results")}


def test_merge_refuses_a_missing_a_corrupt_or_the_same_database(teammates, tmp_path: Path) -> None:
    alice, _ = teammates
    ours = _db(alice)
    before = _counts(ours)
    missing = _invoke("db", "merge", str(tmp_path / "none.db"), "--db", str(ours))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    same = _invoke("db", "merge", str(ours), "--repo", str(alice))
    assert same.exit_code == 2 and "is the results database itself" in same.output
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"\0" * 4096)
    corrupt = _invoke("db", "merge", str(bad), "--db", str(ours))
    assert f"the results database {bad} is corrupt" in exited(corrupt, 3)
    assert _counts(ours) == before


def test_a_failed_merge_adds_nothing(teammates) -> None:
    alice, bob = teammates
    ours, theirs = _db(alice), _db(bob)
    before = _counts(ours)
    conn = sqlite3.connect(theirs)  # a vote that breaks our NOT NULL constraint, read after everything else
    with conn:
        conn.execute("CREATE TABLE f2 AS SELECT * FROM feedback")
        conn.execute("DROP TABLE feedback")
        conn.execute("CREATE TABLE feedback AS SELECT * FROM f2")
        conn.execute("DROP TABLE f2")
        conn.execute("UPDATE feedback SET suite = NULL")
    conn.close()
    result = _invoke("db", "merge", str(theirs), "--db", str(ours))
    assert result.exit_code == 3, result.output
    assert f"could not write the results database {ours}" in result.output
    assert _counts(ours) == before


# --- their file is only read ----------------------------------------------------------------------------


def _json(result: Result) -> dict:
    exited(result, 0)
    return json.loads(result.stdout)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_merge_leaves_their_file_and_its_folder_exactly_as_they_were(teammates, tmp_path: Path) -> None:
    """Not switched to WAL, not migrated, no -wal or -shm file made beside it."""
    alice, bob = teammates
    theirs = tmp_path / "from-bob" / "their.db"
    theirs.parent.mkdir()
    shutil.copy(_db(bob), theirs)
    conn = sqlite3.connect(theirs)
    assert conn.execute("PRAGMA journal_mode = DELETE").fetchone() == ("delete",)  # as a plain copy may be
    conn.close()
    before = _files(theirs.parent)
    result = _invoke("db", "merge", str(theirs), "--repo", str(alice), "--json")
    assert _json(result)["added"]["runs"] == len(_rows(_db(bob), "runs"))
    assert _files(theirs.parent) == before


def test_merge_reads_their_file_on_a_read_only_mount(teammates, tmp_path: Path) -> None:
    alice, bob = teammates
    mounted = tmp_path / "usb"
    mounted.mkdir()
    shutil.copy(_db(bob), mounted / "their.db")
    proc, files = on_a_read_only_mount(mounted, [EVALS, "db", "merge", str(mounted / "their.db")], cwd=alice)
    assert proc.returncode == 0, proc.stderr
    assert list(files) == ["their.db"]
    assert {r["id"] for r in _rows(_db(alice), "runs")} >= {r["id"] for r in _rows(_db(bob), "runs")}


def _older(db: Path, version: int = 2) -> None:
    """Bob's database as promptarena at schema ``version`` would have left it: its runs and generations."""
    conn = sqlite3.connect(db)
    runs = conn.execute("SELECT id, suite, prompt, status, started_at, finished_at, provenance, summary FROM runs")
    columns = "key, model, request, text, prompt_tokens, completion_tokens, latency_s, finish_reason, created_at"
    generations = conn.execute(f"SELECT {columns} FROM generations").fetchall()  # the columns of schema 1
    runs = runs.fetchall()
    conn.close()
    db.unlink()
    database_at(db, version, runs=runs, generations=generations)


def test_an_older_file_is_migrated_in_a_copy_and_left_as_it_was(teammates, tmp_path: Path) -> None:
    alice, bob = teammates
    theirs = tmp_path / "old" / "their.db"
    theirs.parent.mkdir()
    shutil.copy(_db(bob), theirs)
    _older(theirs)
    before, ours_before = _files(theirs.parent), _files(_db(alice).parent)
    result = _invoke("db", "merge", str(theirs), "--repo", str(alice), "--json")
    added = _json(result)["added"]
    assert added["runs"] == len(_rows(_db(bob), "runs")) and added["generations"] == N
    assert _files(theirs.parent) == before  # still schema 2, byte for byte
    assert sorted(_files(_db(alice).parent)) == sorted(ours_before)  # the migrated copy is gone
    # our own file damaged: the merge stops, and theirs is not migrated on the way
    _db(alice).write_bytes(b"\0" * 4096)
    assert "is corrupt" in exited(_invoke("db", "merge", str(theirs), "--repo", str(alice)), 3)
    assert _files(theirs.parent) == before


# --- runs still running in their file --------------------------------------------------------------------


def test_a_run_still_running_in_their_file_is_abandoned_here_until_it_finishes_there(teammates, tmp_path: Path) -> None:
    """It can never finish in our file: not "running" forever, nor in the sidebar with a Cancel that cannot work."""
    alice, bob = teammates
    theirs = tmp_path / "their.db"
    shutil.copy(_db(bob), theirs)
    run_id = _rows(theirs, "runs")[0]["id"]
    conn = sqlite3.connect(theirs)
    with conn:  # their process was on their laptop when they copied the file
        conn.execute("UPDATE runs SET status = 'running', host = 'bobs-laptop', pid = ? WHERE id = ?", (1, run_id))
        conn.execute("DELETE FROM results WHERE run_id = ? AND case_id != 'france'", (run_id,))
    conn.close()
    exited(_invoke("db", "merge", str(theirs), "--repo", str(alice)), 0)
    listed = _invoke("runs", "--repo", str(alice), "--json")
    assert {r["id"]: r["status"] for r in _json(listed)["runs"]}[run_id] == "abandoned"
    assert [a.run_id for a in jobs.active(alice, _db(alice))] == []
    assert {r["case_id"] for r in _rows(_db(alice), "results") if r["run_id"] == run_id} == {"france"}
    # merging the same file again changes nothing and names no conflict
    again = _invoke("db", "merge", str(theirs), "--repo", str(alice), "--json")
    assert _json(again) == {
        "db": str(_db(alice)),
        "added": dict.fromkeys(tables(), 0),
        "conflicts": [],
    }
    # once it finished there, a merge brings the whole run
    shutil.copy(_db(bob), theirs)
    done = _invoke("db", "merge", str(theirs), "--repo", str(alice), "--json")
    assert _json(done)["conflicts"] == []
    (run,) = [r for r in _rows(_db(alice), "runs") if r["id"] == run_id]
    assert run == next(r for r in _rows(_db(bob), "runs") if r["id"] == run_id)

    def results(db: Path) -> list[dict]:
        return sorted((r for r in _rows(db, "results") if r["run_id"] == run_id), key=lambda r: json.dumps(r))

    assert results(_db(alice)) == results(_db(bob)) and len(results(_db(bob))) > 1


# --- the command line ------------------------------------------------------------------------------------


def _commands(group: click.Group, prefix: str = "evals") -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        out.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            out += _commands(command, f"{prefix} {name}")
    return out


def test_every_command_and_option_has_help() -> None:
    missing = [
        f"{name} {param.opts[0] if isinstance(param, click.Option) else ''}".strip()
        for name, command in _commands(main)
        for param in [None, *command.params]
        if (param is None and not (command.help or "").strip())
        or (isinstance(param, click.Option) and not (param.help or "").strip())
    ]
    assert missing == []
    assert ("evals db merge", main.commands["db"].commands["merge"]) in _commands(main)


def test_a_cached_run_imports_neither_sqlite_utils_nor_pandas(teammates) -> None:
    _, bob = teammates
    code = (
        "import json, sys\nfrom promptarena.cli import main\n"
        "try:\n    main.main(['run', '--rev', 'HEAD'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "print(json.dumps({m: m in sys.modules for m in ('sqlite_utils', 'pandas')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=bob,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "0 generated" in " ".join(out.stdout.split())
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"sqlite_utils": False, "pandas": False}
