"""`evals runs`: list the stored runs with their status, so a run that died while running shows as abandoned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from promptarena.cli.common import default_db, finite, make_console, repo_option, repo_root

_STYLES = {"completed": "green", "failed": "red", "abandoned": "yellow", "interrupted": "yellow", "running": "cyan"}


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
    from promptarena.store import ResultsStore

    db = Path(db_path) if db_path else default_db(repo_root(repo))
    rows: list[dict[str, Any]] = []
    if db.exists():
        with ResultsStore(db) as results:
            rows = [_row(run) for run in results.runs(suite=suite, limit=limit)]
    if as_json:
        click.echo(json.dumps(finite({"db": str(db), "runs": rows}), indent=2))
        return
    from rich.table import Table

    console = make_console(as_json)
    if not rows:
        console.print(f"no runs yet in {db}")
        return
    table = Table("run", "suite", "started", "status", "wall s", "model")
    for row in rows:
        style = _STYLES.get(row["status"], "")
        wall = "" if row["wall_s"] is None else f"{row['wall_s']:.1f}"
        table.add_row(
            row["id"],
            row["suite"],
            row["started_at"].replace("T", " ")[:19],
            f"[{style}]{row['status']}[/{style}]" if style else row["status"],
            wall,
            row["model"],
        )
    console.print(table)


def _row(run: Any) -> dict[str, Any]:
    """One run as plain data: what the table shows, and the process that ran it."""
    return {
        "id": run.id,
        "suite": run.suite,
        "prompt": run.prompt,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "wall_s": run.record.wall_s if run.record else None,
        "model": str((run.provenance or {}).get("model", "")),
        "pid": run.pid,
        "host": run.host,
    }
