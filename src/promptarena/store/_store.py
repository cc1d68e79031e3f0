"""ResultsStore: one results database with every operation the project needs, grouped by concern."""

from __future__ import annotations

from promptarena.store._cache import Cache
from promptarena.store._feedback import Feedback
from promptarena.store._maintenance import Maintenance
from promptarena.store._queries import Queries
from promptarena.store._runs import Runs
from promptarena.store._search import Search


class ResultsStore(Cache, Runs, Feedback, Queries, Search, Maintenance):
    """A results database file: cached generations and scores, runs, votes, and the workbench's reads and searches.

    Cheap to open: the UI opens one per operation. An existing file is checked before use and migrated.
    """

    def __enter__(self) -> ResultsStore:
        return self
