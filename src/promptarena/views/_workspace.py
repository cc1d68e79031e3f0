"""Where the workbench's data is (repository, results database) and which suites it knows of."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from promptarena.errors import PromptArenaError
from promptarena.gitstore import PromptStore, repository_root
from promptarena.store import ResultsStore, default_path
from promptarena.suite import Suite, load_suite

# --- where things are ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    """The prompt repository and the results database that the workbench shows."""

    repo: Path  # the repository's top folder, found from any path inside it
    db: Path
    workdir: Path  # the same top folder, which holds prompts/ and evals/

    @classmethod
    def from_env(cls, repo: str | None = None, db: str | None = None) -> Workspace:
        """From arguments, else ``$PROMPTARENA_REPO`` / ``$PROMPTARENA_DB``, else ``.`` and the repo's default db.

        ``repo`` is any path inside the repository. Raises ``ConfigError`` when it is not inside a git repository.
        """
        workdir = repository_root(Path(repo or os.environ.get("PROMPTARENA_REPO") or ".").expanduser())
        db_path = Path(db).expanduser() if db else default_path(workdir)
        return cls(workdir, db_path.resolve(), workdir)

    def prompts(self) -> PromptStore:
        """A prompt store for one page render (close it, or use it as a context manager)."""
        return PromptStore(self.repo)

    def results(self) -> ResultsStore:
        """A results store for one operation; creates the database when it does not exist yet."""
        return ResultsStore(self.db)

    @property
    def has_db(self) -> bool:
        return self.db.is_file()

    def data_version(self) -> tuple[int, ...]:
        """Changes whenever the database is written (a run, a vote): times and sizes of its file and its WAL."""
        return _stats([self.db, self.db.with_name(self.db.name + "-wal")])

    def suites_version(self) -> tuple[int, ...]:
        """Changes whenever a file under ``evals/`` changes: what cached suites are keyed by."""
        evals = self.workdir / "evals"
        return _stats(sorted(p for p in evals.rglob("*") if p.is_file()) if evals.is_dir() else [])


def _stats(paths: Iterable[Path]) -> tuple[int, ...]:
    """Modification time and size of each path; zeros for a missing or empty one (a reader's fresh, empty WAL)."""
    out: list[int] = []
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            out += [0, 0]
        else:
            out += [stat.st_mtime_ns, stat.st_size] if stat.st_size else [0, 0]
    return tuple(out)


# --- suites ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteEntry:
    """A suite the workbench knows of: from evals/*.yaml (``suite`` set) or only from stored runs."""

    name: str
    prompt: str
    suite: Suite | None = None
    error: str | None = None  # why the suite file could not be loaded
    stored: bool = False  # the database holds runs of it

    @property
    def metrics(self) -> list[str]:
        return [m.name for m in self.suite.metrics] if self.suite else []


def suite_entries(workdir: Path, results: ResultsStore | None) -> list[SuiteEntry]:
    """Every suite file under ``evals/`` (with its load error, if any) and every suite with stored runs."""
    entries: dict[str, SuiteEntry] = {}
    evals = Path(workdir) / "evals"
    files = sorted(evals.glob("*.yaml")) + sorted(evals.glob("*.yml")) if evals.is_dir() else []
    for path in files:
        try:
            suite = load_suite(path, Path(workdir))
            entries[suite.name] = SuiteEntry(suite.name, suite.prompt, suite)
        except PromptArenaError as err:
            entries[path.stem] = SuiteEntry(path.stem, "", None, str(err))
    if results is not None:
        for name, prompt in results.stored_suites():
            old = entries.get(name)
            if old is None:
                entries[name] = SuiteEntry(name, prompt, None, None, stored=True)
            else:
                entries[name] = replace(old, prompt=old.prompt or prompt, stored=True)
    return sorted(entries.values(), key=lambda e: e.name)


def prompt_names(prompts: PromptStore, suites: Iterable[SuiteEntry] = ()) -> list[str]:
    """Prompts in the repository, plus those that suites or stored runs name (deleted ones included)."""
    names = set(prompts.list_prompts())
    names.update(e.prompt for e in suites if e.prompt)
    return sorted(names)
