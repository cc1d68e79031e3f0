"""Helpers shared by the command groups."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from promptarena.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from promptarena.backends import Backend
    from promptarena.gitstore import PromptStore
    from promptarena.suite import Suite

ALPHA = click.FloatRange(0, 1, min_open=True, max_open=True)  # a significance level, strictly between 0 and 1


def repo_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--repo: any path inside the git repository; commands work from its top folder, found as git finds it."""
    return click.option(
        "--repo",
        default=".",
        help="A path inside the git repository that holds prompts/ and evals/ (default: the current folder).",
    )(fn)


def open_store(repo: str) -> PromptStore:
    """The prompt repository that contains the path ``repo`` (git is imported here, not when the CLI loads)."""
    from promptarena.gitstore import PromptStore

    return PromptStore(repo)


def repo_root(repo: str) -> Path:
    """The top folder of the git repository that contains the path ``repo``."""
    from promptarena.gitstore import repository_root

    return repository_root(repo)


_SHALLOW_NOTE = "history is cut at the shallow boundary: run `git fetch --unshallow` to see all of it"


def note_shallow(store: PromptStore) -> None:
    """Say so when the clone is shallow: the versions before its boundary cannot be evaluated."""
    if store.shallow:
        click.secho(f"note: {_SHALLOW_NOTE}", fg="yellow", err=True)


def make_console(as_json: bool) -> Console:
    """Tables go to stdout (stderr under --json), as wide as $COLUMNS says, else as the terminal, else (a pipe, a
    CI log) 150 columns, wide enough for a comparison of two arms."""
    from rich.console import Console

    stream = sys.stderr if as_json else sys.stdout
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else None if stream.isatty() else 150
    return Console(stderr=as_json, width=width)


def default_db(root: Path) -> Path:
    """The results database: $PROMPTARENA_DB, else .promptarena/results.db inside the repository."""
    from promptarena.store import default_path

    return default_path(root)


def backend_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options that override a suite's model: --backend, --model, --seed."""
    fn = click.option("--seed", type=int, default=None, help="Seed instead of the suite's.")(fn)
    fn = click.option(
        "--model", default=None, help="Model instead of the suite's: 'default', a Hugging Face id or a path."
    )(fn)
    fn = click.option("--backend", default=None, help="Backend instead of the suite's: transformers, openai or fake.")(
        fn
    )
    return fn


def with_backend(suite: Suite, backend: str | None, model: str | None, seed: int | None) -> Suite:
    """The suite with the command line's backend, model and seed in place of its own, checked as a suite's are.

    A `--backend` or `--model` replaces every model of a suite with `models:` by that one.
    """
    from promptarena.backends.options import validate_options

    options = dict(suite.model)
    if backend and backend != options.get("backend"):
        options = {"backend": backend}
    if model:
        options["model"] = model
    if backend or model:
        rest = dict(options)
        try:
            validate_options(str(rest.pop("backend", "transformers")), rest)
        except ConfigError as err:
            raise ConfigError(f"--backend: {err}" if backend else f"--model: {err}") from None
    models = {} if backend or model else suite.models  # the command line's model replaces the suite's models
    return dataclasses.replace(suite, model=options, models=models, seed=suite.seed if seed is None else seed)


def only_variants(suite: Suite, names: tuple[str, ...]) -> Suite:
    """The suite with only the variants ``--variant`` names (every one when none is named)."""
    from promptarena.errors import did_you_mean

    known = [v.name for v in suite.variants]
    for name in names:
        if name not in known:
            raise ConfigError(
                f"--variant {name}: {suite.path} lists no variant {name!r}{did_you_mean(name, known)}; "
                f"its variants: {', '.join(known)}."
            )
    return dataclasses.replace(suite, variants=tuple(v for v in suite.variants if v.name in names)) if names else suite


def writable_file(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """A click callback: the file an option names can be written, checked before any model call."""
    if value is None:
        return None
    path = Path(value).expanduser()
    if path.is_dir():
        raise click.BadParameter(f"{value} is a folder; name a file in it.", ctx, param)
    if path.exists():
        if not os.access(path, os.W_OK):
            raise click.BadParameter(f"{value} is not writable; pick another path or fix its permissions.", ctx, param)
        return path
    folder = path.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise click.BadParameter(f"{value}: {folder} is a file, not a folder; pick another path.", ctx, param)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(f"{value}: the folder {folder} is not writable; pick another path.", ctx, param)
    return path


def db_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--db: the results database, checked to be writable before anything runs."""
    return click.option(
        "--db",
        "db_path",
        default=None,
        callback=writable_file,
        help="Results database (default: $PROMPTARENA_DB, else .promptarena/results.db in the repo).",
    )(fn)


def finite(obj: object) -> object:
    """JSON has no NaN: undefined figures (an interval of one case) become null."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


class BackendPool:
    """One backend per distinct model configuration, so suites and arms that share a model load it once."""

    def __init__(self) -> None:
        self._backends: dict[str, Backend] = {}

    def get(self, suite: Suite) -> dict[str, Backend]:
        """The suite's backends by the model name its arms carry (``""`` for a suite with one `model:`)."""
        from promptarena.backends import get_backend
        from promptarena.hashing import canonical_json
        from promptarena.plan import model_names, model_options

        out = {}
        for name in model_names(suite):
            options = model_options(suite, name)
            key = canonical_json(options)
            if key not in self._backends:
                self._backends[key] = get_backend(options.pop("backend", "transformers"), **options)
            out[name] = self._backends[key]
        return out

    def __enter__(self) -> BackendPool:
        return self

    def __exit__(self, *exc: object) -> None:
        for backend in self._backends.values():
            backend.close()
