"""Votes cast as the workbench casts them, through the public vote API, with a test's usual suite and variant."""

from __future__ import annotations

from promptarena import feedback
from promptarena.store import ResultsStore


def vote(
    results: ResultsStore,
    blob: str,
    case_id: str,
    output: str,
    up: bool = True,
    *,
    suite: str = "qa",
    prompt: str | None = None,
    variant: str = "plain",
    name: str | None = None,
) -> feedback.Outcome:
    """One person's thumb on the ``output`` an arm (prompt blob and variant) gave a case of ``suite``.

    The suite's prompt is ``prompt``, by default the prompt of the suite's name (as in ``tests.support.repos``).
    """
    return feedback.record(
        results,
        suite=suite,
        prompt=prompt or suite,
        blob=blob,
        variant=variant,
        case_id=case_id,
        output=output,
        thumbs_up=up,
        name=name,
    )
