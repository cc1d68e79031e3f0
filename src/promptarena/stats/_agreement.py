"""How far two raters' pass/fail verdicts on the same items agree: raw agreement and Cohen's kappa with its interval.

Kappa is the agreement beyond what two raters with these pass rates would reach by chance,
``(p_o - p_e) / (1 - p_e)``. Its interval is the asymptotic one (Fleiss, Cohen & Everitt 1969), as
``statsmodels.stats.inter_rater.cohens_kappa`` computes it, cut to kappa's range [-1, 1]. Plain Python on a 2x2
table: an ``evals run`` that reports agreement imports neither numpy nor scipy for it.

Kappa is not given (NaN, with the reason in ``why``) from fewer than ``MIN_PAIRS`` items, nor when a rater gave
every item the same verdict: then chance agreement explains whatever agreement there is, and kappa's 0 (or 0/0)
says nothing about the rater. Where the raters never disagree (or never agree) the asymptotic interval has no
width; it is not shown then either, since no finite sample proves perfect agreement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

from promptarena.stats._descriptive import NAN

MIN_PAIRS = 2
"""Fewest items both raters judged for a kappa: never one from 0 or 1 item."""

Why = Literal["too few", "a constant", "b constant", "both constant", "no spread"]


@dataclass(frozen=True)
class Agreement:
    """Two raters' verdicts on the ``n`` items both judged: the confusion counts, raw agreement and kappa.

    ``only_a`` counts items A passed and B failed, ``only_b`` the reverse. ``why`` says why kappa (``too few``,
    ``a constant``, ``b constant``, ``both constant``) or its interval (``no spread``) is missing, else None.
    """

    both_pass: int
    only_a: int
    only_b: int
    both_fail: int
    observed: float  # share of items with the same verdict; NaN without items
    kappa: float
    low: float
    high: float
    confidence: float = 0.95
    why: Why | None = None

    @property
    def n(self) -> int:
        return self.both_pass + self.only_a + self.only_b + self.both_fail


def kappa_table(both_pass: int, only_a: int, only_b: int, both_fail: int, *, confidence: float = 0.95) -> Agreement:
    """Raw agreement and Cohen's kappa with its asymptotic interval, from the 2x2 table of two raters' verdicts."""
    counts = (both_pass, only_a, only_b, both_fail)
    if any(c < 0 for c in counts):
        raise ValueError(f"confusion counts must not be negative, got {counts}")
    n = sum(counts)
    observed = (both_pass + both_fail) / n if n else NAN

    def result(kappa: float = NAN, low: float = NAN, high: float = NAN, why: Why | None = None) -> Agreement:
        return Agreement(*counts, observed, kappa, low, high, confidence, why)

    if n < MIN_PAIRS:
        return result(why="too few")
    a_pass, b_pass = (both_pass + only_a) / n, (both_pass + only_b) / n
    a_flat, b_flat = a_pass in (0.0, 1.0), b_pass in (0.0, 1.0)
    if a_flat or b_flat:
        return result(why="both constant" if a_flat and b_flat else "a constant" if a_flat else "b constant")
    # rows: A's verdict (pass, fail); columns: B's. p[i][j] the shares, ra/cb the marginals.
    p = ((both_pass / n, only_a / n), (only_b / n, both_fail / n))
    ra, cb = (a_pass, 1 - a_pass), (b_pass, 1 - b_pass)
    expected = ra[0] * cb[0] + ra[1] * cb[1]
    kappa = (observed - expected) / (1 - expected)
    term_a = sum(p[i][i] * (1 - (ra[i] + cb[i]) * (1 - kappa)) ** 2 for i in (0, 1))
    term_b = (1 - kappa) ** 2 * sum(p[i][j] * (cb[i] + ra[j]) ** 2 for i in (0, 1) for j in (0, 1) if i != j)
    term_c = (kappa - expected * (1 - kappa)) ** 2
    variance = (term_a + term_b - term_c) / (1 - expected) ** 2 / n
    if variance <= 1e-12:
        return result(kappa, why="no spread")
    half = NormalDist().inv_cdf((1 + confidence) / 2) * math.sqrt(variance)
    return result(kappa, max(-1.0, kappa - half), min(1.0, kappa + half))


def rater_agreement(a: Sequence[bool | None], b: Sequence[bool | None], *, confidence: float = 0.95) -> Agreement:
    """Agreement of two raters' verdicts on the same items (True pass, False fail); an item either left unjudged
    (None) is left out."""
    if len(a) != len(b):
        raise ValueError(f"two raters' verdicts must pair up, got {len(a)} and {len(b)}")
    cells = [0, 0, 0, 0]
    for x, y in zip(a, b, strict=True):
        if x is not None and y is not None:
            cells[(0 if x else 2) + (0 if y else 1)] += 1
    return kappa_table(*cells, confidence=confidence)
