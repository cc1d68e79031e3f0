"""Assertions: the checks a case (or its suite, for every case) lists under `assert:`, and the two metrics they feed.

An assertion is a check of the case's answer (``contains``, ``regex``, ``json_schema``, ``length``, ...) or any
metric entry of a suite, resolved like one (``{type: python, value: evals/scorers.py:fn}`` is the factory
entry ``{python: evals/scorers.py:fn}``; ``{type: metric, value: rougeL}`` a registered metric) that passes at
a threshold. ``assertions`` scores each case with the weighted share of its assertions that pass, and
``assertions_passed`` with 1 when all pass; each failure is named in the case's reason, one line per failed
assertion (``assert[2] json_schema: $.items[0].price: 'x' is not of type 'number'``), which
``failed_assertions`` reads back for the reports. See docs/suite-format.md.

Each entry is checked where it is read (``parse_assertions``: its type, fields, regular expression, JSON
Schema), and built once per distinct entry when the suite loads (``assertion_metrics``). jsonschema is
imported only for a ``json_schema`` assertion.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptarena.errors import ConfigError, did_you_mean
from promptarena.hashing import content_hash
from promptarena.metrics import FactoryContext, Metric, Score, ScoringContext, get_metric, metric_factories
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
        _validator(entry["value"], f"{where}: {label}")
    elif kind == "length":
        low, high = entry.get("min"), entry.get("max")
        if low is None and high is None:
            raise ConfigError(f"{where}: {label}: length: give min, max or both, for example {_EXAMPLES['length']}.")
        if low is not None and high is not None and low > high:
            raise ConfigError(f"{where}: {label}: length: min {low} is more than max {high}; swap them.")


def _validator(schema: dict[str, Any], where: str) -> Any:
    """A jsonschema validator of the schema's own draft (2020-12 when it names none); a schema that is not valid
    under its draft's metaschema is a ``ConfigError``."""
    from jsonschema import validators
    from jsonschema.exceptions import SchemaError

    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as err:
        raise ConfigError(
            f"{where}: json_schema: not a valid JSON Schema: {err.json_path}: {err.message}; fix the schema."
        ) from None
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


# --- the checks: one per distinct entry, each scoring all the cases that carry it in one batch ---------------


@dataclass(frozen=True)
class _Outcome:
    """One assertion on one case: ``passed`` (``None``: does not apply), why it failed, or how checking failed."""

    passed: bool | None
    why: str | None = None
    error: str | None = None


class _Check:
    """Scores one entry on a batch of (prediction, case); ``salt`` is what else keys its results."""

    def run(self, predictions: Sequence[Prediction], cases: Sequence[Case], context: ScoringContext) -> list[_Outcome]:
        raise NotImplementedError

    def salt(self, context: ScoringContext) -> Any:
        return None


class _AnswerCheck(_Check):
    """A check of the answer alone: ``test(answer)`` returns why it fails, or ``None`` when it passes."""

    def __init__(self, test: Callable[[str], str | None]) -> None:
        self.test = test

    def run(self, predictions: Sequence[Prediction], cases: Sequence[Case], context: ScoringContext) -> list[_Outcome]:
        return [_Outcome(why is None, why) for why in (self.test(p.answer) for p in predictions)]


class _MetricCheck(_Check):
    """A metric's score, at least ``threshold`` (at most, for a metric where lower is better). Its scores go through
    the score cache under the same keys as the metric's own in a suite's `metrics:`, so it scores each once."""

    def __init__(self, metric: Metric, options: dict[str, Any], threshold: float) -> None:
        self.metric, self.options, self.threshold = metric, options, threshold

    def salt(self, context: ScoringContext) -> Any:
        m = self.metric
        salt = m.cache_salt(self.options, context) if m.cache_salt else None
        return {"metric": m.name, "version": m.version, "options": self.options, "salt": salt}

    def run(self, predictions: Sequence[Prediction], cases: Sequence[Case], context: ScoringContext) -> list[_Outcome]:
        from promptarena._rounds import _score_key
        from promptarena.suite import Spec

        m, spec = self.metric, Spec(self.metric.name, self.options)
        salt = m.cache_salt(self.options, context) if m.cache_salt else None
        keys = [_score_key(m, spec, salt, p, c) for p, c in zip(predictions, cases, strict=True)]

        def compute(todo: list[int]) -> list[Score]:
            picked = [predictions[i] for i in todo], [cases[i] for i in todo]
            return m.score_batch(*picked, self.options, context)

        return [self._outcome(s) for s in context.results.scores_through(m.name, keys, compute)]

    def _outcome(self, score: Score) -> _Outcome:
        if score.error is not None:
            return _Outcome(None, error=score.error)
        if score.value is None:
            return _Outcome(None)
        lower = self.metric.higher_is_better is False
        if (score.value <= self.threshold) if lower else (score.value >= self.threshold):
            return _Outcome(True)
        side = "above" if lower else "below"
        why = f"{self.metric.name} scored {score.value:.3g}, {side} the threshold {self.threshold:g}"
        return _Outcome(False, why + (f": {score.reason}" if score.reason else ""))


def _quote(text: str, width: int = 60) -> str:
    """Text for a reason: quoted, on one line, its middle cut when long."""
    text = " ".join(text.split()) if "\n" in text else text
    return repr(text if len(text) <= width else text[: width - 20] + " … " + text[-17:])


def _parse_json(answer: str) -> tuple[Any, str | None]:
    """The answer's JSON value (alone or inside a ```json fence), or why it is not JSON."""
    from promptarena.metrics.text import parse_json

    try:
        return parse_json(answer), None
    except ValueError as err:
        return None, f"not JSON ({err})"


