"""What `evals prompts` prints: the table of prompts, a prompt's history, versions as JSON, and colored diffs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from promptarena.gitstore import PromptVersion


def version_json(version: PromptVersion) -> dict[str, Any]:
    """A prompt version as plain data: its spec, commit, blob, path, date, author, message and dirty flag."""
    fields = ("spec", "commit", "blob", "path", "date", "author", "message", "dirty")
    return {name: getattr(version, name) for name in fields}


def prompts_json(rows: Sequence[Mapping[str, Any]], shallow: bool) -> dict[str, Any]:
    """What `evals prompts list --json` prints: each prompt's row, and whether the clone is shallow."""
    return {"prompts": list(rows), "shallow": shallow}


def log_json(
    name: str, history: Sequence[PromptVersion], worktree: PromptVersion | None, shallow: bool
) -> dict[str, Any]:
    """What `evals prompts log --json` prints: the uncommitted version, if any, then the commits, newest first."""
    return {
        "name": name,
        "worktree": version_json(worktree) if worktree else None,
        "versions": [version_json(v) for v in history],
        "shallow": shallow,
    }


def prompts_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """One row per prompt (as `evals prompts list --json` gives it): versions, latest commit and worktree state."""
    table = Table(title="prompts")
    for column in ("name", "versions", "latest commit", "date", "message", "worktree"):
        table.add_column(column, justify="right" if column == "versions" else "left")
    for row in rows:
        state = "deleted" if not row["in_worktree"] else ("modified" if row["dirty"] else "clean")
        if row["versions"] == 0 and row["in_worktree"]:
            state = "untracked"
        table.add_row(
            row["name"],
            str(row["versions"]),
            (row["latest_commit"] or "")[:7] or "-",
            (row["latest_date"] or "")[:10],
            _clip(row["latest_message"] or ""),
            state if state == "clean" else f"[yellow]{state}[/yellow]",
        )
    return table


def log_table(title: str, history: Sequence[PromptVersion], worktree: bool) -> Table:
    """The commits that changed a prompt, newest first, under a row for uncommitted changes when ``worktree``."""
    table = Table(title=title)
    for column in ("commit", "date", "author", "message"):
        table.add_column(column)
    if worktree:
        table.add_row("[yellow]worktree[/yellow]", "", "", "[yellow]uncommitted changes[/yellow]")
    for version in history:
        table.add_row(version.label, (version.date or "")[:19], version.author or "", _clip(version.message or "", 72))
    return table


def _clip(text: str, width: int = 40) -> str:
    """A commit subject cut to one table line; `evals prompts log --json` keeps it whole."""
    return text if len(text) <= width else text[: width - 1] + "…"


def diff_line(line: str) -> str:
    """A line of a unified diff styled as git colors it: headers bold, hunks cyan, additions green, removals red."""
    import click

    if line.startswith(("+++", "---")):
        return click.style(line, bold=True)
    if line.startswith("@@"):
        return click.style(line, fg="cyan")
    if line.startswith("+"):
        return click.style(line, fg="green")
    if line.startswith("-"):
        return click.style(line, fg="red")
    return line
