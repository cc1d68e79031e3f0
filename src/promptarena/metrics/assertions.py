"""Assertions: the checks a case (or its suite, for every case) lists under `assert:`, and the two metrics they feed.

An assertion is a check of the case's answer (``contains``, ``regex``, ``json_schema``, ``length``, ...) or any
metric entry of a suite, resolved like one (``{type: python, value: evals/scorers.py:fn}`` is the factory
entry ``{python: evals/scorers.py:fn}``; ``{type: metric, value: rougeL}`` a registered metric) that passes at
a threshold. ``assertions`` scores each case with the weighted share of its assertions that pass, and
``assertions_passed`` with 1 when all pass; each failure is named in the case's reason, one line per failed
assertion (``assert[2] json_schema: $.items[0].price: 'x' is not of type 'number'``), which
``failed_assertions`` reads back for the reports. See docs/suite-format.md.

Each entry is checked where it is read (``parse_assertions``: its type, fields, regular expression, JSON
Schema), and its check (``metrics._checks``) built once per distinct entry when the suite loads
(``assertion_metrics``). jsonschema is imported only for a ``json_schema`` assertion.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptarena.errors import ConfigError, did_you_mean
from promptarena.metrics import Metric, Score, ScoringContext, metric_factories
from promptarena.metrics._checks import Checks, Outcome, validator
from promptarena.types import Assertion, Case, Prediction

__all__ = ["METRICS", "assertion_metrics", "failed_assertions", "parse_assertions"]

METRICS = ("assertions", "assertions_passed")
"""The metrics the assertions feed: the weighted share that passed per case, and 1 when all passed."""


# --- the entries as written (pydantic, extra fields refused) ------------------------------------------------


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    weight: float = Field(1.0, gt=0, allow_inf_nan=False)


class _Text(_Entry):
    value: str


class _Equals(_Entry):
    value: str | int | float


class _NoValue(_Entry):
    pass


class _Schema(_Entry):
    value: dict[str, Any]


class _Length(_Entry):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)


class _Threshold(_Entry):
    threshold: float | None = Field(None, allow_inf_nan=False)


class _Registered(_Threshold):
    value: str
    options: dict[str, Any] = Field(default_factory=dict)


class _Factory(_Threshold):
    """A metric entry of the suite's own: what is not an assertion's field goes to its factory, which checks it."""

    model_config = ConfigDict(extra="allow")

    value: Any


_MODELS: dict[str, type[_Entry]] = {
    "equals": _Equals,
    "contains": _Text,
    "icontains": _Text,
    "not_contains": _Text,
    "starts_with": _Text,
    "regex": _Text,
    "is_json": _NoValue,
    "json_schema": _Schema,
    "length": _Length,
    "metric": _Registered,
}

_EXAMPLES = {
    "equals": '{"type": "equals", "value": "Paris"}',
    "contains": '{"type": "contains", "value": "Paris"}',
    "icontains": '{"type": "icontains", "value": "paris"}',
    "not_contains": '{"type": "not_contains", "value": "sorry"}',
    "starts_with": '{"type": "starts_with", "value": "{"}',
    "regex": '{"type": "regex", "value": "^\\\\d+$"}',
    "is_json": '{"type": "is_json"}',
    "json_schema": '{"type": "json_schema", "value": {"type": "object", "required": ["name"]}}',
    "length": '{"type": "length", "min": 1, "max": 200}',
    "metric": '{"type": "metric", "value": "rougeL", "threshold": 0.5}',
}


def _types() -> list[str]:
    return [*_MODELS, *(name for name in metric_factories if name not in _MODELS)]


def parse_assertions(items: Sequence[Any], wheres: Sequence[str], prefix: str = "") -> tuple[Assertion, ...]:
    """The assertions of one `assert:` list, each checked: ``wheres`` says where each is written, for messages
    (``evals/cases/qa.jsonl:3``); ``prefix`` starts their labels (``"suite "`` for the suite's own list)."""
    pairs = enumerate(zip(items, wheres, strict=True))
    return tuple(_parse(item, where, f"{prefix}assert[{i}]") for i, (item, where) in pairs)


def _parse(item: Any, where: str, label: str) -> Assertion:
    """One entry as an ``Assertion``, or a ``ConfigError`` naming the file, line, the assertion and the fix."""
    if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
        raise ConfigError(
            f"{where}: {label}: write each assertion as a mapping with a type, for example {_EXAMPLES['contains']}."
        )
    kind = item["type"]
    if kind in _MODELS:
        model: type[_Entry] = _MODELS[kind]
    elif kind in metric_factories:
        model = _Factory
    else:
        raise ConfigError(
            f"{where}: {label}: unknown assertion type {kind!r}{did_you_mean(kind, _types())}; "
            f"known: {', '.join(_types())}."
        )
    try:
        checked = model.model_validate(dict(item))
    except ValidationError as err:
        errors = err.errors()  # a misspelt field first: it is why the right one is missing
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        field = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            message = f"{kind} takes no field {field!r}{did_you_mean(field, model.model_fields)}"
        else:
            message = f"{field}: {first['msg']}"
        example = _EXAMPLES.get(kind)
        raise ConfigError(f"{where}: {label}: {message}" + (f"; write it as {example}." if example else ".")) from None
    entry = checked.model_dump(exclude={"weight"}, exclude_none=True)
    _check(entry, where, label)
    return Assertion(label=label, entry=entry, weight=checked.weight)


def _check(entry: dict[str, Any], where: str, label: str) -> None:
    """What the field types cannot say: a pattern that compiles, a JSON Schema that is one, bounds in order."""
    kind = entry["type"]
    if kind == "regex":
        try:
            re.compile(entry["value"])
        except re.error as err:
            raise ConfigError(
                f"{where}: {label}: regex: {entry['value']!r} is not a valid regular expression ({err}); fix it."
            ) from None
    elif kind == "json_schema":
        validator(entry["value"], f"{where}: {label}")
    elif kind == "length":
        low, high = entry.get("min"), entry.get("max")
        if low is None and high is None:
            raise ConfigError(f"{where}: {label}: length: give min, max or both, for example {_EXAMPLES['length']}.")
        if low is not None and high is not None and low > high:
            raise ConfigError(f"{where}: {label}: length: min {low} is more than max {high}; swap them.")


# --- the two metrics -----------------------------------------------------------------------------------------


def _summary(assertions: Sequence[Assertion], outcomes: Sequence[Outcome], binary: bool) -> Score:
    """A case's score: the weighted share that passed (``binary``: 1 when all passed), with a line per failure."""
    errors = [f"{a.label} {a.type}: {_line(o.error)}" for a, o in zip(assertions, outcomes, strict=True) if o.error]
    if errors:
        return Score(None, error="\n".join(errors))
    counted = [(a, o) for a, o in zip(assertions, outcomes, strict=True) if o.passed is not None]
    if not counted:
        return Score(None)
    failed = [f"{a.label} {a.type}: {_line(o.why or 'failed')}" for a, o in counted if not o.passed]
    if binary:
        value = float(not failed)
    else:
        value = sum(a.weight for a, o in counted if o.passed) / sum(a.weight for a, _ in counted)
    return Score(value, "\n".join(failed) or None)


def _line(text: str) -> str:
    return " ".join(text.split())


def assertion_metrics(located: Sequence[tuple[Assertion, str]], root: Path) -> dict[str, Metric]:
    """The two metrics of a suite whose cases carry these assertions (each with where it is written), every
    distinct entry built now so that a bad one fails at load; none when there are no assertions."""
    if not located:
        return {}
    checks = Checks(root)
    for assertion, where in located:
        checks.add(assertion.entry, f"{where}: {assertion.label}")

    def scorer(binary: bool) -> Callable[..., list[Score]]:
        def score(
            predictions: Sequence[Prediction],
            cases: Sequence[Case],
            options: Mapping[str, Any],
            context: ScoringContext,
        ) -> list[Score]:
            outcomes = checks.evaluate(predictions, cases, context)
            return [_summary(c.assertions, o, binary) for c, o in zip(cases, outcomes, strict=True)]

        return score

    common: dict[str, Any] = {
        "needs_context": True,
        "needs_assertions": True,
        "cache_salt": lambda options, context: checks.salt(context),
    }
    return {
        "assertions": Metric(
            name="assertions",
            description="The weighted share of the case's assertions (`assert:`) that pass; each failure is named.",
            score=scorer(False),
            **common,
        ),
        "assertions_passed": Metric(
            name="assertions_passed",
            description="1 if every assertion of the case (`assert:`) passes, else 0; each failure is named.",
            score=scorer(True),
            kind="binary",
            **common,
        ),
    }


# --- reading the results back --------------------------------------------------------------------------------

_FAILURE = re.compile(r"^((?:suite )?assert\[\d+\]) (\S+): (.*)$")


def failed_assertions(details: Mapping[str, Any]) -> list[dict[str, str]]:
    """The failed assertions of one stored result (its details' reasons and errors), each as ``{"assertion":
    "assert[2]", "type": "json_schema", "reason": ...}`` (``"error"`` instead of ``"reason"`` where checking
    failed); empty when they all passed or the case has none."""
    out: list[dict[str, str]] = []
    for key, field in (("errors", "error"), ("reasons", "reason")):
        found = details.get(key) or {}
        text = next((found[m] for m in METRICS if found.get(m)), None)
        for line in (text or "").splitlines():
            if match := _FAILURE.match(line):
                out.append({"assertion": match[1], "type": match[2], field: match[3]})
    return out
