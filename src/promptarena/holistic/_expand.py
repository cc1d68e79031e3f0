"""A suite's holistic parts as more requests: each (case, perturbation) and each (case, prompt layout) is one
more rendered prompt, cached like any other, and its predictions are kept in a ``Column`` of their own.

Every variant of the suite runs on the perturbed cases too (a sampled variant multiplies their cost by its
samples). Layout ``format:0`` is the prompt as written, so its predictions are the unperturbed ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from promptarena.types import Case, Message, Prediction

if TYPE_CHECKING:
    from promptarena.metrics.toxicity import ToxicityScorer
    from promptarena.store import ResultsStore
    from promptarena.suite import Suite
    from promptarena.variants import Item

FORMAT = "format:"
"""The label prefix of a prompt layout (``format:1``, ``format:2``...); other labels name a perturbation."""

Render = Callable[[Mapping[str, Any], str], tuple[Message, ...]]


@dataclass
class Column:
    """An arm's predictions under one perturbation or layout: the cases as sent, their inputs and scores.

    ``inputs`` holds what differs from the unperturbed request: the perturbed variables, or the layout's text.
    """

    label: str
    cases: list[Case] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)
    inputs: list[Any] = field(default_factory=list)
    scores: dict[str, list[float | None]] = field(default_factory=dict)
    reasons: dict[str, list[str | None]] = field(default_factory=dict)  # why each case scored so, per metric
    errors: dict[str, list[str | None]] = field(default_factory=dict)  # how scoring failed on a case, per metric

    def add(self, item: Item, prediction: Prediction) -> None:
        """One more case of this column, with the input it was asked."""
        self.cases.append(item.case)
        self.predictions.append(prediction)
        layout = "\n\n".join(f"{m.role}:\n{m.content}" for m in item.messages)
        self.inputs.append(layout if self.label.startswith(FORMAT) else item.case.vars)


def expand_items(suite: Suite, items: Sequence[Item], render: Render) -> list[tuple[str, Item]]:
    """(label, item) for every perturbed case, rendered with the same template, and every further layout."""
    from promptarena.perturbations.formats import format_variants
    from promptarena.plan import perturbed_cases

    holistic = suite.holistic
    by_id = {item.case.id: item for item in items}
    out = [
        (label, replace(by_id[case.id], case=case, messages=render(case.vars, case.id)))
        for label, case in perturbed_cases(suite)
    ]
    if holistic.sensitivity:
        for item in items:
            layouts = format_variants(
                item.messages, holistic.sensitivity, holistic.perturbation_seed, holistic.formats or None
            )
            out.extend((f"{FORMAT}{k}", replace(item, messages=m)) for k, m in enumerate(layouts[1:], start=1))
    return out


def toxicity_scorer(suite: Suite, results: ResultsStore) -> ToxicityScorer | None:
    """The suite's toxicity scorer, built before the run so that a missing one fails before any work.

    Its scores are cached in the results store under the scorer's name, version and the text, like any
    other score, so a rerun of unchanged outputs scores nothing and never loads the classifier.
    """
    if suite.holistic.toxicity is None:
        return None
    from promptarena.hashing import content_hash
    from promptarena.metrics.toxicity import get_scorer

    scorer = get_scorer(suite.holistic.toxicity.name, **suite.holistic.toxicity.options)

    def score(texts: Sequence[str]) -> list[float]:
        from promptarena.metrics import Score

        keys = [content_hash({"toxicity": scorer.name, "version": scorer.version, "text": t}) for t in texts]
        scored = results.scores_through(
            f"toxicity:{scorer.name}", keys, lambda todo: [Score(v) for v in scorer.score([texts[i] for i in todo])]
        )
        return [float(s.value) for s in scored]  # type: ignore[arg-type]

    return replace(scorer, score=score)


def holistic_provenance(suite: Suite, scorer: ToxicityScorer | None) -> dict[str, Any]:
    """What a run records about its holistic parts: each rewrite's version, layouts, measures, the scorer."""
    holistic = suite.holistic
    if not holistic.declared:
        return {}
    from promptarena.perturbations import get_perturbation

    return {
        "perturbations": [get_perturbation(name).key for name in holistic.perturbations],
        "perturbation_seed": holistic.perturbation_seed,
        "sensitivity": {"layouts": holistic.sensitivity, "formats": list(holistic.formats) or "all"},
        "bias": list(holistic.bias),
        "toxicity": {"scorer": scorer.name, "version": scorer.version} if scorer else None,
    }
