"""Judge agreement for the workbench: each arm's agreement of two raters (a judge and people's votes, or two
judges) from its latest completed run, and the outputs on which they disagree, with each side's reason and votes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from promptarena.agreement import PEOPLE, ArmAgreement, arm_agreement, metric_verdict, pass_fail, people_verdict
from promptarena.feedback import Vote, output_hash
from promptarena.store import ResultsStore
from promptarena.suite import Suite
from promptarena.views._arms import ArmChoice


@dataclass(frozen=True)
class Disagreement:
    """One output on which raters A and B differ: its text, each side's verdict, score and reason, and the votes."""

    case_id: str
    output: str
    a_passed: bool
    b_passed: bool
    a_score: float | None  # None for people
    a_reason: str | None  # the judge's words (``details["reasons"]``), None for people
    b_score: float | None
    b_reason: str | None
    votes: list[Vote] = field(default_factory=list)  # people's votes on this very output, newest first


def raters(results: ResultsStore, suite: Suite | None, choices: Sequence[ArmChoice]) -> list[str]:
    """The pass/fail metrics to check: the suite file's, else (a suite file gone or broken) those its runs stored."""
    if suite is not None:
        return pass_fail((spec.name for spec in suite.metrics), suite.metric)
    names: dict[str, None] = {}
    for choice in choices[:1]:
        for row in results.arm_results(choice.run_id, choice.blob, choice.variant, model=choice.model).values():
            names.update(dict.fromkeys(row["scores"]))
    return pass_fail(names)


def agreement_rows(
    results: ResultsStore, choices: Sequence[ArmChoice], a: str, b: str
) -> list[tuple[ArmChoice, ArmAgreement]]:
    """Raters ``a`` and ``b`` on each arm's outputs in its latest completed run."""
    out = []
    for choice in choices:
        rows = results.arm_results(choice.run_id, choice.blob, choice.variant, model=choice.model)
        scores = {case: row["scores"] for case, row in rows.items()}
        key = (choice.blob, choice.variant, choice.model)
        (((_, agreement, ties, voted),)) = arm_agreement(results, choice.suite, choice.run_id, key, scores, [(a, b)])
        arm = ArmAgreement(choice.label, choice.version, choice.variant, choice.model, a, b, agreement, ties, voted)
        out.append((choice, arm))
    return out


def disagreements(results: ResultsStore, choice: ArmChoice, a: str, b: str) -> list[Disagreement]:
    """The outputs of one arm's latest run on which ``a`` and ``b`` give different verdicts, in case order."""
    rows = results.arm_results(choice.run_id, choice.blob, choice.variant, model=choice.model)
    people = PEOPLE in (a, b)
    tallies = (
        results.run_tallies(choice.run_id, choice.suite, choice.blob, choice.variant, choice.model) if people else {}
    )
    votes: dict[tuple[str, str], list[Vote]] = {}
    if people:
        for vote in results.votes(choice.suite, choice.blob, choice.variant):
            votes.setdefault((vote.case_id, vote.output_hash), []).append(vote)
    out = []
    for case, row in rows.items():
        tally = tallies.get(case)
        a_side, b_side = (_side(rater, row, tally) for rater in (a, b))
        if a_side[0] is None or b_side[0] is None or a_side[0] == b_side[0]:
            continue
        on_output = votes.get((case, output_hash(row["output"])), [])
        out.append(Disagreement(case, row["output"], a_side[0], b_side[0], *a_side[1:], *b_side[1:], on_output))
    return out


def _side(
    rater: str, row: dict[str, Any], tally: tuple[int, int] | None
) -> tuple[bool | None, float | None, str | None]:
    """One rater's (verdict, score, reason) on a stored result: people's majority, or a metric's score and words."""
    if rater == PEOPLE:
        return (people_verdict(*tally) if tally else None), None, None
    score = row["scores"].get(rater)
    return metric_verdict(rater, score), score, (row["details"].get("reasons") or {}).get(rater)
