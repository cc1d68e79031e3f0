"""A judge checked against people: how far a pass/fail metric agrees with people's 👍/👎 on the same outputs, or
with another pass/fail metric, per arm of a run (raw agreement, Cohen's kappa with its interval, the confusion
counts).

Which outputs pair, and how each side's verdict is read:

* The outputs are those the arm's run stored, as written (not perturbed): in ``evals run`` and ``evals compare``
  the run just made, in the workbench the arm's newest run. A vote pairs with an output when it was cast on that
  very text (by the output's hash), so a vote on an earlier output of the case does not count for a new one.
* People's verdict on an output is the majority of its voters, one vote per person. An even split is no verdict:
  the output is left out and counted as a tie.
* A metric's verdict is pass where its score is 0.5 or more (a probability-weighted judge included), or below 0.5
  for a metric where lower is better; a case it did not score (no value, or an error) is left out.
* The raters are named as metrics are, with ``thumbs_up`` for people's votes. Every pass/fail metric of a suite is
  checked against people; ``--agreement A B`` (or the workbench page) adds any two raters, two judges included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptarena.errors import ConfigError, did_you_mean
from promptarena.metrics import Metric, get_metric, thumbs_up
from promptarena.stats import Agreement, rater_agreement

if TYPE_CHECKING:
    from promptarena.engine import SuiteResult
    from promptarena.store import ResultsStore
    from promptarena.suite import Suite

PEOPLE = thumbs_up.name
"""The rater name of people's votes: the feedback metric's."""

Pair = tuple[str, str]
Scores = Mapping[str, Mapping[str, float | None]]  # case id -> metric -> score


@dataclass(frozen=True)
class ArmAgreement:
    """Two raters on one arm's outputs: ``a`` (a judge) against ``b`` (people, or another judge).

    ``ties`` counts the outputs left out because their voters split evenly; ``voted`` the outputs with a vote.
    """

    arm: str
    version: str
    variant: str
    model: str
    a: str
    b: str
    agreement: Agreement
    ties: int = 0
    voted: int = 0

    @property
    def shown(self) -> bool:
        """Worth a line in a report: two judges always, a judge against people once the arm's outputs have votes."""
        return PEOPLE not in (self.a, self.b) or self.voted > 0


Resolve = Callable[[str], Metric]
"""A metric by name: a suite's (``Suite.metric``, its own scorers and judges too), else the registered one."""


def pass_fail_metrics(suite: Suite) -> list[str]:
    """The suite's metrics whose scores are pass/fail verdicts with a direction: the judges to check."""
    return pass_fail([spec.name for spec in suite.metrics], suite.metric)


def pass_fail(names: Iterable[str], resolve: Resolve = get_metric) -> list[str]:
    """The names of pass/fail metrics with a direction among ``names``, in order, without repeats; a name that
    ``resolve`` does not know (stored by a scorer not loaded here) is left out."""
    out = []
    for name in dict.fromkeys(names):
        try:
            metric = resolve(name)
        except ConfigError:
            continue
        if metric.kind == "binary" and metric.higher_is_better is not None and metric.source == "prediction":
            out.append(name)
    return out


def suite_pairs(suite: Suite, asked: Iterable[Pair] = ()) -> list[Pair]:
    """Each pass/fail metric against people, then each asked pair whose two raters the suite has, without repeats."""
    raters = {*pass_fail_metrics(suite), PEOPLE}
    out = [(name, PEOPLE) for name in pass_fail_metrics(suite)]
    for a, b in asked:
        if a in raters and b in raters and (a, b) not in out and (b, a) not in out:
            out.append((a, b))
    return out


