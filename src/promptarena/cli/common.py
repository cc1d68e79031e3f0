"""Helpers shared by the command groups."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from promptarena.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from promptarena.backends import Backend
    from promptarena.gitstore import PromptStore
    from promptarena.store import ResultsStore
    from promptarena.suite import Suite

ALPHA = click.FloatRange(0, 1, min_open=True, max_open=True)  # a significance level, strictly between 0 and 1


def repo_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--repo: any path inside the git repository; commands work from its top folder, found as git finds it."""
    return click.option(
        "--repo",
        default=".",
        help="A path inside the git repository that holds prompts/ and evals/ (default: the current folder).",
    )(fn)


class Workspace:
    """What a command works on: the git repository that contains the path ``--repo`` names, found as git finds it,
    its prompt store and its results database (``--db``, else ``default_db``).

    Each is found or opened when first used, so a command that needs only the database never opens the prompts,
    and bad input fails in the order the command asks for things; the prompt store closes with the workspace.
    """

    def __init__(self, repo: str | Path, db_path: str | Path | None = None, prompts_dir: str = "prompts") -> None:
        self.repo, self.db_path, self.prompts_dir = repo, db_path, prompts_dir
        self._prompts: PromptStore | None = None

    @property
    def prompts(self) -> PromptStore:
        """The prompt versions in the repository (git is imported here, not when the CLI loads)."""
        if self._prompts is None:
            from promptarena.gitstore import PromptStore

            self._prompts = PromptStore(self.repo, self.prompts_dir)
        return self._prompts

    @cached_property
    def root(self) -> Path:
        """The top folder of the repository."""
        if self._prompts is not None:
            return self._prompts.workdir
        from promptarena.gitstore import repository_root

        return repository_root(self.repo)

    @cached_property
    def db(self) -> Path:
        """The results database: ``--db`` as given, else $PROMPTARENA_DB, else the one inside the repository."""
        return Path(self.db_path) if self.db_path else default_db(self.root)

    def results(self, *, readonly: bool = False) -> ResultsStore:
        """The results database, opened (made and migrated when needed); use it as a context manager."""
        from promptarena.store import ResultsStore

        return ResultsStore(self.db, readonly=readonly)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._prompts is not None:
            self._prompts.close()


_SHALLOW_NOTE = "history is cut at the shallow boundary: run `git fetch --unshallow` to see all of it"


def note_shallow(prompts: PromptStore) -> None:
    """Say so when the clone is shallow: the versions before its boundary cannot be evaluated."""
    if prompts.shallow:
        click.secho(f"note: {_SHALLOW_NOTE}", fg="yellow", err=True)


class Output:
    """Whether standard output lost its reader (a closed pipe, `evals run | head`, or a closed descriptor).

    From then on what is printed goes nowhere, the command still does its work (every suite, every report
    file), and it ends as SIGPIPE would end it, with 141 in place of 0 or 1.
    """

    gone = False

    @classmethod
    def reset(cls) -> None:
        """Open /dev/null on a standard stream that was closed before the command started, and forget any earlier
        loss (a process that runs several commands, as tests do)."""
        cls.gone = False
        if sys.stderr is None:
            sys.stderr = _devnull(2)
        if sys.stdout is None:
            sys.stdout = _devnull(1)
            cls.gone = True

    @classmethod
    def lost(cls) -> None:
        """The reader went away: send the rest of the output to /dev/null, the unwritten buffer included."""
        cls.gone = True
        try:
            fd = sys.stdout.fileno()
        except (AttributeError, OSError, ValueError):  # not a file descriptor (a test runner's buffer)
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stands for stdout until the process ends
            return
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)


def check_working_folder() -> None:
    """Refuse to start in a folder that was deleted after the shell entered it: every relative path would fail."""
    try:
        os.getcwd()
    except FileNotFoundError:
        raise ConfigError(
            "the current folder no longer exists (it was deleted or moved); cd into the repository and run again."
        ) from None


