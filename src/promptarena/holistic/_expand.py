"""A suite's holistic parts as more requests: each (case, perturbation) and each (case, prompt layout) is one
more rendered prompt, cached like any other, whose predictions the run keeps in a column of their own.

Every variant of the suite runs on the perturbed cases too (a sampled variant multiplies their cost by its
samples). Layout ``format:0`` is the prompt as written, so its predictions are the unperturbed ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from promptarena.metrics import Score, scores_through_cache
from promptarena.metrics.toxicity import ToxicityScorer, get_scorer
from promptarena.perturbations import get_perturbation, perturb_vars
from promptarena.perturbations.formats import format_variants
from promptarena.types import Case, Message

if TYPE_CHECKING:
    from promptarena.store import ResultsStore
    from promptarena.suite import Suite
    from promptarena.variants import Item

FORMAT = "format:"
"""The label prefix of a prompt layout (``format:1``, ``format:2``...); other labels name a perturbation."""

Render = Callable[[Mapping[str, Any], str], tuple[Message, ...]]


def expand_items(suite: Suite, items: Sequence[Item], render: Render) -> list[tuple[str, Item]]:
    """(label, item) for every perturbed case, rendered with the same template, and every further layout."""
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


def perturbed_cases(suite: Suite) -> list[tuple[str, Case]]:
    """Every case under each of the suite's perturbations, as (perturbation name, perturbed case), in suite order.

    A fairness counterfactual rewrites the references together with the variables, so that a person is
    named the same way in both; a robustness perturbation leaves the references as written.
    """
    out = []
    seed = suite.holistic.perturbation_seed
    for name in suite.holistic.perturbations:
        perturbation = get_perturbation(name)
        for case in suite.cases:
            if perturbation.kind == "fairness":
                both = perturb_vars({"vars": case.vars, "refs": list(case.references)}, perturbation, seed, case.id)
                out.append((name, replace(case, vars=both["vars"], references=tuple(both["refs"]))))
            else:
                out.append((name, replace(case, vars=perturb_vars(case.vars, perturbation, seed, case.id))))
    return out


def toxicity_scorer(suite: Suite, results: ResultsStore) -> ToxicityScorer | None:
    """The suite's toxicity scorer, built before the run so that a missing one fails before any work.

    Its scores are cached in the results store under the scorer's name, version and the text, like any
    other score, so a rerun of unchanged outputs scores nothing and never loads the classifier.
    """
    if suite.holistic.toxicity is None:
        return None
    scorer = get_scorer(suite.holistic.toxicity.name, **suite.holistic.toxicity.options)

    def score(texts: Sequence[str]) -> list[float]:
        def compute(todo: list[int]) -> list[Score]:
            return [Score(v) for v in scorer.score([texts[i] for i in todo])]

        identities = [{"toxicity": scorer.name, "version": scorer.version, "text": t} for t in texts]
        scored = scores_through_cache(results, f"toxicity:{scorer.name}", identities, compute)
        return [float(s.value) for s in scored]  # type: ignore[arg-type]

    return replace(scorer, score=score)


Bias = Callable[[Iterable[str]], dict[str, "float | None"]]
"""The suite's bias measures over an arm's output texts (``promptarena.metrics.bias``), by name."""


def bias_measurer(suite: Suite, results: ResultsStore) -> Bias | None:
    """The suite's bias measures, cached in the results store under each measure's word lists and a hash of the
    outputs, so a rerun of unchanged outputs reads them back without tokenizing them (or importing nltk)."""
    names = list(suite.holistic.bias)
    if not names:
        return None
    from promptarena.hashing import content_hash
    from promptarena.metrics.bias import bias_measures, bias_scores

    def words_of(name: str) -> str:
        measure = bias_measures.get(name)
        _, groups, targets = measure.spec()
        lists = {"groups": {g: sorted(w) for g, w in groups.items()}, "targets": sorted(targets or [])}
        return content_hash([measure.version, lists])

    versions = {name: words_of(name) for name in names}

    def measure(texts: Iterable[str]) -> dict[str, float | None]:
        digest = hashlib.sha256()
        for text in texts:
            data = text.encode()
            digest.update(len(data).to_bytes(8, "big") + data)
        identities = [{"bias": name, "words": versions[name], "texts": digest.hexdigest()} for name in names]

        def compute(todo: list[int]) -> list[Score]:
            scores = bias_scores([names[i] for i in todo], texts)
            return [Score(scores[names[i]]) for i in todo]

        scored = scores_through_cache(results, "bias", identities, compute)
        return {name: s.value for name, s in zip(names, scored, strict=True)}

    return measure


def holistic_provenance(suite: Suite, scorer: ToxicityScorer | None) -> dict[str, Any]:
    """What a run records about its holistic parts: each rewrite's version, layouts, measures, the scorer."""
    holistic = suite.holistic
    if not holistic.declared:
        return {}
    return {
        "perturbations": [get_perturbation(name).key for name in holistic.perturbations],
        "perturbation_seed": holistic.perturbation_seed,
        "sensitivity": {"layouts": holistic.sensitivity, "formats": list(holistic.formats) or "all"},
        "bias": list(holistic.bias),
        "toxicity": {"scorer": scorer.name, "version": scorer.version} if scorer else None,
    }
