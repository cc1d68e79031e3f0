"""HELM's holistic view of an arm beside its accuracy: robustness, fairness, prompt sensitivity, bias, toxicity.

``_measures`` holds the statistics over per-case scores; ``_expand`` turns a suite's perturbations and prompt
layouts into more cached requests (and caches toxicity scores); ``_summary`` gathers one holistic row per arm
after scoring.
"""

from promptarena.holistic._expand import (
    FORMAT,
    Bias,
    bias_measurer,
    expand_items,
    holistic_provenance,
    perturbed_cases,
    toxicity_scorer,
)
from promptarena.holistic._measures import (
    NO_GROUP,
    NO_LAYOUT,
    Fairness,
    Robustness,
    Spread,
    fairness,
    robustness,
    spread,
    worst_case,
)
from promptarena.holistic._summary import HolisticRow, aligned, headline_metric, holistic_json, summarize_holistic

__all__ = [
    "Bias",
    "FORMAT",
    "bias_measurer",
    "NO_GROUP",
    "NO_LAYOUT",
    "Fairness",
    "HolisticRow",
    "Robustness",
    "Spread",
    "aligned",
    "expand_items",
    "fairness",
    "headline_metric",
    "holistic_json",
    "holistic_provenance",
    "perturbed_cases",
    "robustness",
    "spread",
    "summarize_holistic",
    "toxicity_scorer",
    "worst_case",
]
