"""`evals bisect`: which commit between a good and a bad revision made the suite's score worse?"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from promptarena.cli.common import (
    ALPHA,
    BackendPool,
    Workspace,
    backend_options,
    db_option,
    make_console,
    note_shallow,
    only_variants,
    repo_option,
    with_backend,
)

if TYPE_CHECKING:
    from promptarena.bisect import Step


@click.command("bisect")
@click.argument("suite")
@click.option("--good", required=True, help="A revision whose score is good (a sha, tag, branch or HEAD~N).")
@click.option("--bad", required=True, help="A later revision whose score is bad; good must be its ancestor.")
@click.option("--metric", default=None, help="Metric to judge by (default: the suite's first gated metric).")
@click.option("--variant", default=None, help="The variant to evaluate every commit with (default: the suite's first).")
@repo_option
@db_option
@backend_options
@click.option("--alpha", type=ALPHA, default=0.05, show_default=True, help="Significance level of 'worse'.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
def command(
    suite: str,
    good: str,
    bad: str,
    metric: str | None,
    variant: str | None,
    repo: str,
    db_path: Path | None,
    backend: str | None,
    model: str | None,
    seed: int | None,
    alpha: float,
    as_json: bool,
) -> None:
    """Find the first commit between --good and --bad whose score on SUITE is worse than good's.

    Only commits that changed the suite's prompt, its suite file or its case file are candidates; a binary
    search evaluates as few of them as it can (cached generations are reused). A commit is bad when it is
    significantly worse than good (paired per case) or misses the suite's threshold that good meets.
    Exits 0 whether a first bad commit was found or none is bad.
    """
    from promptarena.bisect import bisect_suite
    from promptarena.report import json_text
    from promptarena.report.bisect import bisection_json, print_bisection, step_line
    from promptarena.suite import discover_suites, load_suite

    console = make_console(as_json)

    def tested(step: Step) -> None:
        console.print(step_line(step), highlight=False)

    with Workspace(repo, db_path) as ws:
        prompts = ws.prompts
        loaded = with_backend(load_suite(discover_suites([suite], ws.root)[0], ws.root), backend, model, seed)
        loaded = only_variants(loaded, (variant,) if variant else ())
        note_shallow(prompts)
        with ws.results() as results, BackendPool() as backends:
            outcome = bisect_suite(
                loaded,
                prompts,
                results,
                good,
                bad,
                metric=metric,
                backend=backends.get(loaded),
                alpha=alpha,
                on_step=tested,
            )
    if as_json:
        click.echo(json_text(bisection_json(outcome)))
    else:
        print_bisection(console, outcome)
    sys.exit(0)
