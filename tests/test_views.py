"""Read models of the workbench and people's feedback, on a real git repository evaluated by the real engine
(the workbench fixture of tests/support/workbench.py)."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from promptarena import feedback, views
from promptarena.backends.fake import FakeBackend
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from tests.support.votes import vote
from tests.support.workbench import Workbench, build_workbench, fake_answer


@pytest.fixture
def bench(tmp_path: Path) -> Workbench:
    return build_workbench(tmp_path)


# --- overview and history ---------------------------------------------------------------------------------


def test_overview_has_a_cell_per_suite_version_variant_metric(bench: Workbench) -> None:
    with ResultsStore(bench.db) as results:
        cells = views.overview(results)
    # default versions: worktree, HEAD's text (commit 2, unchanged by commit 3), commit 1
    assert {c.version for c in cells} == {"worktree", bench.commits[1][:7], bench.commits[0][:7]}
    assert {c.variant for c in cells} == {"plain", "cot", "self_consistency"}
    assert len(cells) == 3 * 3 * 2
    v1 = next(c for c in cells if c.version == bench.commits[0][:7] and c.variant == "plain" and c.metric == "contains")
    assert v1.interval.n == 8
    assert v1.interval.mean == pytest.approx(3 / 8)  # v1 misses three sums and both HTML cases
    assert 0 <= v1.interval.low < v1.interval.mean < v1.interval.high <= 1
    assert views.fmt_interval(v1.interval).startswith("0.38 [")


def test_overview_takes_the_latest_run_of_each_arm(bench: Workbench) -> None:
    with PromptStore(bench.repo.root) as store, ResultsStore(bench.db) as results:
        suite = load_suite(bench.repo.root / "evals" / "math.yaml", bench.repo.root)
        version = store.resolve("math@worktree")
        second = run_suite(suite, store, results, versions=[version], backend=FakeBackend(fn=fake_answer))
        cells = views.overview(results)
    assert {c.run_id for c in cells if c.version == "worktree"} == {second.run_id}
    assert {c.run_id for c in cells if c.version != "worktree"} == {bench.run_id}


def test_metric_history_orders_commits_oldest_first_and_ends_with_the_worktree(bench: Workbench) -> None:
    with PromptStore(bench.repo.root) as store, ResultsStore(bench.db) as results:
        points = views.metric_history(views.overview(results), store, "math")
    plain = [p for p in points if p.variant == "plain" and p.metric == "exact_match"]
    assert [p.version for p in plain] == [bench.commits[0][:7], bench.commits[1][:7], "worktree"]
    assert [p.order for p in plain] == [0, 1, 2]
    assert plain[0].mean < plain[1].mean < plain[2].mean  # the prompt got better with each edit


def test_commit_rows_list_messages_authors_and_scores_worktree_first(bench: Workbench) -> None:
    with PromptStore(bench.repo.root) as store, ResultsStore(bench.db) as results:
        rows = views.commit_rows(store, "math", views.overview(results))
    assert [r.version.label for r in rows] == ["worktree", bench.commits[1][:7], bench.commits[0][:7]]
    assert rows[1].version.message == "Ask for care: fewer slips on subtraction"
    assert rows[1].version.author == "Test Author"
    assert rows[2].scores["math · exact_match · plain"] == pytest.approx(3 / 8)


def test_side_by_side_pairs_changed_lines_and_keeps_the_rest_aligned() -> None:
    rows = views.side_by_side("a\nb\nc\n", "a\nB\nc\nd\n")
    assert [(r.tag, r.left, r.right) for r in rows] == [
        ("equal", "a", "a"),
        ("replace", "b", "B"),
        ("equal", "c", "c"),
        ("insert", "", "d"),
    ]
    assert rows[3].left_no is None and rows[3].right_no == 4


def test_diff_versions_include_the_uncommitted_worktree(bench: Workbench) -> None:
    with PromptStore(bench.repo.root) as store:
        versions = views.diff_versions(store, "math")
        assert versions[0].commit is None and "checking each step" in versions[0].text
        assert "Solve carefully" in store.diff(versions[1], versions[0])


# --- arms, cases, runs -----------------------------------------------------------------------------------


def test_load_arms_rebuilds_the_engines_arm_results(bench: Workbench) -> None:
    with PromptStore(bench.repo.root) as store, ResultsStore(bench.db) as results:
        suite = load_suite(bench.repo.root / "evals" / "math.yaml", bench.repo.root)
        choices = views.arm_choices(results, "math", store)
        assert choices[0].version == "worktree"
        assert len(choices) == 9
        narrowed, arms = views.load_arms(results, suite, choices[:2], store)
        fresh = run_suite(
            suite, store, results, versions=[store.resolve("math@worktree")], backend=FakeBackend(fn=fake_answer)
        )
    assert [c.id for c in narrowed.cases] == [c.id for c in suite.cases]
    rebuilt = arms[0]
    original = fresh.arm(f"worktree:{choices[0].variant}")
    assert rebuilt.scores == original.scores
    assert [p.output for p in rebuilt.predictions] == [p.output for p in original.predictions]
    assert rebuilt.summary["exact_match"] == original.summary["exact_match"]
    assert rebuilt.latency_p50 == pytest.approx(original.latency_p50)


def test_case_samples_show_every_sample_with_votes_and_reasoning(bench: Workbench) -> None:
    with ResultsStore(bench.db) as results:
        choices = views.arm_choices(results, "math")
        sc = next(c for c in choices if c.variant == "self_consistency" and c.version == bench.commits[0][:7])
        cot = next(c for c in choices if c.variant == "cot" and c.version == bench.commits[0][:7])
        (sample_sc,) = views.case_samples(results, [sc], "one_plus_one")
        (sample_cot,) = views.case_samples(results, [cot], "one_plus_one")
    assert len(sample_sc.samples) == 3
    assert [a for a, _, _ in sample_sc.samples] == ["2", "4", "2"]
    assert sample_sc.votes == {"2": 2, "4": 1}
    assert sample_sc.confidence == pytest.approx(2 / 3)
    assert sample_cot.answer == "2"
    assert sample_cot.reasoning.startswith("Let me work it out")


def test_run_views_carry_provenance_and_efficiency(bench: Workbench) -> None:
    with ResultsStore(bench.db) as results:
        (run,) = views.run_views(results)
    assert run.row.status == "completed" and run.row.suite == "math" and run.row.record is not None
    assert set(run.commits) == {"worktree (dirty)", bench.commits[1][:7], bench.commits[0][:7]}
    assert run.model.startswith("fake:")
    assert run.seed == 0
    assert "promptarena" in run.packages
    assert run.latency_p50_s > 0 and run.latency_p95_s >= run.latency_p50_s and run.tokens_per_s > 0
    assert run.peak_memory_mb is not None and run.peak_memory_mb > 0


def test_suite_entries_name_suites_without_runs_and_broken_files(bench: Workbench) -> None:
    bench.repo.write("evals/broken.yaml", "prompt: math\ncases: []\nmetrics: [nope]\n")
    with ResultsStore(bench.db) as results:
        entries = {e.name: e for e in views.suite_entries(bench.repo.root, results)}
    assert entries["math"].stored and entries["math"].suite is not None
    assert not entries["never_run"].stored
    assert entries["broken"].suite is None and "broken.yaml" in entries["broken"].error


def test_workspace_reads_the_environment(bench: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTARENA_REPO", str(bench.repo.root / "prompts"))
    monkeypatch.delenv("PROMPTARENA_DB", raising=False)
    ws = views.Workspace.from_env()
    assert ws.workdir == bench.repo.root.resolve()
    assert ws.db == bench.repo.root.resolve() / ".promptarena" / "results.db"
    assert not ws.has_db


# --- feedback --------------------------------------------------------------------------------------------


def test_feedback_is_stored_with_time_name_comment_and_output_hash(bench: Workbench) -> None:
    with ResultsStore(bench.db) as results:
        choice = views.arm_choices(results, "math")[0]
        base = dict(suite="math", prompt="math", blob=choice.blob, variant=choice.variant, case_id="one_plus_one")
        feedback.record(results, **base, output="The answer is 2.", thumbs_up=True, comment=" clear ", name="Ada")
        feedback.record(results, **base, output="The answer is 2.", thumbs_up=False, comment="  ", voter="tab-1")
        feedback.record(results, **base, output="The answer is 2.", thumbs_up=True, voter="tab-2")
        newest, middle, first = feedback.votes(results, "math", choice.blob, choice.variant)
        share, n = feedback.thumbs_up_share(results, "math", choice.blob, choice.variant)
        shares = feedback.thumbs_up_shares(results)
        empty = feedback.thumbs_up_share(results, "math", "0" * 40, "plain")
    assert (first.thumbs_up, first.comment, first.name) == (True, "clear", "Ada")
    assert (middle.thumbs_up, middle.comment, middle.name) == (False, None, None)
    assert first.output_hash == feedback.output_hash("The answer is 2.")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", first.created_at)
    assert (share, n) == (pytest.approx(2 / 3), 3)
    assert shares[("math", choice.blob, choice.variant)].mean == pytest.approx(2 / 3)
    assert math.isnan(empty[0]) and empty[1] == 0


def test_feedback_share_sits_beside_the_metrics(bench: Workbench) -> None:
    with ResultsStore(bench.db) as results:
        choice = views.arm_choices(results, "math")[0]
        vote(results, choice.blob, "x", "o", suite="math", variant=choice.variant)
        cells = views.overview(results)
    (thumbs,) = [c for c in cells if c.metric == views.THUMBS_UP]
    assert (thumbs.blob, thumbs.variant, thumbs.interval.mean, thumbs.interval.n) == (
        choice.blob,
        choice.variant,
        1.0,
        1,
    )


def test_feedback_while_evals_run_writes_loses_nothing(tmp_path: Path) -> None:
    """A vote per few milliseconds while `evals run` fills the same database: every vote lands, no lock error."""
    bench = build_workbench(tmp_path, run=False)
    cases = "\n".join(f'  - {{id: c{i}, vars: {{problem: "{i}+{i}"}}, reference: "{2 * i}"}}' for i in range(400))
    bench.repo.write(
        "evals/big.yaml",
        "prompt: math\ncases:\n" + cases + "\nmetrics: [exact_match, contains]\n"
        "variants: [plain, {self_consistency: {samples: 4, temperature: 0.7}}]\nmodel: {backend: fake}\n",
    )
    evals = [sys.executable, "-c", "from promptarena.cli import main; main()"]
    proc = subprocess.Popen(
        [*evals, "run", "big", "--repo", str(bench.repo.root), "--db", str(bench.db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors: list[BaseException] = []
    written = 0

    def click(i: int) -> None:
        with ResultsStore(bench.db) as results:  # one connection per click, as the UI does
            vote(results, "b" * 40, f"c{i}", f"out {i}", i % 2 == 0, suite="big", prompt="math")

    while_writing = 0  # votes cast while the run was open in the database
    while proc.poll() is None or written < 50:
        try:
            with ResultsStore(bench.db) as results:
                running = any(run.status == "running" for run in results.runs())
            click(written)
            written += 1
            while_writing += bool(running) and proc.poll() is None
        except BaseException as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)
            break
        if written >= 2000:
            break
    threads = [threading.Thread(target=click, args=(written + i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert not errors
    assert while_writing >= 5, while_writing
    with ResultsStore(bench.db) as results:
        assert feedback.thumbs_up_share(results, "big", "b" * 40, "plain")[1] == written + 20
        assert results.count("generations") >= 400 * 5
        assert results.runs()[0].status == "completed"


def test_sql_lives_only_in_the_store() -> None:
    root = Path(__file__).parents[1]
    sql = re.compile(
        r"\bexecute(many|script)?\(|\b(SELECT|INSERT|UPDATE|DELETE FROM|CREATE TABLE)\b|\bimport sqlite3\b"
    )
    sources = [*(root / "src" / "promptarena").rglob("*.py"), *(root / "app").rglob("*.py")]
    outside = [p for p in sources if "store" not in p.relative_to(root).parts]
    assert [str(p.relative_to(root)) for p in outside if sql.search(p.read_text(encoding="utf-8"))] == []


def test_spread_is_the_score_gap_without_the_tie_breaker() -> None:
    from promptarena.compare import CaseRow

    row = CaseRow("c", ("2",), {"a": "2", "b": "3"}, {"a": "2", "b": "3"}, {"a": {"m": 1.0}, "b": {"m": 0.0}}, 1.001)
    assert views.spread(row, "m") == 1.0
    same = CaseRow("c", ("2",), {}, {"a": "2", "b": "two"}, {"a": {"m": 1.0}, "b": {"m": 1.0}}, 0.001)
    assert views.spread(same, "m") == 0.0 and views.spread(same, None) == 0.0


def test_data_version_changes_with_a_vote_but_not_with_a_reader(bench: Workbench) -> None:
    ws = views.Workspace.from_env(str(bench.repo.root), str(bench.db))
    before = ws.data_version()
    with ws.results() as results:
        results.count("runs")
        assert ws.data_version() == before  # a reader's empty WAL is no change
    with ws.results() as results:
        feedback.record(
            results, suite="math", prompt="math", blob="b", variant="plain", case_id="c", output="x", thumbs_up=True
        )
        changed = ws.data_version()
        with results.write() as conn:
            conn.execute("DELETE FROM feedback")
    assert changed != before
