"""The `evals` command line. Each command group lives in its own module.

Command modules import only click and the standard library at their top; git, jinja2, pydantic, rich,
scipy and torch are imported inside the commands that use them, so `evals --help` stays fast.
"""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

from promptarena.cli import bisect, compare, db, draft, prompts, run, runs, ui
from promptarena.cli.common import Output, check_working_folder
from promptarena.errors import DISK_FULL, Interrupted, PromptArenaError

_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
_SIGPIPE = 128 + getattr(signal, "SIGPIPE", 13)  # how a shell reports a process whose output pipe closed
_BUG = "error: this is a bug in promptarena; please report it with the traceback below"


@contextmanager
def _stop_signals_raise() -> Iterator[None]:
    """While a command runs, SIGINT, SIGTERM and SIGHUP raise Interrupted; a second signal acts as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in _STOP_SIGNALS}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def raise_interrupted(signum: int, _frame: FrameType | None) -> None:
        restore()
        raise Interrupted(signum)

    for signum in _STOP_SIGNALS:
        signal.signal(signum, raise_interrupted)
    try:
        yield
    finally:
        restore()


class _Group(click.Group):
    """Maps every way a command can end to the exit-code contract.

    PromptArenaError: its sentence and code (2 bad input, 3 infrastructure); a stop signal: 128 + its
    number; click's own usage errors pass through (2); anything else is a bug: the traceback and 4.
    """

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        Output.reset()
        try:
            with _stop_signals_raise():
                check_working_folder()
                value = super().invoke(ctx)
        except SystemExit as done:
            if Output.gone and done.code in (None, 0, 1):
                sys.exit(_SIGPIPE)  # the reader went away: a gate's verdict was not delivered
            raise
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            # the reader went away (`evals run | head`): stopped as by SIGPIPE, which is not a failed gate
            Output.lost()
            sys.exit(_SIGPIPE)
        except PromptArenaError as err:
            click.secho(f"error: {err}", fg="red", err=True)
            sys.exit(err.exit_code)
        except KeyboardInterrupt as err:
            stop = err if isinstance(err, Interrupted) else Interrupted(signal.SIGINT)
            click.secho(f"interrupted by {stop}", fg="yellow", err=True)
            sys.exit(stop.exit_code)
        except Exception as err:
            if isinstance(err, OSError) and err.errno in DISK_FULL:  # standard output redirected to a full disk, say
                click.secho(f"error: disk full ({err.strerror}); free some space and run again.", fg="red", err=True)
                sys.exit(3)
            click.secho(_BUG, fg="red", err=True)
            traceback.print_exc(file=sys.stderr)
            sys.exit(4)
        if Output.gone:
            sys.exit(_SIGPIPE)
        return value


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="promptarena")
def main() -> None:
    """promptarena: version prompts in git, evaluate every version on a local LLM, compare with statistics.

    Exit codes: 0 all gates passed, 1 a quality gate failed, 2 bad input, 3 model, backend, database or disk
    unavailable, 4 a bug in promptarena, 128 + the signal number when stopped (130 Ctrl-C, 143 SIGTERM).
    """


main.add_command(prompts.prompts)
main.add_command(run.command)
main.add_command(runs.command)
main.add_command(db.group)
main.add_command(compare.command)
main.add_command(bisect.command)
main.add_command(ui.command)
main.add_command(draft.command)
