"""PromptStore against real git repositories: versions, renames, revisions, worktree, shallow clones."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from promptarena.errors import ConfigError
from promptarena.gitstore import PromptStore, PromptVersion, blob_sha

if TYPE_CHECKING:
    from tests.support.git import GitRepo


def prompt_text(line: str, var: str = "question") -> str:
    return f"---\ndescription: {line}\nvariables: [{var}]\n---\nsystem:\n{line}\n\nuser:\n{{{{ {var} }}}}\n"


V1, V2, V3 = prompt_text("Be short."), prompt_text("Be very short."), prompt_text("Answer only.")


@pytest.fixture
def history(git_repo: GitRepo) -> GitRepo:
    """qa: three commits, renamed from ask -> qa on the way; other: one commit."""
    git_repo.write("prompts/ask.prompt", V1)
    git_repo.write("README.md", "hi\n")
    git_repo.commit("Add ask prompt", author="Ann <ann@example.com>")
    git_repo.write("prompts/ask.prompt", V2)
    git_repo.commit("Shorten answers", author="Bob <bob@example.com>")
    git_repo.move("prompts/ask.prompt", "prompts/qa.prompt")
    git_repo.commit("Rename ask to qa")
    git_repo.write("README.md", "unrelated\n")
    git_repo.write("prompts/other.prompt", prompt_text("Other.", "x"))
    git_repo.commit("Unrelated change and another prompt")
    git_repo.write("prompts/qa.prompt", V3)
    git_repo.commit("Answer only")
    return git_repo


def store(repo: GitRepo, **kwargs) -> PromptStore:
    return PromptStore(repo.root, **kwargs)


def test_not_a_git_repository(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not inside a git repository.*git init"):
        PromptStore(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        PromptStore(tmp_path / "missing")


def test_finds_the_repository_from_a_subfolder(history: GitRepo) -> None:
    (history.root / "sub" / "deeper").mkdir(parents=True)
    s = PromptStore(history.root / "sub" / "deeper")
    assert s.workdir == history.root.resolve()
    assert s.list_prompts() == ["other", "qa"]


def test_list_prompts_includes_those_deleted_in_the_worktree(history: GitRepo) -> None:
    history.remove("prompts/other.prompt")
    history.write("prompts/new.prompt", V1)
    history.write("prompts/notes.txt", "not a prompt")
    s = store(history)
    assert s.list_prompts() == ["new", "other", "qa"]
    assert s.is_dirty("other") and s.is_dirty("new") and not s.is_dirty("qa")


def test_log_follows_renames_newest_first(history: GitRepo) -> None:
    log = store(history).log("qa")
    assert [v.message for v in log] == ["Answer only", "Rename ask to qa", "Shorten answers", "Add ask prompt"]
    assert [v.path for v in log] == ["prompts/qa.prompt"] * 2 + ["prompts/ask.prompt"] * 2
    assert [v.text for v in log] == [V3, V2, V2, V1]
    assert log[0].commit == history.rev_parse("HEAD")
    assert log[-1].author == "Ann" and log[-2].author == "Bob"
    assert log[0].date == "2024-01-01T00:05:00+00:00"
    assert all(v.blob == blob_sha(v.text.encode()) for v in log)
    assert not any(v.dirty for v in log)
    assert [v.message for v in store(history).log("qa", limit=2)] == ["Answer only", "Rename ask to qa"]


def test_log_skips_the_deleting_commit_and_is_empty_for_untracked(history: GitRepo) -> None:
    history.remove("prompts/other.prompt")
    history.commit("Drop other")
    history.write("prompts/fresh.prompt", V1)
    s = store(history)
    assert [v.message for v in s.log("other")] == ["Unrelated change and another prompt"]
    assert s.log("fresh") == []


def test_version_labels_and_specs(history: GitRepo) -> None:
    head = history.rev_parse("HEAD")
    version = store(history).resolve("qa@HEAD")
    assert isinstance(version, PromptVersion)
    assert (version.rev, version.commit, version.label, version.spec) == ("HEAD", head, head[:7], f"qa@{head[:7]}")
    assert version.text == V3 and version.message == "Answer only" and version.author == "Test Author"


@pytest.mark.parametrize(
    ("rev", "text", "path"),
    [
        ("HEAD~1", V2, "prompts/qa.prompt"),
        ("HEAD~3", V2, "prompts/ask.prompt"),  # before the rename: the old path
        ("HEAD~4", V1, "prompts/ask.prompt"),
        ("v1", V1, "prompts/ask.prompt"),
        ("main", V3, "prompts/qa.prompt"),
        ("main~2", V2, "prompts/qa.prompt"),
    ],
)
def test_resolve_revision_forms(history: GitRepo, rev: str, text: str, path: str) -> None:
    history.tag("v1", "HEAD~4")
    version = store(history).resolve(f"qa@{rev}")
    assert (version.text, version.path, version.rev) == (text, path, rev)
    # named by the newest commit, at or before REV, that made this text (the rename made HEAD~1's)
    made = {"HEAD~1": "HEAD~2", "main~2": "HEAD~2", "v1": "HEAD~4"}.get(rev, rev)
    assert version.commit == history.rev_parse(made)


def test_resolve_by_sha_short_sha_and_file_name(history: GitRepo) -> None:
    sha = history.rev_parse("HEAD~2")
    s = store(history)
    assert s.resolve(f"qa@{sha}").commit == sha
    assert s.resolve(f"qa@{sha[:8]}").commit == sha
    assert s.resolve("qa.prompt@HEAD").name == "qa"
    assert s.resolve("prompts/qa.prompt@HEAD").name == "qa"


def test_revision_starting_with_dash_is_refused(history: GitRepo) -> None:
    s = store(history)
    for spec in ("qa@--output=x", "qa@-n1", "qa@--all"):
        with pytest.raises(ConfigError, match="starts with '-'"):
            s.resolve(spec)
    assert not (history.root / "x").exists()


def test_unknown_revision_prompt_and_absent_prompt(history: GitRepo) -> None:
    s = store(history)
    with pytest.raises(ConfigError, match="unknown revision 'nope' in 'qa@nope'"):
        s.resolve("qa@nope")
    with pytest.raises(ConfigError, match=r"unknown prompt 'qaa' \(did you mean qa\?\)"):
        s.resolve("qaa@HEAD")
    with pytest.raises(ConfigError, match=r"unknown prompt 'qaa' \(did you mean qa\?\)"):
        s.resolve("qaa")
    with pytest.raises(ConfigError, match=r"prompt 'other' does not exist at revision 'HEAD~2'"):
        s.resolve("other@HEAD~2")
    with pytest.raises(ConfigError, match="empty revision"):
        s.resolve("qa@")
    with pytest.raises(ConfigError, match="invalid prompt name"):
        s.resolve("../etc/passwd@HEAD")


def test_worktree_version_and_dirty_flag(history: GitRepo) -> None:
    s = store(history)
    clean = s.resolve("qa@worktree")
    assert (clean.commit, clean.label, clean.spec, clean.dirty) == (None, "worktree", "qa@worktree", False)
    assert clean.blob == history.git("hash-object", "prompts/qa.prompt").strip()
    assert s.resolve("qa").commit == history.rev_parse("HEAD")  # clean: bare NAME is HEAD

    history.write("prompts/qa.prompt", V1)
    s = store(history)
    edited = s.resolve("qa")
    assert (edited.label, edited.dirty, edited.text) == ("worktree", True, V1)
    assert edited.blob == history.git("hash-object", "prompts/qa.prompt").strip()
    assert s.is_dirty("qa")

    history.remove("prompts/qa.prompt")
    with pytest.raises(ConfigError, match="was deleted"):
        store(history).resolve("qa@worktree")
    assert store(history).resolve("qa").label == history.rev_parse("HEAD")[:7]


def test_default_versions(history: GitRepo) -> None:
    s = store(history)
    assert [v.text for v in s.default_versions("qa")] == [V3, V2, V1]  # equal texts appear once
    assert [v.message for v in s.default_versions("qa")] == ["Answer only", "Rename ask to qa", "Add ask prompt"]
    assert len(s.default_versions("qa", last=1)) == 1

    history.write("prompts/qa.prompt", prompt_text("Edited."))
    versions = store(history).default_versions("qa")
    assert [v.label for v in versions] == ["worktree", history.rev_parse("HEAD")[:7], history.rev_parse("HEAD~2")[:7]]

    history.write("prompts/brand_new.prompt", V1)
    assert [v.label for v in store(history).default_versions("brand_new")] == ["worktree"]
    with pytest.raises(ConfigError, match="unknown prompt"):
        store(history).default_versions("nothing")


def test_default_versions_when_head_did_not_touch_the_prompt(history: GitRepo) -> None:
    history.write("README.md", "later\n")
    history.commit("Docs only")
    versions = store(history).default_versions("qa", last=2)
    assert [v.message for v in versions] == ["Answer only", "Rename ask to qa"]


def test_detached_head(history: GitRepo) -> None:
    history.checkout(history.rev_parse("HEAD~1"))
    s = store(history)
    assert [v.text for v in s.log("qa")] == [V2, V2, V1]
    assert s.resolve("qa@HEAD").text == V2
    assert s.resolve("qa@main").text == V3
    assert not s.is_dirty("qa")


def test_repository_without_commits(git_repo: GitRepo) -> None:
    git_repo.write("prompts/qa.prompt", V1)
    s = store(git_repo)
    assert s.list_prompts() == ["qa"]
    assert s.log("qa") == []
    assert s.is_dirty("qa")
    assert [v.label for v in s.default_versions("qa")] == ["worktree"]
    assert s.resolve("qa").text == V1
    with pytest.raises(ConfigError, match="no commits yet"):
        s.resolve("qa@HEAD")


def test_shallow_clone_is_detected_and_history_cut(history: GitRepo, tmp_path: Path) -> None:
    assert store(history).shallow is False
    clone = history.clone(tmp_path / "shallow", "--depth", "1")
    s = store(clone)
    assert s.shallow is True
    assert [v.text for v in s.log("qa")] == [V3]
    with pytest.raises(ConfigError, match="fetch --unshallow"):
        s.resolve("qa@HEAD~2")


def test_load_parses_and_names_the_version_in_errors(history: GitRepo) -> None:
    s = store(history)
    prompt = s.load(s.resolve("qa@HEAD"))
    assert prompt.name == "qa" and prompt.variables == ("question",)
    history.write("prompts/broken.prompt", "---\nparameters:\n  temperature: -1\n---\nuser:\nhi\n")
    history.commit("Broken prompt")
    s = store(history)
    sha = history.rev_parse("HEAD")[:7]
    with pytest.raises(ConfigError, match=rf"^prompts/broken.prompt@{sha}:3: parameters.temperature"):
        s.load(s.resolve("broken@HEAD"))
    with pytest.raises(ConfigError, match=r"^prompts/broken.prompt:3: parameters.temperature"):
        s.load(s.resolve("broken@worktree"))


def test_diff_has_version_labels(history: GitRepo) -> None:
    s = store(history)
    old = history.rev_parse("HEAD~2")[:7]  # HEAD~1 left the text as HEAD~2 made it
    text = s.diff("qa@HEAD~1", "qa@HEAD")
    assert text.startswith(f"--- qa@{old}\n+++ qa@{history.rev_parse('HEAD')[:7]}\n")
    assert "-Be very short.\n" in text and "+Answer only.\n" in text
    assert s.diff("qa@HEAD", "qa@worktree") == ""


def test_prompts_dir_in_a_subfolder(git_repo: GitRepo) -> None:
    git_repo.write("team/prompts/qa.prompt", V1)
    git_repo.commit("Add")
    s = PromptStore(git_repo.root / "team", prompts_dir="team/prompts")
    assert s.list_prompts() == ["qa"]
    assert s.resolve("qa@HEAD").path == "team/prompts/qa.prompt"
    assert len(s.log("qa")) == 1


def test_glob_characters_in_names_are_refused(history: GitRepo) -> None:
    # `git log --follow` matches its path as a glob even with literal pathspecs, so such names are refused.
    s = store(history)
    for name in ("*", "q?", "[q]a", ":(glob)qa", "-qa"):
        with pytest.raises(ConfigError, match="invalid prompt name"):
            s.resolve(f"{name}@HEAD")


def test_a_copied_prompt_starts_its_own_history(history: GitRepo) -> None:
    history.write("prompts/copy.prompt", V3)
    history.commit("Copy qa")
    s = store(history)
    assert [v.message for v in s.log("copy")] == ["Copy qa"]
    assert [v.label for v in s.default_versions("copy")] == [history.rev_parse("HEAD")[:7]]
    assert len(s.log("qa")) == 4


def test_git_is_really_used(history: GitRepo) -> None:
    out = subprocess.run(
        ["git", "log", "--format=%s", "--follow", "--", "prompts/qa.prompt"],
        cwd=history.root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")[:-1]
    assert out == [v.message for v in store(history).log("qa")]
