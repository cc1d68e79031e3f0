"""`evals runs`: list the stored runs with their status, so a run that died while running shows as abandoned."""

from __future__ import annotations

from typing import Any

import click

from promptarena.cli.common import Workspace, make_console, repo_option


@click.command("runs")
@repo_option
@click.option(
    "--db",
    "db_path",
    default=None,
    help="Results database (default: $PROMPTARENA_DB, else .promptarena/results.db in the repo).",
)
@click.option("--suite", default=None, help="Only the runs of this suite.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="Show this many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of a table.")
def command(repo: str, db_path: str | None, suite: str | None, limit: int, as_json: bool) -> None:
    """List the latest runs, newest first: suite, start, status, wall time and model.

    A run still marked running whose process no longer exists on this host is shown as abandoned, and so is
    one merged from another database while it was running there.
    """
    from promptarena.report import json_text
    from promptarena.report.runs import print_runs, run_row, runs_json

    ws = Workspace(repo, db_path)
    db = ws.db
    rows: list[dict[str, Any]] = []
    if db.exists():
        with ws.results() as results:
            rows = [run_row(run) for run in results.runs(suite=suite, limit=limit)]
    if as_json:
        click.echo(json_text(runs_json(db, rows)))
        return
    print_runs(make_console(as_json), db, rows)
