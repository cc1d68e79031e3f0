"""Each workbench page's logic through Streamlit's AppTest, against a database the real engine filled."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from promptarena import feedback, jobs
from promptarena.store import ResultsStore
from tests.support.votes import vote
from tests.support.workbench import APP, XSS_IMG, XSS_SCRIPT, Workbench, app_page, build_workbench, ok, point_app_at

PAGES = {
    "overview": APP / "Overview.py",
    "history": APP / "pages" / "1_Prompt_history.py",
    "compare": APP / "pages" / "2_Compare.py",
    "explorer": APP / "pages" / "3_Case_explorer.py",
    "runs": APP / "pages" / "4_Runs.py",
    "run": APP / "pages" / "5_Start_a_run.py",
    "agreement": APP / "pages" / "7_Judge_agreement.py",
    "review": APP / "pages" / "9_Review.py",
}


def app(name: str, **query: str | list[str]) -> AppTest:
    """The page named ``name`` in ``PAGES``, as the workbench opens it, not yet run."""
    return app_page(str(PAGES[name].relative_to(APP)), **query)


def page(name: str, **query: str | list[str]) -> AppTest:
    return app(name, **query).run()


def texts(at: AppTest) -> str:
    """Everything a page says in markdown, captions, infos, warnings and errors."""
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success") for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


def finished(at: AppTest, bench: Workbench) -> AppTest:
    """Wait for the run the page started in the background to end, then show the page again."""
    job = jobs.jobs(bench.repo.root, limit=1)[0]
    deadline = time.monotonic() + 120
    while jobs.job_state(job, bench.db).active and time.monotonic() < deadline:
        time.sleep(0.2)
    return ok(at.run())


# --- Overview ---------------------------------------------------------------------------------------------


def test_overview_grid_has_every_version_variant_metric_with_an_interval(bench: Workbench) -> None:
    at = ok(page("overview"))
    grid = at.dataframe[0].value
    assert list(grid.index) == [
        "worktree",
        f"{bench.commits[1][:7]} — Ask for care: fewer slips on subtraction",
        f"{bench.commits[0][:7]} — Add the math prompt",
    ]
    assert "exact_match · self_consistency" in grid.columns
    assert grid.loc[f"{bench.commits[0][:7]} — Add the math prompt", "exact_match · plain"].startswith("0.38 [")
    assert len(at.get("vega_lite_chart")) == 1
    assert "No completed runs of this suite yet: `evals run never_run`" in texts(at)


def test_overview_shows_thumbs_up_share_beside_the_metrics(bench: Workbench) -> None:
    with ResultsStore(bench.db) as results:
        worktree = next(arm.blob for arm in results.stored_arms("math") if arm.version == "worktree")
        vote(results, worktree, "one_plus_one", "x", suite="math")
    try:
        grid = ok(page("overview")).dataframe[0].value
        assert grid.loc["worktree", "thumbs_up · plain"].startswith("1.00 [")
    finally:
        with ResultsStore(bench.db) as results, results.write() as conn:
            conn.execute("DELETE FROM feedback")


def test_overview_of_an_empty_database_says_what_to_do(bench: Workbench, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PROMPTARENA_DB", str(tmp_path / "none.db"))
    at = ok(page("overview"))
    assert "No results yet" in texts(at)
    ResultsStore(tmp_path / "empty.db").close()
    monkeypatch.setenv("PROMPTARENA_DB", str(tmp_path / "empty.db"))
    assert "no completed runs yet" in texts(ok(page("overview")))


def test_pages_outside_a_git_repository_say_so(bench: Workbench, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PROMPTARENA_REPO", str(tmp_path))
    for name in PAGES:
        at = page(name)
        assert not at.exception
        assert "not inside a git repository" in at.error[0].value


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_of_an_empty_database_is_a_message_not_a_traceback(
    name: str, bench: Workbench, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("PROMPTARENA_DB", str(tmp_path / "missing.db"))
    at = ok(page(name))
    assert texts(at)


# --- Prompt history ---------------------------------------------------------------------------------------


def diff_rows(at: AppTest) -> list[list[str]]:
    """The side-by-side diff's rows as text: line number, older line, line number, newer line."""
    body = next(e.proto.body for e in at.get("html") if "<table" in e.proto.body)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)[1:]
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows]


