"""A run's predictions read back from its stored results, a page at a time, so that no run holds them all."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

from promptarena.errors import BackendError
from promptarena.store._cache import Cache
from promptarena.store._results import stored_prediction
from promptarena.store._runs import Runs
from promptarena.types import Case, Prediction


class StoredPredictions(Sequence[Prediction]):
    """An arm's predictions as its run stored them, aligned with ``cases``: read from the store page by page.

    A run keeps only its scores in memory; whatever needs the outputs (a report's worst cases, bias and
    toxicity over an arm's outputs) reads them here, a page at a time, or one case at a time.
    """

    def __init__(
        self, results: Runs, run_id: str, arm: tuple[str, str, str], cases: Sequence[Case], page: int = 256
    ) -> None:
        self._results: Any = results
        self._run_id = run_id
        self._arm = arm  # (blob, variant, model)
        self._cases = cases
        self._page = page

    def __len__(self) -> int:
        return len(self._cases)

    @overload
    def __getitem__(self, index: int) -> Prediction: ...
    @overload
    def __getitem__(self, index: slice) -> list[Prediction]: ...
    def __getitem__(self, index: int | slice) -> Prediction | list[Prediction]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        case = self._cases[index]
        row = self._read(Runs.result_row, self._run_id, self._arm, case.id)
        return stored_prediction(row, self._read(Cache.cached_generations, row["keys"]))

    def __iter__(self) -> Iterator[Prediction]:
        after, left = 0, len(self)
        while left > 0:
            page = self._read(Runs.result_rows, self._run_id, self._arm, after=after, limit=self._page)
            if not page:
                return
            generations = self._read(Cache.cached_generations, [k for _, row in page for k in row["keys"]])
            for _, row in page[:left]:
                yield stored_prediction(row, generations)
            after, left = page[-1][0], left - len(page)

    def _read(self, query: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a read on the run's store; once the caller has closed it, on a store of the same file opened here."""
        try:
            return query(self._results, *args, **kwargs)
        except BackendError as err:
            if not isinstance(err.__cause__, sqlite3.ProgrammingError):  # anything but "closed database"
                raise
            self._results = type(self._results)(self._results.path)
            return query(self._results, *args, **kwargs)
