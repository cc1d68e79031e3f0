"""The results database under faults: concurrent creation, a full disk, damaged files, runs left by dead processes.

Each failure must exit 3 with one sentence that names the database, print no traceback, and leave what was
stored before readable.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from promptarena.errors import BackendError
from promptarena.store import MIGRATIONS, ResultsStore
from tests.support.cli import EVALS, OFFLINE, cli, exited
from tests.support.repos import corrupt_a_page, qa_repo, results_db
from tests.support.workbench import build_workbench

PROCESSES, ROUNDS = 4, 8


def _schema_2_database(db: Path) -> None:
    """A database as the release before pid and host were recorded left it, holding one completed run."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript("".join(MIGRATIONS[:2]) + "PRAGMA user_version = 2;")
    conn.execute("INSERT INTO runs VALUES ('old', 'qa', 'qa', 'completed', '2024-01-01T00:00:00', NULL, '{}', NULL)")
    conn.commit()
    conn.close()


def _open_and_start(folder: str, barrier, failures) -> None:
    """A child process: each round, together with the others, open a new and an old database and start a run."""
    for round_ in range(ROUNDS):
        for name in (f"new{round_}.db", f"old{round_}.db"):
            barrier.wait()
            try:
                with ResultsStore(Path(folder) / name) as results:
                    results.start_run("qa", "qa", {"round": round_})
            except Exception as err:  # reported to the parent, which fails the test with it
                failures.put(f"{name}: {err!r}")


# --- 1: processes creating one database at once ----------------------------------------------------------


def test_processes_opening_a_new_or_old_database_at_once_all_succeed(tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        _schema_2_database(tmp_path / f"old{round_}.db")
    # fork: a spawned child re-runs __main__, which an in-process AppTest may have pointed at a page
    ctx = multiprocessing.get_context("fork")
    barrier, failures = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_open_and_start, args=(str(tmp_path), barrier, failures)) for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    errors = []
    while not failures.empty():
        errors.append(failures.get())
    assert errors == [] and [p.exitcode for p in procs] == [0] * PROCESSES
    for round_ in range(ROUNDS):
        for name, runs in ((f"new{round_}.db", PROCESSES), (f"old{round_}.db", PROCESSES + 1)):
            with ResultsStore(tmp_path / name) as results:
                assert len(results.runs()) == runs
                assert results.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    made = {f"{kind}{r}.db" for kind in ("new", "old") for r in range(ROUNDS)}
    assert {p.name for p in tmp_path.iterdir()} == made  # no temporary files left behind


def test_an_older_database_gains_pid_and_host_and_keeps_its_runs(tmp_path: Path) -> None:
    db = tmp_path / "v2.db"
    _schema_2_database(db)
    with ResultsStore(db) as results:
        (run,) = results.runs()
        assert (run.id, run.status, run.pid, run.host) == ("old", "completed", None, None)
        new = results.start_run("qa", "qa", {})
        assert results.runs()[0].id == new and results.runs()[0].pid == os.getpid()


# --- 2: a full disk --------------------------------------------------------------------------------------


def test_a_full_disk_exits_3_names_it_and_keeps_what_was_stored(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    exited(cli("run", "--repo", str(repo.root)), 0)
    db = results_db(repo)
    with ResultsStore(db) as results:
        (stored,) = results.runs()
        rows = results.results(stored.id)
    assert len(rows) == 12
    cases = [{"id": f"c{i}", "vars": {"country": f"Land{i} " + "x" * 400}, "reference": "y"} for i in range(200)]
    repo.write("evals/cases/qa.jsonl", "\n".join(json.dumps(c) for c in cases) + "\n")
    repo.commit("many more cases")
    limit = db.stat().st_size + 16 * 1024
    out = subprocess.run(
        [EVALS, "run"],
        cwd=repo.root,
        env={**os.environ, **OFFLINE},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)),
    )
    assert out.returncode == 3, out.stdout + out.stderr
    assert f"disk full while writing the results database at {db}; what was stored is intact" in out.stderr
    assert "Traceback" not in out.stderr and "cannot rollback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    with ResultsStore(db) as results:
        assert next(r for r in results.runs() if r.id == stored.id).status == "completed"
        assert results.results(stored.id) == rows