def _schema_test(schema: dict[str, Any], where: str) -> Callable[[str], str | None]:
    validator = None

    def test(answer: str) -> str | None:
        nonlocal validator
        from jsonschema.exceptions import best_match
        from referencing.exceptions import Unresolvable

        value, why = _parse_json(answer)
        if why is not None:
            return why
        validator = validator or _validator(schema, where)
        try:
            error = best_match(validator.iter_errors(value))
        except Unresolvable as err:  # nothing is fetched: a $ref must point into the schema itself
            raise ConfigError(
                f"{where}: json_schema: a $ref cannot be resolved ({err}); nothing is fetched, so put the schema "
                "it names under $defs."
            ) from None
        return None if error is None else f"{error.json_path}: {error.message}"

    return test


def _length_test(low: int | None, high: int | None) -> Callable[[str], str | None]:
    def test(answer: str) -> str | None:
        n = len(answer)
        if low is not None and n < low:
            return f"{n} characters, fewer than the min of {low}"
        if high is not None and n > high:
            return f"{n} characters, more than the max of {high}"
        return None

    return test


def _answer_test(entry: Mapping[str, Any], where: str) -> Callable[[str], str | None]:
    """The test of a built-in assertion: why the answer fails it, or ``None``."""
    kind, value = entry["type"], entry.get("value")
    if kind == "equals":
        want = str(value)
        return lambda a: None if a.strip() == want.strip() else f"expected {_quote(want)}, got {_quote(a)}"
    if kind == "contains":
        return lambda a: None if value in a else f"does not contain {_quote(value)}"
    if kind == "icontains":
        return lambda a: None if value.casefold() in a.casefold() else f"does not contain {_quote(value)} in any case"
    if kind == "not_contains":
        return lambda a: None if value not in a else f"contains {_quote(value)}"
    if kind == "starts_with":
        return lambda a: None if a.startswith(value) else f"starts with {_quote(a[: len(value) + 10])}, not {value!r}"
    if kind == "regex":
        pattern = re.compile(value)
        return lambda a: None if pattern.search(a) else f"no match for {value!r} in {_quote(a)}"
    if kind == "is_json":
        return lambda a: _parse_json(a)[1]
    if kind == "json_schema":
        return _schema_test(value, where)
    return _length_test(entry.get("min"), entry.get("max"))


def _metric_check(entry: Mapping[str, Any], root: Path, where: str) -> _MetricCheck:
    """A metric entry's check: a registered metric (``type: metric``), or one built by the factory ``type`` names
    from the entry ``{type: value, **the rest}``; it passes at ``threshold`` (default 1 for a pass/fail metric,
    else 0.5)."""
    kind, value = entry["type"], entry["value"]
    rest = {k: v for k, v in entry.items() if k not in ("type", "value", "threshold")}
    if kind == "metric":
        try:
            metric = get_metric(value)
            if metric.source != "prediction":
                raise ConfigError(f"{value!r} is people's votes, not a score of the outputs; assert another metric.")
            options = metric.validate_options(entry.get("options"))
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
    else:
        metric = metric_factories.get(kind)({kind: value, **rest}, FactoryContext(root, where))
        options = {}
    if metric.higher_is_better is None:
        raise ConfigError(f"{where}: metric {metric.name!r} has no better direction to pass at; assert another.")
    threshold = entry.get("threshold")
    if threshold is None:
        if metric.kind != "binary" and metric.range is None:
            raise ConfigError(f"{where}: metric {metric.name!r} is unbounded; give the assertion a threshold.")
        threshold = 1.0 if metric.kind == "binary" else 0.5
    return _MetricCheck(metric, options, float(threshold))


class _Checks:
    """The checks of a suite's assertions, one per distinct entry. An entry first met when scoring (bisect scores
    the cases of an older commit with today's suite) is built then."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.built: dict[str, _Check] = {}

    def add(self, entry: dict[str, Any], where: str) -> str:
        """The key of the entry's check, built now if it is new; ``where`` names the entry in errors."""
        key = content_hash(entry)
        if key not in self.built:
            if entry["type"] in _MODELS and entry["type"] != "metric":
                self.built[key] = _AnswerCheck(_answer_test(entry, where))
            else:
                self.built[key] = _metric_check(entry, self.root, where)
        return key

    def salt(self, context: ScoringContext) -> dict[str, Any]:
        """What keys the assertions' scores besides the entries: the salts of the metrics they resolve to."""
        return {key: s for key, check in self.built.items() if (s := check.salt(context)) is not None}

    def evaluate(
        self, predictions: Sequence[Prediction], cases: Sequence[Case], context: ScoringContext
    ) -> list[list[_Outcome]]:
        """Every assertion of every case; the cases that carry one entry are checked together, in one batch."""
        groups: dict[str, list[tuple[int, int]]] = {}
        for i, case in enumerate(cases):
            for j, assertion in enumerate(case.assertions):
                key = self.add(assertion.entry, f"{case.meta.get('where', case.id)}: {assertion.label}")
                groups.setdefault(key, []).append((i, j))
        out: list[list[_Outcome]] = [[_Outcome(None)] * len(c.assertions) for c in cases]
        for key, members in groups.items():
            picked = [predictions[i] for i, _ in members], [cases[i] for i, _ in members]
            outcomes = self.built[key].run(*picked, context)
            for (i, j), outcome in zip(members, outcomes, strict=True):
                out[i][j] = outcome
        return out


def _summary(assertions: Sequence[Assertion], outcomes: Sequence[_Outcome], binary: bool) -> Score:
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
    checks = _Checks(root)
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
