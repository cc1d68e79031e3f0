"""`evals run`: evaluate suites, print a table per suite, and exit 1 when a quality gate fails."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from promptarena.cli.common import default_db, open_store


@click.command("run")
@click.argument("suites", nargs=-1)
@click.option("--repo", default=".", show_default=True, help="The git repository holding prompts/ and evals/.")
@click.option("--db", "db_path", default=None, help="Results database (default: .promptarena/results.db in the repo).")
@click.option("--backend", default=None, help="Backend to use instead of the suite's (transformers, openai, fake).")
@click.option("--model", default=None, help="Model instead of the suite's: 'default', a Hugging Face id or a path.")
@click.option("--seed", type=int, default=None, help="Seed instead of the suite's.")
@click.option(
    "--rev",
    "revisions",
    multiple=True,
    help="Evaluate this revision of each suite's prompt (repeatable; 'worktree' too).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
def command(
    suites: tuple[str, ...],
    repo: str,
    db_path: str | None,
    backend: str | None,
    model: str | None,
    seed: int | None,
    revisions: tuple[str, ...],
    as_json: bool,
) -> None:
    """Evaluate SUITES (files or names under evals/; default: every evals/*.yaml).

    Exit codes: 0 all gates passed, 1 a quality gate failed, 2 bad input, 3 model or backend unavailable,
    130 interrupted.
    """
    import dataclasses

    from promptarena.engine import run_suite, select_versions, summary_json
    from promptarena.report import print_failures, print_suite, threshold_failures
    from promptarena.suite import discover_suites, load_suite

    store = open_store(repo)
    console = Console(stderr=as_json)
    paths = discover_suites(list(suites), store.workdir)
    loaded = []
    for path in paths:
        suite = load_suite(path, store.workdir)
        overrides: dict = {}
        if backend:
            overrides = {"backend": backend}
        if model:
            overrides["model"] = model
        if overrides:
            base = suite.model if not backend or backend == suite.model.get("backend") else {}
            suite = dataclasses.replace(suite, model={**base, **overrides})
        if seed is not None:
            suite = dataclasses.replace(suite, seed=seed)
        select_versions(suite, store, revisions or None)  # fail on a bad revision before any work
        loaded.append(suite)

    db = Path(db_path) if db_path else default_db(store.workdir)
    from promptarena.results import ResultsStore

    outcomes = []
    failures = []
    with ResultsStore(db) as results, _progress(console) as progress:
        for suite in loaded:
            task = progress.add_task(suite.name, total=None)

            def report(phase: str, done: int, total: int, task: int = task, name: str = suite.name) -> None:
                progress.update(task, description=f"{name}: {phase}", completed=done, total=total)

            outcome = run_suite(
                suite, store, results, versions=select_versions(suite, store, revisions or None), progress=report
            )
            progress.remove_task(task)
            outcomes.append(outcome)
            failures.extend(threshold_failures(outcome))
            if not as_json:
                print_suite(console, outcome, os.path.relpath(db))
    if as_json:
        doc = {
            "db": str(db),
            "suites": [summary_json(o) for o in outcomes],
            "failures": [dataclasses.asdict(f) for f in failures],
        }
        click.echo(json.dumps(_finite(doc), indent=2))
    else:
        print_failures(console, failures)
        if not failures:
            console.print(f"[green]all gates passed[/green] ({len(outcomes)} suites)")
    sys.exit(1 if failures else 0)


def _finite(obj: object) -> object:
    """JSON has no NaN: undefined figures (an interval of one case) become null."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not sys.stderr.isatty() and not os.environ.get("PROMPTARENA_PROGRESS"),
    )