def test_history_lists_commits_with_scores_and_diffs_the_worktree(bench: Workbench) -> None:
    at = ok(page("history"))
    commits = at.dataframe[0].value
    assert list(commits["version"]) == ["worktree", bench.commits[1][:7], bench.commits[0][:7]]
    assert list(commits["author"])[1:] == ["Test Author", "Test Author"]
    assert commits["math · exact_match · plain"].tolist()[2] == pytest.approx(3 / 8)
    diff = diff_rows(at)  # worktree against HEAD by default
    assert "Solve carefully:" in [row[1] for row in diff]
    assert "Solve exactly, checking each step:" in [row[3] for row in diff]
    assert any("+Solve exactly" in c.value for c in at.code)
    at.selectbox(key="diff_b").select_index(2).run()  # the first commit against the second
    assert "Solve:" in [row[3] for row in diff_rows(ok(at))]


def test_a_deleted_prompt_keeps_its_history_results_and_runs(tmp_path: Path, monkeypatch) -> None:
    bench = build_workbench(tmp_path)
    bench.repo.remove("prompts/math.prompt")
    bench.repo.commit("Retire the math prompt")
    point_app_at(monkeypatch, bench.repo.root, bench.db)
    at = ok(page("history"))
    assert "not in the worktree or at HEAD any more" in texts(at)
    assert list(at.dataframe[0].value["version"]) == [bench.commits[1][:7], bench.commits[0][:7]]
    for name in ("overview", "compare", "explorer", "runs"):
        ok(page(name))
    run = ok(page("run"))
    run.button(key="run_start").click().run()
    assert "completed" in finished(ok(run), bench).success[0].value  # its committed versions can still be evaluated


# --- Compare ----------------------------------------------------------------------------------------------


def compare_page(bench: Workbench, a: str, b: str) -> AppTest:
    at = ok(page("compare"))
    at.selectbox(key="arm_a").select(next(o for o in at.selectbox(key="arm_a").options if o.startswith(a))).run()
    at.selectbox(key="arm_b").select(next(o for o in at.selectbox(key="arm_b").options if o.startswith(b))).run()
    return ok(at)


def test_compare_gives_difference_ci_p_value_verdict_and_win_tie_loss(bench: Workbench) -> None:
    at = compare_page(bench, f"{bench.commits[0][:7]}:plain", "worktree:plain")
    metrics = at.dataframe[0].value.set_index("metric")
    row = metrics.loc["exact_match"]
    assert (row["A"], row["B"]) == ("0.375", "0.750")
    assert row["B − A [95% CI]"].startswith("+0.375 [")
    assert row["win / tie / loss"] == "3 / 5 / 0"
    assert row["test"] == "mcnemar"
    assert float(row["p-value"]) == pytest.approx(0.25)
    assert row["verdict"].endswith("no significant difference")
    cases = at.dataframe[1].value
    assert cases["disagreement"].is_monotonic_decreasing
    assert set(cases["case"][:3]) == {"two_plus_three", "ten_minus_three", "nine_plus_nine"}


def test_compare_shows_html_in_model_output_as_literal_text(bench: Workbench) -> None:
    at = compare_page(bench, f"{bench.commits[0][:7]}:plain", "worktree:plain")
    codes = [c.value for c in ok(at).code]
    assert XSS_SCRIPT in codes and XSS_IMG in codes
    for element in at.markdown:  # model text never reaches markdown
        assert "<script" not in element.value and "onerror" not in element.value
        assert not element.proto.allow_html


def test_no_page_renders_html() -> None:
    """Only two helpers draw HTML: the word diff (every text escaped, tests/test_review.py) and the keyboard
    shortcuts' listener (a fixed script)."""
    sources = [p.read_text(encoding="utf-8") for p in PAGES.values()]
    assert not any("unsafe_allow_html" in s or "st.html(" in s or "components.html" in s for s in sources)
    for name in ("_workbench.py", "_votes.py", "_jobs.py", "_drops.py"):
        assert not any(word in (APP / name).read_text(encoding="utf-8") for word in ("html(", "unsafe_allow_html"))
    helpers = (APP / "_browser.py").read_text(encoding="utf-8")
    assert "unsafe_allow_html" not in helpers and "components.html" not in helpers
    assert helpers.count("st.html(") == 2


