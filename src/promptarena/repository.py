"""The git repository that a path is in, found as git finds it, for every command that takes ``--repo``."""

from __future__ import annotations

from pathlib import Path

import git

from promptarena.errors import ConfigError

__all__ = ["open_repo", "repository_root"]


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
