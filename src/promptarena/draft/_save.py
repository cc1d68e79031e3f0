"""Saving a draft: its file written and committed alone, or refused with the file, the index and the draft kept."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptarena.draft._kept import Draft, discard_draft
from promptarena.errors import ConfigError, PromptArenaError
from promptarena.gitstore import PromptStore

# --- saving -----------------------------------------------------------------------------------------------


class SaveRefused(ConfigError):
    """Saving did not commit; ``output`` holds what git (or its hook) said. The file and the draft are unchanged."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class DraftConflict(SaveRefused):
    """The file changed on disk since the draft was opened: the three texts, for the person to choose."""

    def __init__(self, message: str, base: str | None, mine: str, theirs: str | None) -> None:
        super().__init__(message)
        self.base, self.mine, self.theirs = base, mine, theirs


def repository_state(prompts: PromptStore) -> str | None:
    """Why the repository cannot take a commit now (a merge, rebase, cherry-pick or revert in progress, or a
    detached HEAD), or None when it can."""
    repo = prompts._repo
    git_dir = Path(repo.git_dir)
    for marker, what in (
        ("MERGE_HEAD", "a merge"),
        ("rebase-merge", "a rebase"),
        ("rebase-apply", "a rebase"),
        ("CHERRY_PICK_HEAD", "a cherry-pick"),
        ("REVERT_HEAD", "a revert"),
    ):
        if (git_dir / marker).exists():
            return f"the repository is in the middle of {what}: finish or abort it in a terminal, then save"
    if repo.head.is_detached:
        return "HEAD is detached (no branch is checked out): name a new branch to save on, or check out a branch"
    return None


def three_way(base: str | None, mine: str, theirs: str | None) -> str:
    """``git merge-file --diff3``: the draft and the file on disk merged from the text the draft was opened on,
    with conflict markers where both changed the same lines."""
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for label, text in (("draft", mine), ("opened", base or ""), ("on disk", theirs or "")):
            path = Path(tmp) / label.replace(" ", "_")
            path.write_text(text, encoding="utf-8")
            files.append((label, str(path)))
        argv = ["git", "merge-file", "-p", "--diff3"]
        for label, _ in files:
            argv += ["-L", label]
        done = subprocess.run(argv + [p for _, p in files], capture_output=True, text=True, check=False)
    if done.returncode < 0 or done.returncode > 127:
        raise PromptArenaError(f"git merge-file failed: {done.stderr.strip()}")
    return done.stdout


def save_draft(
    prompts: PromptStore,
    draft: Draft,
    message: str,
    *,
    name: str | None = None,
    branch: str | None = None,
) -> str:
    """Write the draft to ``prompts/<name>.prompt`` and commit that file alone; returns the new commit's sha.

    Other staged and unstaged changes stay as they were. The commit is made under the repository's git
    identity, or ``name`` where git has none. On a detached HEAD, ``branch`` names a new branch to commit on.

    Raises:
        DraftConflict: the file changed on disk since the draft was opened; nothing was written.
        SaveRefused: no message, a path outside ``prompts/``, a merge or rebase in progress, a detached HEAD
            without ``branch``, or a hook that rejected the commit (its output in ``output``); the file on disk
            and the index are as they were.
    """
    import git

    if not message.strip():
        raise SaveRefused("write a commit message to save the draft")
    rel = prompts.path_of(draft.name)  # refuses a name the prompt store does not accept
    target = (prompts.workdir / rel).resolve()
    if not target.is_relative_to(prompts.prompts_path) or target.parent != prompts.prompts_path:
        raise SaveRefused(f"{rel} is not a file directly under {prompts.prompts_path}: only prompt files are saved")
    state = repository_state(prompts)
    repo = prompts._repo
    if state is not None and not (branch and repo.head.is_detached and state.startswith("HEAD is detached")):
        raise SaveRefused(f"not saved: {state}")
    before = target.read_bytes() if target.is_file() else None
    now = before.decode("utf-8", errors="replace") if before is not None else None
    if now != draft.disk:
        raise DraftConflict(
            f"{rel} changed on disk since the draft was opened: compare the three texts and choose",
            draft.disk,
            draft.text,
            now,
        )
    env = _identity(repo, name)
    tracked = bool(repo.git.ls_files("--", rel).strip())
    if branch:
        try:
            repo.git.check_ref_format("--branch", branch)
        except git.GitCommandError:
            raise SaveRefused(f"{branch!r} is not a valid branch name: use letters, digits, '-', '_' and '/'") from None
        if branch in [h.name for h in repo.heads]:
            raise SaveRefused(f"a branch {branch!r} exists already: name a new branch")
    detached_at = repo.head.commit.hexsha if branch else None
    target.write_text(draft.text, encoding="utf-8")
    try:
        if not tracked:
            repo.git.add("--intent-to-add", "--", rel)
        if branch:
            repo.git.checkout("-b", branch)  # the index and the working tree stay as they are
        with repo.git.custom_environment(**env):
            repo.git.commit("--only", "-m", message, "--", rel)
    except git.GitCommandError as err:
        if before is None:
            target.unlink(missing_ok=True)
        else:
            target.write_bytes(before)
        if not tracked:
            repo.git.rm("--cached", "-q", "--ignore-unmatch", "--", rel)
        if detached_at and not repo.head.is_detached:  # back where it was: no new branch without its commit
            repo.git.checkout("-q", "--detach", detached_at)
            repo.git.branch("-D", "--", branch)
        output = "\n".join(part for part in (_text(err.stdout), _text(err.stderr)) if part)
        raise SaveRefused(f"git did not commit {rel}; the draft is kept", output) from None
    discard_draft(prompts.workdir, draft.name)
    return repo.head.commit.hexsha


def _text(value: Any) -> str:
    value = value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")
    return value.removeprefix("\n  stdout: '").removeprefix("\n  stderr: '").removesuffix("'").strip()


def _identity(repo: Any, name: str | None) -> Mapping[str, str]:
    """Environment for the commit: nothing when git knows who commits, else the workbench's ``name``."""
    reader = repo.config_reader()
    has = reader.has_option("user", "name") or os.environ.get("GIT_AUTHOR_NAME")
    if has:
        return {}
    if not (name and name.strip()):
        raise SaveRefused(
            "git has no identity in this repository (git config user.name): type your name in the sidebar to save"
        )
    who = name.strip()
    email = reader.get_value("user", "email", "") if reader.has_option("user", "email") else ""
    return {
        "GIT_AUTHOR_NAME": who,
        "GIT_COMMITTER_NAME": who,
        "GIT_AUTHOR_EMAIL": str(email),
        "GIT_COMMITTER_EMAIL": str(email),
    }
