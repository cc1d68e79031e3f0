"""The Edit and try page through Streamlit's AppTest: errors with their line, a case's messages, a background try,
the comparison with the newest commit, saving one file, a conflict, and a draft that outlives its session."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from promptarena import jobs
from promptarena.cli.ui import workbench_env
from promptarena.draft import EDITS, is_loopback, load_draft, parse_selection, select_cases
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from tests.support.git import GitRepo
from tests.support.repos import QA_V1, QA_V2, qa_repo, results_db
from tests.support.workbench import APP, point_app_at

PAGE = APP / "pages" / "8_Edit_and_try.py"
BETTER = QA_V2.replace("Name the capital city of {{ country }}.", "Capital of {{ country }}?")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """The qa repository, its newest commit evaluated (half of the cases wrong), the page allowed to edit."""
    repo = qa_repo(tmp_path / "repo")
    with PromptStore(repo.root) as store, ResultsStore(results_db(repo)) as results:
        run_suite(
            load_suite(repo.root / "evals" / "qa.yaml", repo.root), store, results, versions=[store.resolve("qa")]
        )
    point_app_at(monkeypatch, repo.root, results_db(repo))
    monkeypatch.setenv(EDITS, "1")
    return repo


def open_page() -> AppTest:
    at = AppTest.from_file(str(APP / "Overview.py"), default_timeout=60)
    at.switch_page(str(PAGE.relative_to(APP)))
    return ok(at.run())


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "subheader", "caption", "info", "warning", "error", "success")
        for e in at.get(kind)
    ]
    return "\n".join(str(p) for p in parts)


def button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def edit(at: AppTest, text: str) -> AppTest:
    at.text_area(key="draft_text:qa").set_value(text)
    return ok(at.run())


def test_the_page_is_off_unless_the_workbench_allows_edits(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    db = results_db(repo)
    assert workbench_env(repo.root, db, "127.0.0.1", None)[EDITS] == "1"  # `evals ui`: loopback, edits on
    assert workbench_env(repo.root, db, "127.0.0.1", False)[EDITS] == "0"  # --no-edits
    assert workbench_env(repo.root, db, "0.0.0.0", True)[EDITS] == "1"  # --allow-edits
    monkeypatch.setenv(EDITS, workbench_env(repo.root, db, "0.0.0.0", None)[EDITS])  # exposed: off
    at = open_page()
    assert "Editing is off" in texts(at) and not at.text_area
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.com")


def test_a_template_error_shows_with_its_line_before_anything_runs(repo: GitRepo) -> None:
    at = open_page()
    assert at.text_area(key="draft_text:qa").value == QA_V2 and not at.error
    at = edit(at, QA_V2.replace("{{ country }}", "{{ country }"))
    [error] = at.error
    assert error.value.startswith("line 11: prompts/qa.prompt:11")
    assert ">11 │ Name the capital city of {{ country }." in at.code[0].value
    assert button(at, "draft_save").disabled and "draft_try" not in [b.key for b in at.button]
    at = edit(at, QA_V2.replace("{{ country }}", "{{ town }}"))
    assert "town" in at.error[0].value


def test_a_variable_the_draft_no_longer_uses_is_warned_about_as_evals_run_does(repo: GitRepo) -> None:
    unused = QA_V2.replace("variables:\n  country: the country\n", "")
    at = edit(open_page(), unused.replace("Name the capital city of {{ country }}.", "Name a capital city."))
    assert "never uses the case variable(s) 'country'" in at.warning[0].value and not at.error


def test_a_file_changed_on_disk_shows_when_the_draft_was_not_edited(repo: GitRepo) -> None:
    at = open_page()
    repo.write("prompts/qa.prompt", QA_V1)  # a git pull, another editor
    assert ok(at.run()).text_area(key="draft_text:qa").value == QA_V1


def test_the_messages_a_case_renders_to(repo: GitRepo) -> None:
    at = open_page()
    at.selectbox(key="draft_case").set_value("japan")
    at = ok(at.run())
    assert any(c.value == "Name the capital city of Japan." for c in at.code)


def test_an_unsaved_draft_survives_a_reload_until_discarded(repo: GitRepo) -> None:
    edit(open_page(), BETTER)
    assert load_draft(repo.root, "qa").text == BETTER
    assert repo.git("status", "--porcelain") == ""
    again = open_page()  # a new session: a reload, or a tab opened after one was closed
    assert again.text_area(key="draft_text:qa").value == BETTER
    assert "Unsaved draft" in texts(again)
    button(again, "draft_discard").click()
    again = ok(again.run())
    assert again.text_area(key="draft_text:qa").value == QA_V2 and load_draft(repo.root, "qa") is None


def test_try_in_the_background_compare_with_the_newest_commit_then_save(repo: GitRepo) -> None:
    at = edit(open_page(), BETTER)
    at.radio(key="draft_kind").set_value("first")
    at.number_input(key="draft_n").set_value(4)
    at = ok(at.run())
    button(at, "draft_try").click()
    at = ok(at.run())
    job = jobs.jobs(repo.root, limit=1)[0]
    assert "try" in job.argv and "first:4" in job.argv
    deadline = time.monotonic() + 120
    while jobs.job_state(job, results_db(repo)).active and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.exit_code == 0, job.log.read_text()
    at = ok(at.run())
    assert f"The draft beside the newest commit {repo.rev_parse('HEAD')[:7]}" in texts(at)
    table = at.dataframe[0].value
    assert table.loc[0, "metric"] == "exact_match" and table.loc[0, "n"] == 4
    assert "4 cases tried; 2 differ." in texts(at)  # the newest commit misses france and italy of the first four
    assert "👍" in [b.label for b in at.button]
    # the draft's outputs beside the commit's; its text is the first commit's, so it is that version by content
    assert f"draft · {repo.rev_parse('HEAD~1')[:7]}:plain · exact_match 1.0" in [c.value for c in at.caption]

    at.text_input(key="draft_message").set_value("qa: ask as in the first version")
    button(at, "draft_save").click()
    at = ok(at.run())
    assert "Committed" in texts(at) and not at.error
    assert repo.git("show", "--name-only", "--format=%s", "HEAD").split("\n")[:3] == [
        "qa: ask as in the first version",
        "",
        "prompts/qa.prompt",
    ]
    overview = ok(AppTest.from_file(str(APP / "Overview.py"), default_timeout=60).run()).dataframe[0].value
    assert f"{repo.rev_parse('HEAD')[:7]} — qa: ask as in the first version" in list(overview.index)
    with PromptStore(repo.root) as store, ResultsStore(results_db(repo)) as results:
        suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
        rerun = run_suite(
            select_cases(suite, parse_selection("first:4")), store, results, versions=[store.resolve("qa")]
        )
    assert rerun.generated == 0  # the saved commit has the draft's results


def test_a_file_changed_on_disk_is_not_overwritten_and_the_person_chooses(repo: GitRepo) -> None:
    at = edit(open_page(), BETTER)
    theirs = QA_V2.replace("max_new_tokens: 16", "max_new_tokens: 20")
    repo.write("prompts/qa.prompt", theirs)
    at.text_input(key="draft_message").set_value("mine")
    button(at, "draft_save").click()
    at = ok(at.run())
    assert "changed on disk since the draft was opened" in at.error[0].value
    assert (repo.root / "prompts/qa.prompt").read_text() == theirs
    merged = next(c.value for c in at.code if "max_new_tokens: 20" in c.value and "Capital of" in c.value)
    assert "<<<<<<<" not in merged  # different lines changed: merged cleanly
    button(at, "draft_choose:Edit the merged text").click()
    at = ok(at.run())
    assert at.text_area(key="draft_text:qa").value.rstrip("\n") == merged  # st.code drops the final newline
    button(at, "draft_save").click()
    at = ok(at.run())
    assert "Committed" in texts(at)
    assert (repo.root / "prompts/qa.prompt").read_text().rstrip("\n") == merged


def test_a_rejecting_hook_shows_its_output_and_keeps_the_draft(repo: GitRepo) -> None:
    hook = repo.root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'prompt lint: missing description' >&2\nexit 1\n")
    hook.chmod(0o755)
    at = edit(open_page(), BETTER)
    at.text_input(key="draft_message").set_value("mine")
    button(at, "draft_save").click()
    at = ok(at.run())
    assert "git did not commit" in at.error[0].value
    assert any("prompt lint: missing description" in c.value for c in at.code)
    assert load_draft(repo.root, "qa").text == BETTER and (repo.root / "prompts/qa.prompt").read_text() == QA_V2


def test_a_detached_head_says_so_and_saves_on_a_new_branch(repo: GitRepo) -> None:
    repo.checkout(repo.rev_parse("HEAD"))
    at = edit(open_page(), BETTER)
    assert "HEAD is detached" in texts(at)
    at.text_input(key="draft_message").set_value("mine")
    button(at, "draft_save").click()
    at = ok(at.run())
    assert "detached" in at.error[0].value and (repo.root / "prompts/qa.prompt").read_text() == QA_V2
    at.text_input(key="draft_branch").set_value("better-qa")
    button(at, "draft_save").click()
    at = ok(at.run())
    assert "Committed" in texts(at) and repo.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "better-qa"


def test_uncommitted_edits_on_disk_can_be_committed_and_the_newest_commits_text_cannot(repo: GitRepo) -> None:
    at = open_page()
    assert button(at, "draft_save").disabled  # the file is the newest commit's text: nothing to commit
    repo.write("prompts/qa.prompt", BETTER)  # edited in another editor, not committed
    at = ok(at.run())
    assert not button(at, "draft_save").disabled
    at.text_input(key="draft_message").set_value("qa: commit the edit made elsewhere")
    button(at, "draft_save").click()
    at = ok(at.run())
    assert "Committed" in texts(at) and repo.git("status", "--porcelain") == ""
