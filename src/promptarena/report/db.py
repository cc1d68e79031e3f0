"""What `evals db` prints: the files an export wrote, and the rows a merge added or skipped."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptarena.store import MergeReport


def export_lines(counts: Mapping[str, int], out: Path, fmt: str) -> list[str]:
    """``runs: 4 rows -> out/runs.jsonl``: one line per exported table."""
    return [f"{table}: {n} rows -> {out / f'{table}.{fmt}'}" for table, n in counts.items()]


def merge_json(db: Path, report: MergeReport) -> dict[str, Any]:
    """What `evals db merge --json` prints: the database merged into, rows added per table, runs skipped."""
    return {"db": str(db), "added": report.added, "conflicts": report.conflicts}


def merge_lines(other: Path, db: Path, report: MergeReport) -> list[str]:
    """What was merged into what, then the rows added per table."""
    return [f"merged {other} into {db}", *(f"  {table}: {n} rows added" for table, n in report.added.items())]


def conflicts_line(report: MergeReport) -> str | None:
    """The runs both databases hold with different contents, which the merge skipped; None when there are none."""
    if not report.conflicts:
        return None
    return f"skipped {len(report.conflicts)} run(s) both databases hold with different contents: " + ", ".join(
        report.conflicts
    )