def _devnull(fd: int) -> Any:
    """A text stream on /dev/null for a standard descriptor that is closed, opened on that descriptor when it is
    still free, so that no file the command opens later takes its number and receives its output."""
    try:
        os.fstat(fd)
    except OSError:
        null = os.open(os.devnull, os.O_WRONLY)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        return open(fd, "w", closefd=False)  # noqa: SIM115 - stands for the standard stream until the process ends
    return open(os.devnull, "w")  # noqa: SIM115 - the descriptor already holds another file: leave it alone


def make_console(as_json: bool) -> Console:
    """Tables go to stdout (stderr under --json), as wide as $COLUMNS says, else as the terminal, else (a pipe, a
    CI log) 150 columns, wide enough for a comparison of two arms.

    A reader that goes away mid-output makes the console quiet (see ``Output``) instead of ending the command.
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            Output.lost()

    stream = sys.stderr if as_json else sys.stdout
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else None if stream.isatty() else 150
    return _Console(stderr=as_json, width=width)


def default_db(root: Path) -> Path:
    """The results database: $PROMPTARENA_DB, else .promptarena/results.db inside the repository."""
    from promptarena.store import default_path

    path = default_path(root)
    if os.environ.get("PROMPTARENA_DB") and (why := unwritable(path, f"$PROMPTARENA_DB {path}", access=False)):
        raise ConfigError(why)
    return path


class LazyHelp(click.Option):
    """An option whose help text is computed when help is shown, from what the registries hold then (installed
    plugins included), so that loading the command line reads no registry and imports no backend."""

    def __init__(self, *args: Any, describe: Callable[[], str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.describe = describe

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = self.describe()
        return super().get_help_record(ctx)


def _backends_help() -> str:
    """The help of --backend: every registered backend and its options (imports each backend's module)."""
    from promptarena.backends.options import backends_help

    return (
        f"Backend instead of the suite's, one of (with the options each takes in a suite's model:) {backends_help()}."
    )


def backend_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options that override a suite's model: --backend, --model, --seed."""
    fn = click.option("--seed", type=int, default=None, help="Seed instead of the suite's.")(fn)
    fn = click.option(
        "--model",
        default=None,
        help="Model instead of the suite's (its backend's `model` option; for transformers 'default', a Hugging "
        "Face id or a path).",
    )(fn)
    return click.option(
        "--backend", cls=LazyHelp, describe=_backends_help, default=None, help="Backend instead of the suite's."
    )(fn)


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


def unwritable(path: Path, name: str, *, folder: bool = False, access: bool = True) -> str | None:
    """Why files cannot be written at ``path`` (a file, or a folder when ``folder``), as a sentence that calls it
    ``name``; None when they can. ``access=False`` checks only what no permission can fix: a folder where a file
    belongs, or the other way round, on the path or above it."""
    if path.exists():
        if folder != path.is_dir():
            return f"{name} is a file, not a folder; name a folder." if folder else f"{name} is a folder; name a file."
        if access and not os.access(path, os.W_OK | (os.X_OK if folder else 0)):
            return f"{name} is not writable; pick another path or fix its permissions."
        return None
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{name}: {parent} is a file, not a folder; pick another path."
    if access and not os.access(parent, os.W_OK | os.X_OK):
        return f"{name}: the folder {parent} is not writable; pick another path."
    return None


def writable_file(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """A click callback: the file an option names can be written, checked before any model call."""
    return _writable(ctx, param, value, folder=False)


def writable_folder(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """A click callback: the folder an option names is one, or can be made, and files can be written in it."""
    return _writable(ctx, param, value, folder=True)


def _writable(ctx: click.Context, param: click.Parameter, value: str | None, *, folder: bool) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    why = unwritable(path, value, folder=folder)
    if why:
        raise click.BadParameter(why, ctx, param)
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


def agreement_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--agreement A B: two raters to check against each other, besides each pass/fail metric against people."""
    return click.option(
        "--agreement",
        "agreement",
        nargs=2,
        multiple=True,
        metavar="A B",
        help="Also report how far two pass/fail raters agree on each arm's outputs (kappa with its interval): two "
        "metrics of the suite, or one and thumbs_up for people's votes (repeatable). Every pass/fail metric is "
        "checked against people's votes anyway.",
    )(fn)
