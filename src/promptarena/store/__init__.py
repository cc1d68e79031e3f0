"""The results store: every SQL statement of promptarena, in one SQLite file per repository.

Cached generations and scores (keyed by content hashes), runs with their per-case results, people's votes,
the reads the workbench needs, and whole-database maintenance (export, merge). Nothing outside this
package writes SQL; callers ask the store in domain terms.
"""

from promptarena.store._db import MIGRATIONS, default_path, ignore_results_folder, now, tables
from promptarena.store._feedback import Vote
from promptarena.store._maintenance import FORMATS, MergeReport
from promptarena.store._queries import StoredArm
from promptarena.store._runs import RunProgress, RunRow, run_status
from promptarena.store._search import OutputFilter, ScoreRange, StoredArmKey, VoteFilter
from promptarena.store._store import ResultsStore

__all__ = [
    "FORMATS",
    "MIGRATIONS",
    "MergeReport",
    "OutputFilter",
    "ResultsStore",
    "RunProgress",
    "RunRow",
    "ScoreRange",
    "StoredArm",
    "StoredArmKey",
    "Vote",
    "VoteFilter",
    "default_path",
    "ignore_results_folder",
    "now",
    "run_status",
    "tables",
]