def test_thumbs_up_on_compare_is_stored_with_comment_and_name(bench: Workbench) -> None:
    at = compare_page(bench, f"{bench.commits[0][:7]}:plain", "worktree:plain")
    case = at.dataframe[1].value["case"][0]
    at.sidebar.text_input(key="feedback_name").input("Grace").run()
    at.text_input(key=f"fb-B-{case}-comment").input("right, and short").run()
    at.button(key=f"fb-B-{case}-up").click().run()
    ok(at)
    with ResultsStore(bench.db) as results:
        (vote,) = feedback.votes(results, "math", case_id=case)
        with results.write() as conn:
            conn.execute("DELETE FROM feedback")
    assert (vote.thumbs_up, vote.comment, vote.name, vote.variant) == (True, "right, and short", "Grace", "plain")
    assert vote.prompt == "math" and len(vote.output_hash) == 64


def test_compare_needs_two_arms(tmp_path: Path, monkeypatch) -> None:
    bench = build_workbench(tmp_path, run=False)
    point_app_at(monkeypatch, bench.repo.root, bench.db)
    ResultsStore(bench.db).close()
    assert "needs at least two evaluated arms" in texts(ok(page("compare")))


def test_a_suite_whose_file_broke_after_its_run_is_named_on_the_pages_that_need_the_file(
    tmp_path: Path, monkeypatch
) -> None:
    bench = build_workbench(tmp_path)
    point_app_at(monkeypatch, bench.repo.root, bench.db)
    bench.repo.write("evals/math.yaml", "prompt: [math\n")
    unknown = "Suite `math` has stored runs but no loadable suite file under evals/, so its"
    compare = ok(page("compare"))
    assert f"{unknown} cases and metrics are unknown: restore the file to compare its arms." in texts(compare)
    grid = ok(app_page("pages/10_Grid.py").run())
    assert f"{unknown} metrics are unknown: restore the file to see its grid." in texts(grid)
    run = ok(page("run"))
    assert "Suite `math` has no loadable suite file under evals/, so it cannot be run." in texts(run)
    assert not run.button  # nothing to start


@pytest.mark.parametrize(
    "path", ["pages/2_Compare.py", "pages/3_Case_explorer.py", "pages/5_Start_a_run.py", "pages/6_Holistic.py",
             "pages/7_Judge_agreement.py", "pages/9_Review.py", "pages/10_Grid.py"],
)  # fmt: skip
def test_pages_that_pick_a_suite_say_how_to_add_one_when_there_is_none(path: str, tmp_path: Path, monkeypatch) -> None:
    bench = build_workbench(tmp_path, run=False)
    for suite in (bench.repo.root / "evals").glob("*.yaml"):
        suite.unlink()
    point_app_at(monkeypatch, bench.repo.root, bench.db)
    ResultsStore(bench.db).close()
    at = ok(app_page(path).run())
    assert "No suites: add an `evals/*.yaml` file to the repository, then run it." in texts(at)
    assert not at.selectbox and not at.button


# --- Case explorer ----------------------------------------------------------------------------------------


def test_case_explorer_shows_samples_votes_and_folded_reasoning(bench: Workbench) -> None:
    at = ok(page("explorer"))
    assert at.selectbox(key="explorer_case").value == "one_plus_one"
    labels = at.multiselect(key="explorer_arms").options
    v1 = bench.commits[0][:7]
    at.multiselect(key="explorer_arms").set_value([o for o in labels if o.startswith(f"{v1}:")]).run()
    ok(at)
    folded = list(at.expander)
    assert [t.label for t in at.toggle].count("What the model saw") == 3  # one per arm, drawn when switched on
    assert [e.label for e in folded] == ["Reasoning (chain of thought)", "All 3 samples"]
    assert "Let me work it out: 1+1 is computed first." in folded[0].code[0].value
    votes = next(d.value for d in at.dataframe if list(d.value.columns) == ["answer", "votes", "output"])
    assert votes[["answer", "votes"]].to_dict("list") == {"answer": ["2", "4"], "votes": [2, 1]}
    samples = folded[1].dataframe[0].value
    assert samples["answer"].tolist() == ["2", "4", "2"]
    assert [c.value for c in at.caption if "confidence" in c.value] == [
        "exact_match 1.000 · contains 1.000 · 3 generation(s) · confidence 67%"
    ]


def test_case_explorer_shows_html_answers_literally(bench: Workbench) -> None:
    at = ok(page("explorer"))
    at.selectbox(key="explorer_case").select("html_img").run()
    assert XSS_IMG in [c.value for c in ok(at).code]


# --- Runs and Start a run ---------------------------------------------------------------------------------