def check_pairs(suites: Sequence[Suite], asked: Sequence[Pair], option: str = "--agreement") -> None:
    """Refuse an asked pair that no suite can answer: one rater twice, or a name that is no pass/fail rater."""
    per_suite = [{*pass_fail_metrics(s), PEOPLE} for s in suites]
    known = sorted(set().union(*per_suite) - {PEOPLE}) if per_suite else []
    choices = ", ".join([*known, f"{PEOPLE} (people's votes)"])
    where = ", ".join(f"{s.path.parent.name}/{s.path.name}" for s in suites)
    for a, b in asked:
        if a == b:
            raise ConfigError(f"{option} {a} {b}: name two different raters, for example {option} {a} {PEOPLE}.")
        for name in (a, b):
            if all(name not in names for names in per_suite):
                hint = did_you_mean(name, [*known, PEOPLE])
                raise ConfigError(
                    f"{option} {a} {b}: {name!r} is not a pass/fail metric of {where}{hint}; name two of: {choices}."
                )
        if not any(a in names and b in names for names in per_suite):
            raise ConfigError(f"{option} {a} {b}: no suite of {where} has both; name two metrics of one suite.")


def metric_verdict(metric: str, value: float | None, resolve: Resolve = get_metric) -> bool | None:
    """A pass/fail metric's verdict on one case: pass at 0.5 or more (below it where lower is better)."""
    if value is None or value != value:
        return None
    good = value >= 0.5
    try:
        lower_is_better = resolve(metric).higher_is_better is False
    except ConfigError:  # a suite's own metric stored by a run, its suite not loaded here: pass/fail reads up
        lower_is_better = False
    return not good if lower_is_better else good


def people_verdict(votes: int, ups: int) -> bool | None:
    """The majority of an output's voters; None for no vote or an even split."""
    downs = votes - ups
    return None if ups == downs else ups > downs


def rate(
    scores: Scores, tallies: Mapping[str, tuple[int, int]], a: str, b: str, resolve: Resolve = get_metric
) -> tuple[Agreement, int, int]:
    """(agreement, ties, voted outputs) of raters ``a`` and ``b`` on one arm's cases: ``scores`` the metrics' per
    case, ``tallies`` case id -> (votes, thumbs-up) on the case's output."""
    cases = list(scores)
    ties = voted = 0

    def verdicts(rater: str) -> list[bool | None]:
        if rater == PEOPLE:
            return [people_verdict(*tallies[c]) if c in tallies else None for c in cases]
        return [metric_verdict(rater, scores[c].get(rater), resolve) for c in cases]

    if PEOPLE in (a, b):
        voted = sum(c in tallies for c in cases)
        other = b if a == PEOPLE else a
        ties = sum(
            c in tallies
            and people_verdict(*tallies[c]) is None
            and metric_verdict(other, scores[c].get(other), resolve) is not None
            for c in cases
        )
    return rater_agreement(verdicts(a), verdicts(b)), ties, voted


def arm_agreement(
    results: ResultsStore,
    suite: str,
    run_id: str,
    arm: tuple[str, str, str],
    scores: Scores,
    pairs: Sequence[Pair],
    resolve: Resolve = get_metric,
) -> list[tuple[Pair, Agreement, int, int]]:
    """Each pair's (agreement, ties, voted outputs) on one arm's (blob, variant, model) outputs in one run."""
    needs_votes = any(PEOPLE in pair for pair in pairs)
    tallies = results.run_tallies(run_id, suite, *arm) if needs_votes else {}
    return [((a, b), *rate(scores, tallies, a, b, resolve)) for a, b in pairs]


def suite_agreement(results: ResultsStore, result: SuiteResult, pairs: Sequence[Pair]) -> list[ArmAgreement]:
    """Every pair on every arm of a finished run, read from what the run stored and the votes cast so far."""
    out: list[ArmAgreement] = []
    if not pairs:
        return out
    names = {name for pair in pairs for name in pair if name != PEOPLE}
    ids = [case.id for case in result.suite.cases]
    for arm_result in result.arms:
        arm, scored = arm_result.arm, arm_result.scores
        scores = {case: {m: scored[m][i] for m in names if m in scored} for i, case in enumerate(ids)}
        key = (arm.version.blob, arm.variant.name, arm.model)
        for pair, agreement, ties, voted in arm_agreement(
            results, result.suite.name, result.run_id, key, scores, pairs, result.suite.metric
        ):
            out.append(
                ArmAgreement(arm.label, arm.version.label, arm.variant.name, arm.model, *pair, agreement, ties, voted)
            )
    return out
