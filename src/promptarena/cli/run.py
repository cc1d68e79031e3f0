"""`evals run`: evaluate suites, print a table per suite, and exit 1 when a quality gate fails."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from promptarena.cli.common import (
    ALPHA,
    BackendPool,
    Workspace,
    agreement_option,
    backend_options,
    db_option,
    make_console,
    note_shallow,
    only_variants,
    repo_option,
    with_backend,
    writable_file,
)

if TYPE_CHECKING:
    from rich.progress import Progress


@click.command("run")
@click.argument("suites", nargs=-1)
@repo_option
@db_option
@backend_options
@click.option(
    "--rev",
    "revisions",
    multiple=True,
    help="Evaluate this revision of each suite's prompt (repeatable; 'worktree' too).",
)
@click.option(
    "--variant",
    "variant_names",
    multiple=True,
    help="Evaluate only this variant of each suite (repeatable; default: every variant the suite lists).",
)
@click.option(
    "--baseline",
    default=None,
    help="Git ref to gate against (e.g. origin/main): suites whose prompt, suite, cases or scorers changed since it "
    "are evaluated at REF and now, and a significant regression of a gated metric fails the run.",
)
@click.option("--alpha", type=ALPHA, default=0.05, show_default=True, help="Significance level of the regression gate.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.option(
    "--junit-xml",
    "junit_path",
    default=None,
    callback=writable_file,
    help="Also write a JUnit XML report: one test case per gate.",
)
@click.option(
    "--markdown",
    "markdown_path",
    default=None,
    callback=writable_file,
    help="Also write a Markdown summary for a pull request.",
)
@agreement_option
def command(
    suites: tuple[str, ...],
    repo: str,
    db_path: Path | None,
    backend: str | None,
    model: str | None,
    seed: int | None,
    revisions: tuple[str, ...],
    variant_names: tuple[str, ...],
    baseline: str | None,
    alpha: float,
    as_json: bool,
    junit_path: Path | None,
    markdown_path: Path | None,
    agreement: tuple[tuple[str, str], ...],
) -> None:
    """Evaluate SUITES (files or names under evals/; default: every evals/*.yaml).

    Each pass/fail metric is also checked against people's votes on the outputs (Cohen's kappa per arm);
    --agreement A B adds two raters of your choice.

    Exit codes: 0 all gates passed, 1 a quality gate failed, 2 bad input, 3 model, backend or database
    unavailable, 4 a bug in promptarena, 128 + the signal number when stopped (130 Ctrl-C, 143 SIGTERM);
    a stopped run keeps what it stored and a rerun resumes there.
    """
    from promptarena.agreement import check_pairs, suite_agreement, suite_pairs
    from promptarena.cases import with_prompt_warnings
    from promptarena.errors import ConfigError
    from promptarena.gate import SuiteOutcome, evaluate_suite
    from promptarena.plan import plan_suite
    from promptarena.report import json_text, print_outcome, print_verdict, run_json, write_junit, write_markdown
    from promptarena.suite import discover_suites, load_suite

    if baseline and revisions:
        raise ConfigError("--baseline and --rev choose versions in two ways; use one of them.")
    with Workspace(repo, db_path) as ws:
        prompts = ws.prompts
        note_shallow(prompts)
        console = make_console(as_json)
        # Everything that can be wrong with the input fails here, before any model call or write.
        plans = []
        for path in discover_suites(list(suites), ws.root):
            suite = only_variants(with_backend(load_suite(path, ws.root), backend, model, seed), variant_names)
            plan = plan_suite(suite, prompts, revisions, baseline)
            plan.suite = with_prompt_warnings(plan.suite, [prompts.load(v) for v in plan.versions])
            plans.append(plan)
            for warning in plan.suite.warnings:
                click.echo(f"warning: {warning}", err=True)
        check_pairs([p.suite for p in plans], agreement)

        outcomes = []
        backends = BackendPool()
        with ws.results() as results, _progress() as progress, backends:
            record = results.progress_writer()  # for the workbench, which shows runs from their database
            for plan in plans:
                if plan.skipped:
                    outcomes.append(SuiteOutcome(plan.suite, None, skipped=plan.skipped))
                    if not as_json:
                        print_outcome(console, outcomes[-1], os.path.relpath(ws.db))
                    continue
                task = progress.add_task(plan.suite.name, total=None)

                def report(phase: str, done: int, total: int, task: int = task, name: str = plan.suite.name) -> None:
                    progress.update(task, description=f"{name}: {phase}", completed=done, total=total)
                    record(phase, done, total)

                outcome = evaluate_suite(plan, prompts, results, backends.get(plan.suite), alpha=alpha, progress=report)
                progress.remove_task(task)
                outcome.agreement = suite_agreement(results, outcome.result, suite_pairs(plan.suite, agreement))
                outcomes.append(outcome)
                if not as_json:
                    print_outcome(console, outcome, os.path.relpath(ws.db))
    if junit_path:
        write_junit(junit_path, outcomes)
    if markdown_path:
        write_markdown(markdown_path, outcomes, baseline)
    if as_json:
        click.echo(json_text(run_json(ws.db, baseline, outcomes)))
    else:
        print_verdict(console, outcomes)
    sys.exit(1 if any(o.failures for o in outcomes) else 0)


def _progress() -> Progress:
    """A progress bar per suite on stderr, shown only on a terminal (or with $PROMPTARENA_PROGRESS)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not sys.stderr.isatty() and not os.environ.get("PROMPTARENA_PROGRESS"),
    )
