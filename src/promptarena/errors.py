"""One error hierarchy: each error is a sentence a user can act on, and carries its exit code."""

from __future__ import annotations

import difflib
import errno
import signal
from collections.abc import Iterable

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""The errnos of a write that found no room: the disk or the quota is full, or a file-size limit is reached."""


class PromptArenaError(Exception):
    """Base class; the CLI prints ``str(err)`` without a traceback and exits with ``exit_code``."""

    exit_code = 3


class ConfigError(PromptArenaError):
    """A file, argument or option is wrong: the message names the file, the place and the fix."""

    exit_code = 2


class BackendError(PromptArenaError):
    """The model or backend is unavailable or failed at run time."""

    exit_code = 3


class Interrupted(KeyboardInterrupt):
    """A stop signal (SIGINT, SIGTERM, SIGHUP) as an exception: the engine records the run as interrupted.

    It is a KeyboardInterrupt so that every ``except KeyboardInterrupt`` treats `docker stop` like Ctrl-C.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process stopped by that signal."""
        return 128 + self.signum


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``' (did you mean X?)'`` for the closest choice, or ``''`` when none is close."""
    close = difflib.get_close_matches(name, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


_EXTRAS = {"local": "local-model", "ui": "workbench"}


def missing_dependency(purpose: str, extra: str, err: ImportError | None = None) -> BackendError:
    """The error for an optional extra that is not installed (or does not import): names the pip line that fixes it.

    Args:
        purpose: what needs the extra, e.g. ``"the transformers backend"`` or ``"`evals ui`"``.
        extra: the extra of promptarena that brings the missing packages: ``local`` or ``ui``.
        err: the ImportError seen, whose message says which package is missing.
    """
    reason = f" ({err})" if err is not None else ""
    return BackendError(
        f"{purpose} needs the {_EXTRAS[extra]} extra{reason}: run `pip install 'promptarena[{extra}]'`."
    )
