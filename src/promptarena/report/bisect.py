"""What `evals bisect` prints: a line per tested commit, the table of tested commits, and the JSON document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

from promptarena.report._format import clip, fmt_interval, fmt_p

if TYPE_CHECKING:
    from rich.console import Console

    from promptarena.bisect import Bisection, Step


def step_verdict(step: Step) -> str:
    """``ok``, ``worse (p=0.016)``, ``below threshold`` or ``good``."""
    if step.verdict == "worse" and step.comparison is not None:
        return f"worse (p={fmt_p(step.comparison.p_value)})"
    return step.verdict


def step_line(step: Step) -> str:
    """``tested 1a2b3c4 qa: edit 3: worse (p=0.031)``: one commit as soon as it is evaluated."""
    return f"tested {step.commit.short} {clip(step.commit.subject)}: {step_verdict(step)}"


def bisection_table(outcome: Bisection) -> Table:
    """The tested commits in history order, the first bad one in bold red and the other bad ones in red."""
    from promptarena.bisect import steps_by_commit

    threshold = f", threshold {outcome.threshold:g}" if outcome.threshold is not None else ""
    table = Table(title=f"bisect {outcome.suite} · {outcome.arm} · {outcome.metric}{threshold}", title_justify="left")
    for name in ("commit", "subject", f"{outcome.metric} (95% CI)", "vs good"):
        table.add_column(name)
    first = outcome.first_bad.sha if outcome.first_bad else None
    for step in steps_by_commit(outcome):
        style = "bold red" if step.commit.sha == first else ("red" if step.bad else None)
        table.add_row(
            step.commit.short,
            clip(step.commit.subject, 60),
            fmt_interval(step.interval),
            step_verdict(step),
            style=style,
        )
    return table


def print_bisection(console: Console, outcome: Bisection) -> None:
    """The tested commits' table, then the conclusion and what was generated."""
    console.print(bisection_table(outcome))
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
