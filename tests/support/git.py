"""Real git repositories in tmp_path with real commits (never a mocked git)."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
}


_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


class GitRepo:
    """A real git repository for tests: write files, commit them, read revisions back.

    Commits get increasing, fixed dates (one minute apart) so that logs are ordered and reproducible.
    """

    def __init__(self, root: Path, *, init: bool = True) -> None:
        self.root = Path(root)
        self._tick = 0
        if init:
            self.root.mkdir(parents=True, exist_ok=True)
            self.git("init", "-q", "-b", "main")
            self.git("config", "commit.gpgsign", "false")
            self.git("config", "user.name", "Test Author")
            self.git("config", "user.email", "author@example.com")

    def git(self, *args: str) -> str:
        """Run git in the repository and return its stdout (raises CalledProcessError on failure)."""
        env = {**os.environ, **_ENV}
        date = (_EPOCH + timedelta(minutes=self._tick)).isoformat()
        env.setdefault("GIT_AUTHOR_DATE", date)
        env.setdefault("GIT_COMMITTER_DATE", date)
        result = subprocess.run(["git", *args], cwd=self.root, env=env, check=True, capture_output=True, text=True)
        return result.stdout

    def write(self, path: str, text: str) -> Path:
        """Write ``text`` to ``path`` (relative to the repository), creating folders."""
        file = self.root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
        return file

    def remove(self, path: str) -> None:
        """Delete a file from the worktree (not staged)."""
        (self.root / path).unlink()

    def move(self, src: str, dst: str) -> None:
        """``git mv src dst`` (staged; commit it with ``commit``)."""
        (self.root / dst).parent.mkdir(parents=True, exist_ok=True)
        self.git("mv", "--", src, dst)

    def commit(
        self, message: str, author: str = "Test Author <author@example.com>", paths: tuple[str, ...] = ()
    ) -> str:
        """Stage everything (or ``paths``) and commit; returns the new commit's full sha."""
        self._tick += 1
        self.git("add", "-A", "--", *(paths or (".",)))
        self.git("commit", "-q", "--allow-empty", "-m", message, f"--author={author}")
        return self.rev_parse("HEAD")

    def tag(self, name: str, rev: str = "HEAD") -> None:
        """Create a lightweight tag."""
        self.git("tag", name, rev)

    def checkout(self, rev: str) -> None:
        """Check out ``rev`` (a sha gives a detached HEAD, as CI does)."""
        self.git("checkout", "-q", rev)

    def rev_parse(self, rev: str) -> str:
        """The full sha that ``rev`` names."""
        return self.git("rev-parse", "--verify", rev).strip()

    def clone(self, dest: Path, *args: str) -> GitRepo:
        """Clone this repository through file:// (so ``--depth`` works) into ``dest``."""
        subprocess.run(
            ["git", "clone", "-q", *args, f"file://{self.root}", str(dest)],
            check=True,
            capture_output=True,
            env={**os.environ, **_ENV},
        )
        return GitRepo(dest, init=False)
