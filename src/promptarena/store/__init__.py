"""The results store: every SQL statement of promptarena, in one SQLite file per repository.

Cached generations and scores (keyed by content hashes), runs with their typed records (``RunRecord``) and
per-case results, people's votes, the reads the workbench needs, and whole-database maintenance (export,
merge). Nothing outside this package writes SQL; callers ask the store in domain terms.
"""

from typing import TYPE_CHECKING

from promptarena.store._db import MIGRATIONS, default_path, ignore_results_folder, now, tables
from promptarena.store._feedback import Outcome, Vote, output_hash
from promptarena.store._maintenance import FORMATS, MergeReport
from promptarena.store._predictions import StoredPredictions
from promptarena.store._queries import StoredArm
from promptarena.store._results import RESULT_COLUMNS, ResultRow, stored_prediction
from promptarena.store._runs import RunProgress, RunRow, run_status
from promptarena.store._search import OutputFilter, ScoreRange, StoredArmKey, VoteFilter
from promptarena.store._store import ResultsStore

if TYPE_CHECKING:
    from promptarena.store._record import ArmRecord, RunRecord

__all__ = [
    "ArmRecord",
    "FORMATS",
    "MIGRATIONS",
    "MergeReport",
    "Outcome",
    "RESULT_COLUMNS",
    "ResultRow",
    "OutputFilter",
    "ResultsStore",
    "RunProgress",
    "RunRecord",
    "RunRow",
    "ScoreRange",
    "Stopped",
    "StoredArm",
    "StoredPredictions",
    "StoredArmKey",
    "Vote",
    "VoteFilter",
    "default_path",
    "ignore_results_folder",
    "now",
    "output_hash",
    "run_status",
    "stored_prediction",
    "tables",
]


def __getattr__(name: str) -> object:
    """The run record's models, imported on first use: listing commands need neither pydantic nor statistics."""
    if name in ("ArmRecord", "RunRecord", "Stopped"):
        from promptarena.store import _record

        return getattr(_record, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
