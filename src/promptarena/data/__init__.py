"""Word lists shipped with promptarena; each file names its source in its ``#`` header."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["table", "words"]


@cache
def table(name: str) -> tuple[tuple[str, ...], ...]:
    """The rows of a tab-separated list in this folder, without its ``#`` header and blank lines."""
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    return tuple(tuple(line.split("\t")) for line in text.splitlines() if line.strip() and not line.startswith("#"))


def words(name: str) -> tuple[str, ...]:
    """The words of a one-word-a-line list in this folder."""
    return tuple(row[0] for row in table(name))
