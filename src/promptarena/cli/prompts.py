"""`evals prompts ...`: list prompts, show their git history, print a version, diff two versions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from promptarena.cli.common import note_shallow

if TYPE_CHECKING:
    from promptarena.gitstore import PromptStore, PromptVersion

_repo_option = click.option(
    "--repo",
    "repo",
    type=click.Path(file_okay=False),
    default=None,
    help="Path inside the git repository that holds the prompts (default: the current directory).",
)
_prompts_dir_option = click.option(
    "--prompts-dir",
    default=None,
    help="Folder of the .prompt files, relative to the repository's top folder (default: prompts).",
)


def _store_options(func: Callable[..., Any]) -> Callable[..., Any]:
    return _repo_option(_prompts_dir_option(func))


@click.group()
@_store_options
@click.pass_context
def prompts(ctx: click.Context, repo: str | None, prompts_dir: str | None) -> None:
    """Prompt files and their versions: every git commit of prompts/NAME.prompt is a version.

    Address a version as NAME@REV (a sha, tag, branch or HEAD~2) or NAME@worktree (uncommitted edits).
    """
    ctx.obj = {"repo": repo or ".", "prompts_dir": prompts_dir or "prompts"}


def _open_prompts(ctx: click.Context, repo: str | None, prompts_dir: str | None) -> PromptStore:
    """The prompt store for the command; a command's own --repo/--prompts-dir wins over the group's."""
    from promptarena.gitstore import PromptStore

    parent = ctx.find_object(dict) or {}
    return PromptStore(repo or parent.get("repo", "."), prompts_dir or parent.get("prompts_dir", "prompts"))


def _version_json(version: PromptVersion) -> dict[str, Any]:
    return {
        "spec": version.spec,
        "commit": version.commit,
        "blob": version.blob,
        "path": version.path,
        "date": version.date,
        "author": version.author,
        "message": version.message,
        "dirty": version.dirty,
    }


def _console() -> Any:
    from promptarena.cli.common import make_console

    console = make_console(as_json=False)
    console.highlight = False
    return console


@prompts.command("list")
@_store_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a table.")
@click.pass_context
def list_command(ctx: click.Context, repo: str | None, prompts_dir: str | None, as_json: bool) -> None:
    """List prompts, their versions and worktree state."""
    with _open_prompts(ctx, repo, prompts_dir) as prompts:
        rows = []
        for name in prompts.list_prompts():
            history = prompts.log(name)
            latest = history[0] if history else None
            rows.append(
                {
                    "name": name,
                    "versions": len(history),
                    "latest_commit": latest.commit if latest else None,
                    "latest_date": latest.date if latest else None,
                    "latest_message": latest.message if latest else None,
                    "dirty": prompts.is_dirty(name),
                    "in_worktree": (prompts.workdir / prompts.path_of(name)).is_file(),
                }
            )
        if as_json:
            click.echo(json.dumps({"prompts": rows, "shallow": prompts.shallow}, indent=2))
            return
        if not rows:
            click.echo(f"no prompts in {prompts.prompts_path}: add one as NAME.prompt (see docs/prompt-format.md)")
            return
        from rich.table import Table

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
        _console().print(table)
        note_shallow(prompts)


@prompts.command("log")
@click.argument("name")
@_store_options
@click.option("-n", "--limit", type=click.IntRange(min=1), default=None, help="Show at most this many commits.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a table.")
@click.pass_context
def log_command(
    ctx: click.Context, name: str, repo: str | None, prompts_dir: str | None, limit: int | None, as_json: bool
) -> None:
    """Show the commits that changed a prompt, newest first.

    Renames are followed; a row marks uncommitted changes in the worktree.
    """
    from promptarena.gitstore import WORKTREE

    with _open_prompts(ctx, repo, prompts_dir) as prompts:
        name = prompts.require(name)
        history = prompts.log(name, limit=limit)
        worktree = (
            prompts.resolve(f"{name}@{WORKTREE}") if prompts.is_dirty(name) and _has_file(prompts, name) else None
        )
        if as_json:
            payload = {
                "name": name,
                "worktree": _version_json(worktree) if worktree else None,
                "versions": [_version_json(v) for v in history],
                "shallow": prompts.shallow,
            }
            click.echo(json.dumps(payload, indent=2))
            return
        from rich.table import Table

        table = Table(title=f"{name}: {prompts.path_of(name)}")
        for column in ("commit", "date", "author", "message"):
            table.add_column(column)
        if worktree is not None:
            table.add_row("[yellow]worktree[/yellow]", "", "", "[yellow]uncommitted changes[/yellow]")
        for version in history:
            table.add_row(
                version.label, (version.date or "")[:19], version.author or "", _clip(version.message or "", 72)
            )
        _console().print(table)
        if not history:
            click.echo(f"{name} has no commits yet: commit {prompts.path_of(name)} to make it a version")
        note_shallow(prompts)


def _clip(text: str, width: int = 40) -> str:
    """A commit subject cut to one table line; `evals prompts log --json` keeps it whole."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _has_file(prompts: PromptStore, name: str) -> bool:
    return (prompts.workdir / prompts.path_of(name)).is_file()


@prompts.command("show")
@click.argument("spec", metavar="NAME[@REV]")
@_store_options
@click.pass_context
def show_command(ctx: click.Context, spec: str, repo: str | None, prompts_dir: str | None) -> None:
    """Print the text of a version: NAME, NAME@REV or NAME@worktree."""
    with _open_prompts(ctx, repo, prompts_dir) as prompts:
        text = prompts.resolve(spec).text
        click.echo(text, nl=not text.endswith("\n"))


@prompts.command("diff")
@click.argument("a", metavar="NAME@A")
@click.argument("b", metavar="[NAME@B]", required=False)
@_store_options
@click.option("--color/--no-color", default=None, help="Color the diff (default: only when writing to a terminal).")
@click.pass_context
def diff_command(
    ctx: click.Context, a: str, b: str | None, repo: str | None, prompts_dir: str | None, color: bool | None
) -> None:
    """Diff two versions of a prompt.

    B defaults to the worktree file of A's prompt.
    """
    from promptarena.gitstore import WORKTREE

    with _open_prompts(ctx, repo, prompts_dir) as prompts:
        va = prompts.resolve(a)
        vb = prompts.resolve(b if b else f"{va.name}@{WORKTREE}")
        text = prompts.diff(va, vb)
        if not text:
            click.secho(f"{va.spec} and {vb.spec} have the same text", fg="green", err=True)
            return
        for line in text.splitlines():
            click.echo(_color_line(line), color=color)


def _color_line(line: str) -> str:
    if line.startswith(("+++", "---")):
        return click.style(line, bold=True)
    if line.startswith("@@"):
        return click.style(line, fg="cyan")
    if line.startswith("+"):
        return click.style(line, fg="green")
    if line.startswith("-"):
        return click.style(line, fg="red")
    return line
