"""Calibration of a prediction's confidence (the self-consistency vote's agreement) against its correctness."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptarena.stats._descriptive import NAN, check_binary, clean_pairs

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Bin:
    """One equal-width confidence bin of a reliability diagram: [low, high)."""

    low: float
    high: float
    count: int
    mean_confidence: float
    accuracy: float


def _calibration_pairs(
    confidences: Sequence[float | None], correct: Sequence[float | bool | None]
) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    conf, corr = clean_pairs(confidences, [None if c is None else float(c) for c in correct])
    if np.any((conf < 0) | (conf > 1)):
        raise ValueError("confidences must lie in [0, 1]")
    check_binary(corr, "correctness values")
    return conf, corr


def brier(confidences: Sequence[float | None], correct: Sequence[float | bool | None]) -> float:
    """Brier score: mean squared gap between confidence and correctness (0 is perfect; NaN if empty)."""
    import numpy as np

    conf, corr = _calibration_pairs(confidences, correct)
    return float(np.mean((conf - corr) ** 2)) if conf.size else NAN


def reliability_table(
    confidences: Sequence[float | None], correct: Sequence[float | bool | None], n_bins: int = 10
) -> list[Bin]:
    """Group predictions into equal-width confidence bins and give each bin's confidence and accuracy.

    Bin i holds confidences in [i/n_bins, (i+1)/n_bins); a confidence of 1.0 falls in the last bin.
    Empty bins are left out. Pairs with a ``None`` confidence are dropped.
    """
    import numpy as np

    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    conf, corr = _calibration_pairs(confidences, correct)
    index = np.minimum(np.floor(conf * n_bins).astype(int), n_bins - 1)
    table = []
    for i in range(n_bins):
        mask = index == i
        count = int(mask.sum())
        if count:
            table.append(
                Bin(
                    low=i / n_bins,
                    high=(i + 1) / n_bins,
                    count=count,
                    mean_confidence=float(conf[mask].mean()),
                    accuracy=float(corr[mask].mean()),
                )
            )
    return table


def ece(confidences: Sequence[float | None], correct: Sequence[float | bool | None], n_bins: int = 10) -> float:
    """Expected calibration error: the count-weighted mean |accuracy - confidence| over equal-width bins."""
    table = reliability_table(confidences, correct, n_bins)
    total = sum(b.count for b in table)
    if total == 0:
        return NAN
    return float(sum(b.count * abs(b.accuracy - b.mean_confidence) for b in table) / total)
