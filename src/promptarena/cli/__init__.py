"""The `evals` command line. Each command group lives in its own module; heavy imports stay inside commands."""

from __future__ import annotations

import sys

import click

from promptarena.cli import compare, prompts, run, runs, ui
from promptarena.errors import PromptArenaError


class _Group(click.Group):
    """Prints PromptArenaError as one sentence, without a traceback, and exits with its code."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except PromptArenaError as err:
            click.secho(f"error: {err}", fg="red", err=True)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            click.secho("interrupted", fg="yellow", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="promptarena")
def main() -> None:
    """promptarena: version prompts in git, evaluate every version on a local LLM, compare with statistics."""


main.add_command(prompts.prompts)
main.add_command(run.command)
main.add_command(runs.command)
main.add_command(compare.command)
main.add_command(ui.command)
