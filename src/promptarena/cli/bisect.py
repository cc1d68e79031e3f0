"""`evals bisect`: which commit between a good and a bad revision made the suite's score worse?"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from promptarena.cli.common import (
    ALPHA,
    BackendPool,
    backend_options,
    db_option,
    default_db,
    finite,
    make_console,
    note_shallow,
    only_variants,
    open_prompts,
    repo_option,
    with_backend,
)

if TYPE_CHECKING:
    from promptarena.bisect import Bisection, Step


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
    from promptarena.store import ResultsStore
    from promptarena.suite import discover_suites, load_suite

    prompts = open_prompts(repo)
    loaded = with_backend(
        load_suite(discover_suites([suite], prompts.workdir)[0], prompts.workdir), backend, model, seed
    )
    loaded = only_variants(loaded, (variant,) if variant else ())
    note_shallow(prompts)
    console = make_console(as_json)

    def tested(step: Step) -> None:
        from promptarena.report import clip

        console.print(f"tested {step.commit.short} {clip(step.commit.subject)}: {_verdict(step)}", highlight=False)

    with ResultsStore(db_path or default_db(prompts.workdir)) as results, BackendPool() as backends:
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
        click.echo(json.dumps(finite(bisection_json(outcome)), indent=2))
    else:
        _print(console, outcome)
    sys.exit(0)


def _verdict(step: Step) -> str:
    """``ok``, ``worse (p=0.016)``, ``below threshold`` or ``good``."""
    from promptarena.report import fmt_p

    if step.verdict == "worse" and step.comparison is not None:
        return f"worse (p={fmt_p(step.comparison.p_value)})"
    return step.verdict


def _print(console: Any, outcome: Bisection) -> None:
    """The tested commits in history order, then the conclusion."""
    from rich.table import Table

    from promptarena.bisect import steps_by_commit
    from promptarena.report import clip, fmt_interval

    threshold = f", threshold {outcome.threshold:g}" if outcome.threshold is not None else ""
    table = Table(title=f"bisect {outcome.suite} · {outcome.arm} · {outcome.metric}{threshold}", title_justify="left")
    for name in ("commit", "subject", f"{outcome.metric} (95% CI)", "vs good"):
        table.add_column(name)
    first = outcome.first_bad.sha if outcome.first_bad else None
    for step in steps_by_commit(outcome):
        style = "bold red" if step.commit.sha == first else ("red" if step.bad else None)
        table.add_row(
            step.commit.short, clip(step.commit.subject, 60), fmt_interval(step.interval), _verdict(step), style=style
        )
    console.print(table)
    if outcome.ignored_threshold is not None:
        console.print(
            f"note: good itself misses the threshold {outcome.ignored_threshold:g} on {outcome.metric}, "
            "so only a significant drop from good counts as bad",
            highlight=False,
        )
    cached = "nothing generated (all cached)" if outcome.generated == 0 else f"{outcome.generated} generations made"
    console.print(f"{outcome.conclusion}; {cached}", highlight=False)


def bisection_json(outcome: Bisection) -> dict[str, Any]:
    """The bisection as one JSON document: every tested commit (history order) and the first bad one."""
    from promptarena.bisect import steps_by_commit

    def step_json(step: Step) -> dict[str, Any]:
        c = step.comparison
        return {
            "commit": step.commit.sha,
            "subject": step.commit.subject,
            "mean": step.interval.mean,
            "ci": [step.interval.low, step.interval.high],
            "n": step.interval.n,
            "verdict": step.verdict,
            "p_value": c.p_value if c else None,
            "diff": c.diff if c else None,
        }

    bad = outcome.first_bad
    return {
        "suite": outcome.suite,
        "metric": outcome.metric,
        "arm": outcome.arm,
        "threshold": outcome.threshold,
        "ignored_threshold": outcome.ignored_threshold,
        "good": outcome.good.commit.sha,
        "first_bad": None if bad is None else {"commit": bad.sha, "subject": bad.subject},
        "candidates": [{"commit": c.sha, "subject": c.subject} for c in outcome.candidates],
        "evaluated": outcome.evaluated,
        "generated": outcome.generated,
        "steps": [step_json(s) for s in steps_by_commit(outcome)],
        "conclusion": outcome.conclusion,
    }
