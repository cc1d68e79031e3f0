"""Helpers shared by the command groups."""

from __future__ import annotations

import os
from pathlib import Path

from promptarena.gitstore import PromptStore


def open_store(repo: str) -> PromptStore:
    return PromptStore(repo)


def default_db(root: Path) -> Path:
    """The results database: $PROMPTARENA_DB, else .promptarena/results.db inside the repository."""
    env = os.environ.get("PROMPTARENA_DB")
    return Path(env) if env else Path(root) / ".promptarena" / "results.db"
