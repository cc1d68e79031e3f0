"""`evals prompts ...`: list prompts, show their git history, print a version, diff two versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from promptarena.cli.common import Workspace, note_shallow

if TYPE_CHECKING:
    from promptarena.gitstore import PromptStore

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
    """The prompt store of the command's workspace; a command's own --repo/--prompts-dir wins over the group's."""
    parent = ctx.find_object(dict) or {}
    workspace = Workspace(
        repo or parent.get("repo", "."), prompts_dir=prompts_dir or parent.get("prompts_dir", "prompts")
    )
    return workspace.prompts


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
    from promptarena.report import json_text
    from promptarena.report.prompts import prompts_json, prompts_table

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
            click.echo(json_text(prompts_json(rows, prompts.shallow)))
            return
        if not rows:
            click.echo(f"no prompts in {prompts.prompts_path}: add one as NAME.prompt (see docs/prompt-format.md)")
            return
        _console().print(prompts_table(rows))
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
    from promptarena.report import json_text
    from promptarena.report.prompts import log_json, log_table

    with _open_prompts(ctx, repo, prompts_dir) as prompts:
        name = prompts.require(name)
        history = prompts.log(name, limit=limit)
        worktree = (
            prompts.resolve(f"{name}@{WORKTREE}") if prompts.is_dirty(name) and _has_file(prompts, name) else None
        )
        if as_json:
            click.echo(json_text(log_json(name, history, worktree, prompts.shallow)))
            return
        _console().print(log_table(f"{name}: {prompts.path_of(name)}", history, worktree is not None))
        if not history:
            click.echo(f"{name} has no commits yet: commit {prompts.path_of(name)} to make it a version")
        note_shallow(prompts)


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
    from promptarena.report.prompts import diff_line

    with _open_prompts(ctx, repo, prompts_dir) as prompts:
        va = prompts.resolve(a)
        vb = prompts.resolve(b if b else f"{va.name}@{WORKTREE}")
        text = prompts.diff(va, vb)
        if not text:
            click.secho(f"{va.spec} and {vb.spec} have the same text", fg="green", err=True)
            return
        for line in text.splitlines():
            click.echo(diff_line(line), color=color)
