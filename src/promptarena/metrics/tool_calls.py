"""Tool-call metrics: whether the model made the calls a case expects (BFCL's AST match) and an argument-level F1
for partial credit. A case without ``expected_calls:`` is not scored (``None``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from promptarena.metrics import Metric, Score
from promptarena.tools import call_f1, calls_match, case_calls, prediction_calls
from promptarena.types import Case, Prediction, ToolCall


def _shown(calls: Sequence[ToolCall]) -> str:
    return "; ".join(f"{c.name}({c.arguments_json})" for c in calls) or "no call"


def _match(predictions: Sequence[Prediction], cases: Sequence[Case], options: Mapping[str, Any]) -> list[Score]:
    out = []
    for prediction, case in zip(predictions, cases, strict=True):
        expected = case_calls(case)
        if expected is None:
            out.append(Score(None))
            continue
        made = prediction_calls(prediction)
        ok = calls_match(expected, made)
        out.append(Score(float(ok), None if ok else f"expected {_shown(expected)}; made {_shown(made)}"))
    return out


def _f1(predictions: Sequence[Prediction], cases: Sequence[Case], options: Mapping[str, Any]) -> list[float | None]:
    out: list[float | None] = []
    for prediction, case in zip(predictions, cases, strict=True):
        expected = case_calls(case)
        out.append(None if expected is None else call_f1(expected, prediction_calls(prediction)))
    return out


tool_call_match = Metric(
    name="tool_call_match",
    description="1 if the calls made are the calls the case expects, in any order: the same functions with equal "
    "arguments after JSON normalisation (1 equals 1.0, not true or '1'; keys in any order), else 0.",
    score=_match,
    kind="binary",
)

tool_call_f1 = Metric(
    name="tool_call_f1",
    description="F1 of the calls made against those expected, counting each call's function and each "
    "(function, argument, value): partial credit for a right function with some arguments wrong.",
    score=_f1,
)
