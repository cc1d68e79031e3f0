"""promptarena: version prompts in git, evaluate every version, and compare them with paired statistics.

The package root exports what a scorer of your own needs, ``metric`` (a decorator) and ``Score``, loaded only
when asked for, so ``import promptarena`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Score", "metric"]


def __getattr__(name: str) -> Any:
    """``promptarena.metric`` and ``promptarena.Score``, imported on first use."""
    if name == "metric":
        from promptarena.scorers import metric

        return metric
    if name == "Score":
        from promptarena.metrics import Score

        return Score
    raise AttributeError(f"module 'promptarena' has no attribute {name!r}")