def test_runs_show_provenance_and_efficiency(bench: Workbench) -> None:
    at = ok(page("runs"))
    runs = at.dataframe[0].value
    row = runs[runs["run"] == bench.run_id].iloc[0]
    assert row["status"] == "completed"
    assert bench.commits[0][:7] in row["versions"] and "worktree (dirty)" in row["versions"]
    assert row["model"].startswith("fake:") and row["seed"] == 0
    assert float(row["latency p95 s"]) >= float(row["latency p50 s"]) >= 0 and float(row["tokens/s"]) > 0
    assert "peak memory MB" in runs.columns
    packages = at.dataframe[-1].value
    assert "promptarena" in packages["package"].tolist()


def test_start_a_run_from_the_ui_and_see_it_without_a_restart(bench: Workbench) -> None:
    at = ok(page("run"))
    assert len(at.multiselect(key="run_versions").value) == 3
    at.multiselect(key="run_variants").set_value(["plain"]).run()
    at.button(key="run_start").click().run()
    finished(ok(at), bench)
    assert "completed" in at.success[0].value
    assert "24 generated" in at.success[0].value  # 3 versions x 8 cases, the suite's own fake backend
    runs = ok(page("runs")).dataframe[0].value
    assert len(runs) == 2 and runs["generated"].iloc[0] == "24"


# --- the command and the import path ----------------------------------------------------------------------


def test_evals_ui_binds_to_loopback_unless_told_otherwise() -> None:
    from click.testing import CliRunner

    from promptarena.cli import main
    from promptarena.cli.ui import app_entry, command, streamlit_argv

    assert app_entry() == PAGES["overview"]
    argv = streamlit_argv(app_entry(), "127.0.0.1", 8600)
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--server.port") + 1] == "8600"
    assert next(p for p in command.params if p.name == "host").default == "127.0.0.1"
    assert all(p.help for p in command.params)
    result = CliRunner().invoke(main, ["ui", "--help"])
    assert result.exit_code == 0 and "--repo" in result.output and "--db" in result.output


