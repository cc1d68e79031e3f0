"""Drafts: a version keyed by its content, tried on a suite's cases, saved as a commit of one file, and every
refusal that keeps the person's work (changed on disk, merge or rebase, detached HEAD, a rejecting hook, a path
outside prompts/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from promptarena.draft import (
    Draft,
    DraftConflict,
    SaveRefused,
    Selection,
    discard_draft,
    draft_version,
    keep_draft,
    load_draft,
    open_draft,
    parse_selection,
    repository_state,
    save_draft,
    select_cases,
    three_way,
    validate,
    wrong_cases,
)
from promptarena.engine import run_suite
from promptarena.errors import ConfigError
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from tests.support.git import GitRepo
from tests.support.repos import QA_V1, QA_V2, qa_repo, results_db

QA_V3 = QA_V1.replace("Capital of {{ country }}?", "Capital of {{ country }}? One word.")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return qa_repo(tmp_path / "repo")


def status(repo: GitRepo) -> tuple[str, str, str]:
    """What git says about everything but the prompt: porcelain status, unstaged and staged differences."""
    return (
        repo.git("status", "--porcelain", "--", ".", ":!prompts/qa.prompt"),
        repo.git("diff", "--", ".", ":!prompts/qa.prompt"),
        repo.git("diff", "--cached", "--", ".", ":!prompts/qa.prompt"),
    )


def test_a_draft_is_a_version_keyed_by_its_content_and_trying_it_twice_generates_nothing(repo: GitRepo) -> None:
    suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
    with PromptStore(repo.root) as store, ResultsStore(results_db(repo)) as results:
        version = draft_version(store, "qa", QA_V3)
        assert version.label.startswith("draft-") and version.commit is None
        assert store.resolve(f"qa@{version.label}") == version
        assert draft_version(store, "qa", QA_V3) == version  # the same text, the same version
        assert draft_version(store, "qa", QA_V3 + "\n").blob != version.blob
        first = run_suite(suite, store, results, versions=[version])
        again = run_suite(suite, store, results, versions=[draft_version(store, "qa", QA_V3)])
    assert first.generated == len(suite.cases) and again.generated == 0
    assert repo.git("status", "--porcelain") == ""  # nothing written into the repository


def test_a_tried_text_is_kept_out_of_git_status_even_before_any_results_database(repo: GitRepo) -> None:
    with PromptStore(repo.root) as store:
        draft_version(store, "qa", QA_V3)
    assert repo.git("status", "--porcelain", "--untracked-files=all") == ""


def test_an_unknown_draft_revision_is_bad_input(repo: GitRepo) -> None:
    with PromptStore(repo.root) as store, pytest.raises(ConfigError, match="no draft 'draft-0000000'"):
        store.resolve("qa@draft-0000000")
    with PromptStore(repo.root) as store, pytest.raises(ConfigError, match="no draft"):
        store.resolve("qa@draft-*")


def test_saving_commits_that_file_alone_and_leaves_other_changes_as_they_were(repo: GitRepo) -> None:
    repo.write("evals/qa.yaml", (repo.root / "evals/qa.yaml").read_text() + "# staged edit\n")
    repo.git("add", "evals/qa.yaml")
    repo.write("evals/qa.yaml", (repo.root / "evals/qa.yaml").read_text() + "# and unstaged on top\n")
    repo.write("notes.txt", "untracked\n")
    before = status(repo)
    head = repo.rev_parse("HEAD")
    with PromptStore(repo.root) as store:
        draft = open_draft(store, "qa")
        assert draft.text == QA_V2 and not draft.edited
        sha = save_draft(store, Draft("qa", QA_V3, draft.disk), "qa: one word")
    assert status(repo) == before
    assert repo.git("show", "--name-only", "--format=", sha).split() == ["prompts/qa.prompt"]
    assert repo.rev_parse("HEAD~1") == head and repo.git("log", "-1", "--format=%s %an") == "qa: one word Test Author\n"
    assert (repo.root / "prompts/qa.prompt").read_text() == QA_V3
    assert repo.git("diff", "--cached", "--", "prompts/qa.prompt") == ""


def test_after_saving_the_commit_has_the_drafts_results_so_a_run_generates_nothing(repo: GitRepo) -> None:
    suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
    with PromptStore(repo.root) as store, ResultsStore(results_db(repo)) as results:
        version = draft_version(store, "qa", QA_V3)
        tried = run_suite(suite, store, results, versions=[version])
        disk = open_draft(store, "qa").disk
        save_draft(store, Draft("qa", QA_V3, disk), "qa: one word")
    with PromptStore(repo.root) as store, ResultsStore(results_db(repo)) as results:
        saved = store.resolve("qa@HEAD")
        assert saved.blob == version.blob
        after = run_suite(suite, store, results, versions=[saved])
    assert tried.generated > 0 and after.generated == 0 and after.cached == tried.generated


def test_a_file_changed_on_disk_since_the_draft_opened_is_not_overwritten(repo: GitRepo) -> None:
    with PromptStore(repo.root) as store:
        draft = open_draft(store, "qa")
    theirs = QA_V2.replace("max_new_tokens: 16", "max_new_tokens: 24")
    repo.write("prompts/qa.prompt", theirs)  # another editor, a git pull
    head = repo.rev_parse("HEAD")
    with PromptStore(repo.root) as store, pytest.raises(DraftConflict) as refused:
        save_draft(store, Draft("qa", QA_V3, draft.disk), "mine")
    assert (repo.root / "prompts/qa.prompt").read_text() == theirs and repo.rev_parse("HEAD") == head
    err = refused.value
    assert (err.base, err.mine, err.theirs) == (QA_V2, QA_V3, theirs)
    merged = three_way(err.base, err.mine, err.theirs)  # the draft's line and the disk's line both kept
    assert "One word." in merged and "max_new_tokens: 24" in merged


@pytest.mark.parametrize("marker", ["MERGE_HEAD", "rebase-merge"])
def test_no_commit_in_the_middle_of_a_merge_or_rebase(repo: GitRepo, marker: str) -> None:
    path = repo.root / ".git" / marker
    if marker == "MERGE_HEAD":
        path.write_text(repo.rev_parse("HEAD~1") + "\n")
    else:
        path.mkdir()
    head = repo.rev_parse("HEAD")
    with PromptStore(repo.root) as store:
        assert "in the middle of a" in (repository_state(store) or "")
        with pytest.raises(SaveRefused, match="in the middle of a"):
            save_draft(store, Draft("qa", QA_V3, QA_V2), "mine")
    assert repo.rev_parse("HEAD") == head and (repo.root / "prompts/qa.prompt").read_text() == QA_V2


def test_a_detached_head_saves_only_to_a_new_branch(repo: GitRepo) -> None:
    repo.checkout(repo.rev_parse("HEAD"))
    with PromptStore(repo.root) as store:
        with pytest.raises(SaveRefused, match="detached"):
            save_draft(store, Draft("qa", QA_V3, QA_V2), "mine")
        assert (repo.root / "prompts/qa.prompt").read_text() == QA_V2
        with pytest.raises(SaveRefused, match="exists already"):
            save_draft(store, Draft("qa", QA_V3, QA_V2), "mine", branch="main")
        sha = save_draft(store, Draft("qa", QA_V3, QA_V2), "mine", branch="one-word")
    assert repo.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "one-word" and repo.rev_parse("one-word") == sha
    assert repo.rev_parse("main") == repo.rev_parse("one-word~1")


def test_a_hook_that_rejects_the_commit_shows_its_output_and_keeps_the_draft(repo: GitRepo) -> None:
    hook = repo.root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'lint: the prompt needs a description' >&2\nexit 1\n")
    hook.chmod(0o755)
    keep_draft(repo.root, Draft("qa", QA_V3, QA_V2))
    head = repo.rev_parse("HEAD")
    with PromptStore(repo.root) as store, pytest.raises(SaveRefused) as refused:
        save_draft(store, Draft("qa", QA_V3, QA_V2), "mine")
    assert "lint: the prompt needs a description" in refused.value.output
    assert repo.rev_parse("HEAD") == head and (repo.root / "prompts/qa.prompt").read_text() == QA_V2
    assert repo.git("status", "--porcelain") == ""
    assert load_draft(repo.root, "qa") == Draft("qa", QA_V3, QA_V2)


def test_a_rejected_commit_on_a_new_branch_leaves_the_detached_head_as_it_was(repo: GitRepo) -> None:
    head = repo.rev_parse("HEAD")
    repo.checkout(head)
    hook = repo.root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    with PromptStore(repo.root) as store, pytest.raises(SaveRefused):
        save_draft(store, Draft("qa", QA_V3, QA_V2), "mine", branch="one-word")
    assert repo.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "HEAD" and repo.rev_parse("HEAD") == head
    assert "one-word" not in repo.git("branch", "--list") and repo.git("status", "--porcelain") == ""


def test_a_new_prompt_rejected_by_a_hook_leaves_no_file_and_nothing_staged(repo: GitRepo) -> None:
    hook = repo.root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    with PromptStore(repo.root) as store, pytest.raises(SaveRefused):
        save_draft(store, Draft("fresh", QA_V1, None), "a new prompt")
    assert not (repo.root / "prompts/fresh.prompt").exists() and repo.git("status", "--porcelain") == ""


def test_a_prompt_deleted_in_the_worktree_opens_at_its_newest_commit_and_saves_back(repo: GitRepo) -> None:
    repo.remove("prompts/qa.prompt")
    with PromptStore(repo.root) as store:
        draft = open_draft(store, "qa")
        assert (draft.text, draft.disk, draft.opened) == (QA_V2, None, "HEAD")
        assert open_draft(store, "qa", "HEAD~1").text == QA_V1
        save_draft(store, Draft("qa", QA_V3, None), "qa: back, in one word")
    assert repo.git("status", "--porcelain") == "" and (repo.root / "prompts/qa.prompt").read_text() == QA_V3


def test_a_kept_draft_survives_until_saved_or_discarded(repo: GitRepo) -> None:
    draft = Draft("qa", QA_V3, QA_V2, "HEAD~1")
    keep_draft(repo.root, draft)
    assert load_draft(repo.root, "qa") == draft
    assert repo.git("status", "--porcelain") == ""  # kept beside the results database, never committed
    with PromptStore(repo.root) as store:
        save_draft(store, draft, "mine")
    assert load_draft(repo.root, "qa") is None
    keep_draft(repo.root, draft)
    discard_draft(repo.root, "qa")
    assert load_draft(repo.root, "qa") is None


@pytest.mark.parametrize("name", ["../evals/qa", "/etc/passwd", "..", "sub/qa", "qa@HEAD", "-rf", ".hidden"])
def test_only_prompt_files_under_prompts_can_be_written(repo: GitRepo, name: str) -> None:
    head = repo.rev_parse("HEAD")
    with PromptStore(repo.root) as store, pytest.raises(ConfigError):
        save_draft(store, Draft(name, "pwned\n", None), "escape")
    assert repo.rev_parse("HEAD") == head and repo.git("status", "--porcelain") == ""
    assert not Path("/etc/passwd").read_text().startswith("pwned")


def test_a_symlinked_prompt_pointing_outside_is_refused(repo: GitRepo, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    os.symlink(outside, repo.root / "prompts" / "link.prompt")
    with PromptStore(repo.root) as store, pytest.raises(SaveRefused, match="not a file directly under"):
        save_draft(store, Draft("link", "pwned\n", "keep me\n"), "escape")
    assert outside.read_text() == "keep me\n"


def test_without_a_git_identity_the_sidebar_name_commits(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.git("config", "--unset", "user.name")
    repo.git("config", "--unset", "user.email")
    monkeypatch.setenv("HOME", str(repo.root.parent))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_AUTHOR_NAME", raising=False)
    with PromptStore(repo.root) as store:
        with pytest.raises(SaveRefused, match="type your name in the sidebar"):
            save_draft(store, Draft("qa", QA_V3, QA_V2), "mine")
        save_draft(store, Draft("qa", QA_V3, QA_V2), "mine", name="Ada Lovelace")
    assert repo.git("log", "-1", "--format=%an|%cn") == "Ada Lovelace|Ada Lovelace\n"


def test_validation_names_the_line_as_evals_run_does(repo: GitRepo) -> None:
    suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
    broken = QA_V1.replace("Capital of {{ country }}?", "Capital of {{ country }?")
    with PromptStore(repo.root) as store:
        assert validate(store, "qa", QA_V1, suite) == []
        [problem] = validate(store, "qa", broken, suite)
        assert problem.line == 11 and problem.message.startswith("prompts/qa.prompt:11")
        [undeclared] = validate(store, "qa", QA_V1.replace("{{ country }}", "{{ city }}"), suite)
        assert "city" in undeclared.message


def test_case_selections(repo: GitRepo) -> None:
    suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
    assert [c.id for c in select_cases(suite, parse_selection("first:2")).cases] == ["france", "japan"]
    drawn = select_cases(suite, parse_selection("sample:3:7")).cases
    assert len(drawn) == 3 and drawn == select_cases(suite, Selection("sample", 3, 7)).cases
    assert len(select_cases(suite, parse_selection("all")).cases) == len(suite.cases)
    for bad in ("first", "first:0", "sample:x", "some", "wrong:3"):
        with pytest.raises(ConfigError, match="first:N"):
            parse_selection(bad)
    with PromptStore(repo.root) as store, ResultsStore(results_db(repo)) as results:
        head = store.resolve("qa@HEAD")
        assert wrong_cases(results, suite, head.blob) == []
        with pytest.raises(ConfigError, match="gets no stored case wrong"):
            select_cases(suite, parse_selection("wrong"), [])
        run_suite(suite, store, results, versions=[head])
        missed = wrong_cases(results, suite, head.blob)
    assert missed == ["france", "italy", "peru"]  # v2 is answered wrong for every other country
    assert [c.id for c in select_cases(suite, Selection("wrong"), missed).cases] == missed
