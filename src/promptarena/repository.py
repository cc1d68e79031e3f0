"""The git repository that a path is in, found as git finds it, for every command that takes ``--repo``, and where
the drafts of its prompts are kept."""

from __future__ import annotations

from pathlib import Path

import git

from promptarena.errors import ConfigError

__all__ = ["DRAFT", "drafts_dir", "open_repo", "read_draft", "repository_root"]

DRAFT = "draft-"  # a draft's revision: ``draft-`` and the first 7 hex digits of its blob sha


def repository_root(path: Path | str = ".") -> Path:
    """The top folder of the git repository that contains ``path``, so that commands work from any subfolder."""
    with open_repo(path) as repo:
        return Path(str(repo.working_tree_dir)).resolve()


def open_repo(path: Path | str) -> git.Repo:
    """The repository that contains ``path``, found as git finds it (walking up from ``path``), with a worktree."""
    where = Path(path).expanduser()
    if not where.exists():
        raise ConfigError(f"the repository path {str(where)!r} does not exist: pass --repo PATH")
    try:
        repo = git.Repo(where, search_parent_directories=True)
    except git.InvalidGitRepositoryError:
        raise ConfigError(
            f"{str(where.absolute())!r} is not inside a git repository: prompts are versioned by git, so run "
            "`git init` there (and commit your prompts) or pass --repo PATH to a repository"
        ) from None
    if repo.bare or repo.working_tree_dir is None:
        raise ConfigError(f"{str(where)!r} is a bare git repository: use a clone with a worktree")
    return repo


def drafts_dir(workdir: Path | str) -> Path:
    """Where drafts live: ``.promptarena/drafts`` of the repository, beside the results database, never committed."""
    return Path(workdir) / ".promptarena" / "drafts"


def read_draft(workdir: Path, name: str, rev: str) -> bytes:
    """The text of the tried draft ``rev`` (``draft-`` and at least 7 hex digits of its blob) of prompt ``name``,
    kept as ``.promptarena/drafts/<name>/<blob>.prompt``.

    Raises:
        ConfigError: when no such draft is kept (or the prefix names more than one).
    """
    prefix = rev.removeprefix(DRAFT)
    hexadecimal = len(prefix) >= 7 and all(c in "0123456789abcdef" for c in prefix)
    found = sorted((drafts_dir(workdir) / name).glob(f"{prefix}*.prompt")) if hexadecimal else []
    if len(found) != 1:
        raise ConfigError(
            f"no draft {rev!r} of prompt {name!r} in {drafts_dir(workdir)}: try the draft again "
            "(`evals try FILE`) and use the revision it prints"
        )
    return found[0].read_bytes()
