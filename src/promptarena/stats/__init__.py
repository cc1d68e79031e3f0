"""Statistics for comparing prompt versions: intervals, paired tests, multiple testing, power, calibration and
agreement between raters.

One private module per concern: ``_descriptive`` (a mean with its interval, percentiles; no scipy, so a
cached run stays fast), ``_paired`` (paired tests, Holm, verdicts), ``_power``, ``_calibration`` and
``_agreement`` (Cohen's kappa of a judge against people, or of two judges).
"""

from promptarena.stats._agreement import MIN_PAIRS, Agreement, kappa_table, rater_agreement
from promptarena.stats._calibration import Bin, brier, ece, reliability_table
from promptarena.stats._descriptive import Interval, Kind, mean_ci, percentile
from promptarena.stats._paired import (
    PairedComparison,
    Verdict,
    compare_family,
    compare_paired,
    holm,
    holm_factors,
    mcnemar_exact_pvalue,
    paired_permutation_pvalue,
)
from promptarena.stats._power import POWER

__all__ = [
    "MIN_PAIRS",
    "POWER",
    "Agreement",
    "Bin",
    "Interval",
    "Kind",
    "PairedComparison",
    "Verdict",
    "brier",
    "compare_family",
    "compare_paired",
    "ece",
    "holm",
    "holm_factors",
    "kappa_table",
    "mcnemar_exact_pvalue",
    "mean_ci",
    "paired_permutation_pvalue",
    "percentile",
    "rater_agreement",
    "reliability_table",
]
