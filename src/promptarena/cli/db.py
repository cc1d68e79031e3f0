"""`evals db`: maintain the results database as a whole: export its tables to files, merge a teammate's into it."""

from __future__ import annotations

from pathlib import Path

import click

from promptarena.cli.common import Workspace, repo_option, writable_file, writable_folder
from promptarena.errors import ConfigError
from promptarena.store import FORMATS, tables

_DB_HELP = "Results database (default: $PROMPTARENA_DB, else .promptarena/results.db in the repo)."


@click.group("db")
def group() -> None:
    """Maintain the results database: export its tables, merge a teammate's database into it."""


@group.command("export")
@repo_option
@click.option("--db", "db_path", default=None, type=click.Path(dir_okay=False, path_type=Path), help=_DB_HELP)
@click.option(
    "--table",
    "tables",
    multiple=True,
    type=click.Choice(tables()),
    help="Export only this table (repeat for more; default: every table).",
)
@click.option("--format", "fmt", default="jsonl", show_default=True, type=click.Choice(FORMATS), help="File format.")
@click.option(
    "--out",
    default=".",
    show_default=True,
    callback=writable_folder,
    help="Folder for the files, one per table named TABLE.FORMAT; made when missing.",
)
def export(repo: str, db_path: Path | None, tables: tuple[str, ...], fmt: str, out: Path) -> None:
    """Write tables of the results database to files, one per table, all from one consistent snapshot."""
    from promptarena.report.db import export_lines

    ws = Workspace(repo, db_path)
    if not ws.db.is_file():
        raise ConfigError(f"{ws.db}: no results database there; run `evals run` first, or name one with --db.")
    with ws.results() as results:
        counts = results.export(out, tables, fmt)
    for line in export_lines(counts, out, fmt):
        click.echo(line)


@group.command("merge")
@click.argument("other", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@repo_option
@click.option("--db", "db_path", default=None, callback=writable_file, help=_DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of lines.")
def merge(other: Path, repo: str, db_path: Path | None, as_json: bool) -> None:
    """Merge OTHER, a teammate's results database, into ours; merging it again adds nothing.

    Both files are checked first. Cached generations and scores are added by content key, runs with their
    results by run id (a run id both hold with different contents is skipped and named), votes without
    duplicates; all in one transaction. OTHER is only read, never written (a read-only mount will do); one
    from an older version is migrated in a copy. Its runs still running come as abandoned.
    """
    from promptarena.report import json_text
    from promptarena.report.db import conflicts_line, merge_json, merge_lines
    from promptarena.store import ResultsStore

    ws = Workspace(repo, db_path)
    if ws.db.exists() and ws.db.resolve() == other.resolve():
        raise ConfigError(f"{other}: this is the results database itself; name a teammate's database to merge.")
    with ResultsStore(other, readonly=True) as theirs, ws.results() as ours:
        report = ours.merge(theirs)
    if as_json:
        click.echo(json_text(merge_json(ws.db, report)))
        return
    for line in merge_lines(other, ws.db, report):
        click.echo(line)
    if skipped := conflicts_line(report):
        click.secho(skipped, fg="yellow", err=True)