def test_a_failed_write_rolls_back_whole_and_is_named(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with ResultsStore(db) as results:
        run_id = results.start_run("qa", "qa", {})
        with pytest.raises(BackendError, match=r"could not write the results database .*r\.db"), results.write() as c:
            c.execute("UPDATE runs SET status = 'failed'")
            c.execute("INSERT INTO runs (id) VALUES ('incomplete')")  # NOT NULL columns missing
        assert not results.conn.in_transaction
        assert [(r.id, r.status) for r in results.runs()] == [(run_id, "running")]


# --- 3: damaged databases --------------------------------------------------------------------------------


def _drop_a_table(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute("DROP TABLE scores")
        conn.commit()
    finally:
        conn.close()  # closed now, not when collected: the last connection checkpoints the drop into the file


DAMAGE = {
    "a corrupt page": (corrupt_a_page, "is corrupt ("),
    "a dropped table": (_drop_a_table, f"is corrupt (schema version {len(MIGRATIONS)} but no table scores)"),
    "emptied to 0 bytes": (lambda db: db.write_bytes(b""), "is corrupt (the file is empty)"),
    "random bytes": (lambda db: db.write_bytes(os.urandom(16384)), "is corrupt (file is not a database)"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_database_is_refused_and_left_as_it_is(tmp_path: Path, damage: str) -> None:
    repo = qa_repo(tmp_path / "repo")
    db = results_db(repo)
    exited(cli("run", "--repo", str(repo.root)), 0)
    damage_fn, says = DAMAGE[damage]
    damage_fn(db)
    before = db.read_bytes()
    for args in (["run", "--repo", str(repo.root)], ["runs", "--repo", str(repo.root)]):
        result = cli(*args)
        err = exited(result, 3)
        assert f"the results database {db} {says}" in err
        assert "restore it from a backup or move it aside; nothing was written" in err
        assert len(result.stderr.strip().splitlines()) == 1
        assert db.read_bytes() == before


def test_a_database_from_a_newer_promptarena_is_unusable_like_any_other(tmp_path: Path) -> None:
    """Exit 3 as for every database this version cannot use (not 2, bad input): named, and left as it is."""
    repo = qa_repo(tmp_path / "repo")
    db = results_db(repo)
    exited(cli("run", "--repo", str(repo.root)), 0)
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    before = db.read_bytes()
    for args in (["run"], ["runs"], ["db", "export", "--out", str(tmp_path / "out")]):
        err = exited(cli(*args, "--repo", str(repo.root)), 3)
        assert f"the results database {db} was made by a newer promptarena (schema {len(MIGRATIONS) + 1}" in err
        assert "upgrade promptarena to use it" in err
        assert db.read_bytes() == before


# --- 4: runs left by dead processes ----------------------------------------------------------------------


def _start_run_and_exit(db: Path) -> int:
    """A real process that starts a run and ends without finishing it; returns its (now dead) pid."""
    code = (
        "import os\nfrom promptarena.store import ResultsStore\n"
        f"ResultsStore({str(db)!r}).start_run('qa', 'qa', {{}})\nprint(os.getpid())"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60)
    return int(proc.stdout)


def test_a_run_whose_process_died_lists_as_abandoned(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with ResultsStore(db) as results:
        live = results.start_run("qa", "qa", {"model": "fake:live"})
    dead_pid = _start_run_and_exit(db)
    assert dead_pid != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(dead_pid, 0)
    with ResultsStore(db) as results:
        statuses = {r.id: r.status for r in results.runs()}
    dead = next(run_id for run_id in statuses if run_id != live)
    assert statuses == {live: "running", dead: "abandoned"}

    listed = cli("runs", "--db", str(db), "--json")
    exited(listed, 0)
    doc = {r["id"]: r for r in json.loads(listed.stdout)["runs"]}
    assert doc[dead]["status"] == "abandoned" and doc[dead]["pid"] == dead_pid
    assert doc[live]["status"] == "running" and doc[live]["model"] == "fake:live"
    table = cli("runs", "--db", str(db))
    exited(table, 0)
    assert "abandoned" in table.stdout and dead in table.stdout


def test_the_runs_page_shows_an_abandoned_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    bench = build_workbench(tmp_path)
    dead_pid = _start_run_and_exit(bench.db)
    app = Path(__file__).resolve().parents[1] / "app"
    monkeypatch.syspath_prepend(str(app))
    monkeypatch.setenv("PROMPTARENA_REPO", str(bench.repo.root))
    monkeypatch.setenv("PROMPTARENA_DB", str(bench.db))
    at = AppTest.from_file(str(app / "pages" / "4_Runs.py"), default_timeout=60).run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert dict(zip(table["run"], table["status"], strict=True))[bench.run_id] == "completed"
    (abandoned,) = table[table["status"] == "abandoned"]["run"]
    with ResultsStore(bench.db) as results:
        assert next(r for r in results.runs() if r.id == abandoned).pid == dead_pid
    at.selectbox(key="runs_detail").set_value(abandoned).run()
    assert any("was abandoned" in w.value for w in at.warning)


def test_runs_without_a_database_lists_nothing_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    listed = cli("runs", "--db", str(db), "--json")
    exited(listed, 0)
    assert json.loads(listed.stdout)["runs"] == []
    assert "no runs yet" in cli("runs", "--db", str(db)).stdout
    assert not db.exists()


def test_evals_runs_has_help_on_every_option() -> None:
    from promptarena.cli.runs import command

    assert command.help
    for param in command.params:
        assert getattr(param, "help", None), f"`evals runs {param.opts[0]}` has no help"