def test_pages_do_not_import_torch(bench: Workbench) -> None:
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(APP)!r})\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"for path in {[str(p.relative_to(APP)) for p in PAGES.values()]!r}:\n"
        f"    at = AppTest.from_file({str(PAGES['overview'])!r}, default_timeout=60)\n"
        "    at.switch_page(path).run()\n"
        "    assert not at.exception, path\n"
        "print('torch' in sys.modules)\n"
    )
    env = {**os.environ, "PROMPTARENA_REPO": str(bench.repo.root), "PROMPTARENA_DB": str(bench.db)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


# --- views you can share: selections in the URL -------------------------------------------------------------


def labels_of(at: AppTest, key: str) -> list[str]:
    return list(at.selectbox(key=key).options)


def links(at: AppTest) -> list[tuple[str, dict[str, list[str]]]]:
    """Each page link on the page: its target page and its query parameters."""
    from urllib.parse import parse_qs

    return [(e.proto.page, parse_qs(e.proto.query_string)) for e in at.get("page_link")]


def test_a_shared_compare_link_opens_the_same_arms_and_page(bench: Workbench) -> None:
    options = labels_of(ok(page("compare")), "arm_a")
    v1_plain = next(o for o in options if o.startswith(f"{bench.commits[0][:7]}:plain"))
    worktree_cot = next(o for o in options if o.startswith("worktree:cot"))
    at = ok(page("compare", suite="math", arm_a=v1_plain, arm_b=worktree_cot))
    assert (at.selectbox(key="arm_a").value, at.selectbox(key="arm_b").value) == (v1_plain, worktree_cot)
    assert at.query_params["arm_a"] == v1_plain and at.query_params["arm_b"] == worktree_cot
    assert "not here any more" not in texts(at)


def test_a_stale_link_falls_back_to_the_default_and_says_so(bench: Workbench) -> None:
    default = ok(page("compare")).selectbox(key="arm_b").value
    at = ok(page("compare", arm_b="deadbee:plain — a commit that is gone"))
    assert at.selectbox(key="arm_b").value == default
    assert "The link's arm B `deadbee:plain — a commit that is gone` is not here any more" in texts(at)
    assert "arm_b" not in at.query_params  # the URL no longer asks for it
    at = ok(page("explorer", explorer_suite="renamed_suite", explorer_case="no_such_case"))
    assert at.selectbox(key="explorer_suite").value == "math"
    assert "The link's suite `renamed_suite`" in texts(at) and "The link's case `no_such_case`" in texts(at)
    assert at.selectbox(key="explorer_case").value == "one_plus_one"


def test_a_case_explorer_link_shows_that_case_under_those_arms(bench: Workbench) -> None:
    options = ok(page("explorer")).multiselect(key="explorer_arms").options
    arms = [o for o in options if o.startswith("worktree:")][:2]
    at = ok(page("explorer", explorer_suite="math", explorer_case="nine_plus_nine", explorer_arms=arms))
    assert at.selectbox(key="explorer_case").value == "nine_plus_nine"
    assert at.multiselect(key="explorer_arms").value == arms
    heads = [h.value.replace("\\", "") for h in at.markdown if h.value.startswith("#### ")]  # labels escaped
    assert heads == [f"#### {a.split(' — ')[0]}" for a in arms]


def test_switching_suite_forgets_the_old_suites_case_and_arms(bench: Workbench) -> None:
    at = ok(page("explorer"))
    at.selectbox(key="explorer_case").select("nine_plus_nine").run()
    at.multiselect(key="explorer_arms").set_value(at.multiselect(key="explorer_arms").options[-1:]).run()
    at.selectbox(key="explorer_suite").select("never_run").run()
    assert "No stored results for suite `never_run`" in texts(ok(at))
    at.selectbox(key="explorer_suite").select("math").run()
    assert at.selectbox(key="explorer_case").value == "one_plus_one"  # the default again, not a stale choice
    assert len(ok(at).multiselect(key="explorer_arms").value) == 3


def test_each_compared_case_links_to_the_case_explorer(bench: Workbench) -> None:
    at = compare_page(bench, f"{bench.commits[0][:7]}:plain", "worktree:plain")
    a, b = at.selectbox(key="arm_a").value, at.selectbox(key="arm_b").value
    shown = at.dataframe[1].value["case"].tolist()[:10]
    found = links(at)
    assert [target for target, _ in found] == ["Case_explorer"] * len(shown)
    assert [q["explorer_case"] for _, q in found] == [[c] for c in shown]
    assert all(q["explorer_arms"] == [a, b] and q["explorer_suite"] == ["math"] for _, q in found)


def test_compare_shows_the_real_disagreement_not_its_tie_breaker(bench: Workbench) -> None:
    at = compare_page(bench, "worktree:plain", "worktree:cot")
    cases = at.dataframe[1].value
    assert set(cases["disagreement"]) <= {0.0, 1.0}
    assert cases["answers differ"].dtype == bool


def test_a_run_links_to_its_results(bench: Workbench) -> None:
    at = ok(page("runs", runs_detail=bench.run_id))
    assert at.selectbox(key="runs_detail").value == bench.run_id
    found = dict(links(at))
    compare = found["Compare"]
    assert compare["suite"] == ["math"] and compare["arm_a"] != compare["arm_b"]
    arms = found["Case_explorer"]["explorer_arms"]
    assert len(arms) == 6 and all(a.split(":")[1].split(" ")[0] in ("plain", "cot", "self_consistency") for a in arms)
    followed = ok(page("compare", **{k: v[0] for k, v in compare.items()}))
    assert followed.selectbox(key="arm_b").value == compare["arm_b"][0]


def test_runs_show_blank_not_none_in_empty_cells(bench: Workbench) -> None:
    at = ok(page("runs"))
    shown = at.dataframe[0].proto.arrow_data.styler.display_values.decode("latin-1")
    assert "None" not in shown and "nan" not in shown


def test_history_clips_long_messages_and_leaves_missing_line_numbers_blank(tmp_path: Path, monkeypatch) -> None:
    bench = build_workbench(tmp_path, run=False)
    subject = "Say which units the answer is in, so that graders stop marking correct sums as wrong ones"
    bench.repo.write(
        "prompts/math.prompt", (bench.repo.root / "prompts/math.prompt").read_text() + "Give the number only.\n"
    )
    bench.repo.commit(subject + "\n\n" + "A long body that explains the change.\n" * 3)
    point_app_at(monkeypatch, bench.repo.root, bench.db)
    at = ok(page("history"))
    messages = at.dataframe[0].value["message"].tolist()
    assert all(len(m) <= 72 and "\n" not in m for m in messages) and messages[0].endswith("…")
    assert [e.label for e in at.expander if e.label.startswith("Full commit messages")] == ["Full commit messages (1)"]
    numbers = [row[i] for row in diff_rows(at) for i in (0, 2)]
    assert "None" not in numbers and "" in numbers
