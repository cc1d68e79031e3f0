"""`evals compare`: is arm B really better than arm A on the same cases?"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from promptarena.cli.common import (
    ALPHA,
    BackendPool,
    Workspace,
    agreement_option,
    backend_options,
    db_option,
    make_console,
    repo_option,
    with_backend,
)


@click.command("compare")
@click.argument("suite")
@click.argument("arms", nargs=-1, required=True)
@repo_option
@db_option
@backend_options
@click.option("--alpha", type=ALPHA, default=0.05, show_default=True, help="Significance level of the verdicts.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@agreement_option
def command(
    suite: str,
    arms: tuple[str, ...],
    repo: str,
    db_path: Path | None,
    backend: str | None,
    model: str | None,
    seed: int | None,
    alpha: float,
    as_json: bool,
    agreement: tuple[tuple[str, str], ...],
) -> None:
    """Compare ARMS of SUITE paired per case; the first arm is the baseline.

    An arm is a revision of the suite's prompt, a variant and, for a suite with `models:`, a model:
    `HEAD~1`, `HEAD:cot`, `worktree:self_consistency`, `summarize@v2:plain`, `HEAD:plain@tuned` (without
    `@MODEL`, the suite's first model). Arms are evaluated first (from the cache when they can be). With
    more than two arms, p-values are Holm-corrected. Each pass/fail metric is checked against people's votes
    on the arms' outputs (Cohen's kappa), and any two raters with --agreement A B.
    """
    from promptarena.agreement import check_pairs, suite_agreement, suite_pairs
    from promptarena.compare import compare_arms
    from promptarena.engine import run_suite
    from promptarena.errors import ConfigError
    from promptarena.plan import resolve_arms
    from promptarena.report import comparison_json, json_text, print_comparison
    from promptarena.suite import discover_suites, load_suite

    if len(arms) < 2:
        raise ConfigError("give at least two arms to compare, for example: evals compare SUITE HEAD~1 HEAD.")
    with Workspace(repo, db_path) as ws:
        prompts = ws.prompts
        loaded = with_backend(load_suite(discover_suites([suite], ws.root)[0], ws.root), backend, model, seed)
        chosen = resolve_arms(loaded, prompts, arms)
        check_pairs([loaded], agreement)
        console = make_console(as_json)
        with ws.results() as results, BackendPool() as backends:
            outcome = run_suite(loaded, prompts, results, arms=chosen, backend=backends.get(loaded))
            judged = suite_agreement(results, outcome, suite_pairs(loaded, agreement))
    comp = compare_arms(loaded, [outcome.arm(a.label) for a in chosen], alpha=alpha)
    comp.agreement = judged
    if as_json:
        click.echo(json_text(comparison_json(comp)))
    else:
        print_comparison(console, comp)
    sys.exit(0)
