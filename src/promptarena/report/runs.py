"""What `evals runs` prints: the stored runs, newest first, as a table or as plain data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from rich.console import Console

    from promptarena.store import RunRow

_STYLES = {"completed": "green", "failed": "red", "abandoned": "yellow", "interrupted": "yellow", "running": "cyan"}


def run_row(run: RunRow) -> dict[str, Any]:
    """One run as plain data: what the table shows, and the process that ran it."""
    row = {name: getattr(run, name) for name in ("id", "suite", "prompt", "status", "started_at", "finished_at")}
    wall_s, model = run.record.wall_s if run.record else None, str((run.provenance or {}).get("model", ""))
    return {**row, "wall_s": wall_s, "model": model, "pid": run.pid, "host": run.host}


def runs_json(db: Path, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What `evals runs --json` prints: the database and its runs (``run_row``)."""
    return {"db": str(db), "runs": list(rows)}


def runs_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """One row per run (``run_row``): id, suite, start, status in its color, wall time and model."""
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
    return table


def print_runs(console: Console, db: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """The runs' table, or a line saying the database holds none yet."""
    if not rows:
        console.print(f"no runs yet in {db}")
        return
    console.print(runs_table(rows))
