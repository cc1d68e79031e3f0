"""The checks behind assertions: one per distinct `assert:` entry, each scoring every case that carries it in one
batch. A built-in check reads the answer alone; a metric's check scores through the score cache and passes at a
threshold. jsonschema is imported only where a ``json_schema`` entry is checked."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptarena.errors import ConfigError
from promptarena.hashing import content_hash
from promptarena.metrics import (
    FactoryContext,
    Metric,
    Score,
    ScoringContext,
    get_metric,
    metric_factories,
    metric_scores,
)
from promptarena.types import Case, Prediction

ANSWER_TYPES = (
    "equals",
    "contains",
    "icontains",
    "not_contains",
    "starts_with",
    "regex",
    "is_json",
    "json_schema",
    "length",
)
"""The assertion types that check the answer alone; every other is a metric passing at a threshold."""


def validator(schema: dict[str, Any], where: str) -> Any:
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


@dataclass(frozen=True)
class Outcome:
    """One assertion on one case: ``passed`` (``None``: does not apply), why it failed, or how checking failed."""

    passed: bool | None
    why: str | None = None
    error: str | None = None


class _Check:
    """Scores one entry on a batch of (prediction, case); ``salt`` is what else keys its results."""

    def run(self, predictions: Sequence[Prediction], cases: Sequence[Case], context: ScoringContext) -> list[Outcome]:
        raise NotImplementedError

    def salt(self, context: ScoringContext) -> Any:
        return None


class _AnswerCheck(_Check):
    """A check of the answer alone: ``test(answer)`` returns why it fails, or ``None`` when it passes."""

    def __init__(self, test: Callable[[str], str | None]) -> None:
        self.test = test

    def run(self, predictions: Sequence[Prediction], cases: Sequence[Case], context: ScoringContext) -> list[Outcome]:
        return [Outcome(why is None, why) for why in (self.test(p.answer) for p in predictions)]


class _MetricCheck(_Check):
    """A metric's score, at least ``threshold`` (at most, for a metric where lower is better), through the score
    cache. A registered metric's scores are keyed as in a suite's `metrics:`, so a metric both listed and asserted
    scores each output once; a metric built by a factory is keyed by its ``entry`` too, since its name need not
    tell two entries apart (two scorers' options, two rubrics)."""

    def __init__(self, metric: Metric, options: dict[str, Any], threshold: float, entry: Any = None) -> None:
        self.metric, self.options, self.threshold, self.entry = metric, options, threshold, entry

    def _salt(self, context: ScoringContext) -> Any:
        """The salt of this check's score keys."""
        m = self.metric
        salt = m.cache_salt(self.options, context) if m.cache_salt else None
        return salt if self.entry is None else {"entry": self.entry, "salt": salt}

    def salt(self, context: ScoringContext) -> Any:
        return {"metric": self.metric.name, "version": self.metric.version, "salt": self._salt(context)}

    def run(self, predictions: Sequence[Prediction], cases: Sequence[Case], context: ScoringContext) -> list[Outcome]:
        scored = metric_scores(
            self.metric, self.options, self.options, self._salt(context), predictions, cases, context
        )
        return [self._outcome(s) for s in scored]

    def _outcome(self, score: Score) -> Outcome:
        if score.error is not None:
            return Outcome(None, error=score.error)
        if score.value is None:
            return Outcome(None)
        lower = self.metric.higher_is_better is False
        if (score.value <= self.threshold) if lower else (score.value >= self.threshold):
            return Outcome(True)
        side = "above" if lower else "below"
        why = f"{self.metric.name} scored {score.value:.3g}, {side} the threshold {self.threshold:g}"
        return Outcome(False, why + (f": {score.reason}" if score.reason else ""))


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
    checker = None

    def test(answer: str) -> str | None:
        nonlocal checker
        from jsonschema.exceptions import best_match
        from referencing.exceptions import Unresolvable

        value, why = _parse_json(answer)
        if why is not None:
            return why
        checker = checker or validator(schema, where)
        try:
            error = best_match(checker.iter_errors(value))
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
    identity = None
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
        options, identity = {}, {kind: value, **rest}
    if metric.higher_is_better is None:
        raise ConfigError(f"{where}: metric {metric.name!r} has no better direction to pass at; assert another.")
    threshold = entry.get("threshold")
    if threshold is None:
        if metric.kind != "binary" and metric.range is None:
            raise ConfigError(f"{where}: metric {metric.name!r} is unbounded; give the assertion a threshold.")
        threshold = 1.0 if metric.kind == "binary" else 0.5
    return _MetricCheck(metric, options, float(threshold), identity)


class Checks:
    """The checks of a suite's assertions, one per distinct entry. An entry first met when scoring (bisect scores
    the cases of an older commit with today's suite) is built then."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.built: dict[str, _Check] = {}

    def add(self, entry: dict[str, Any], where: str) -> str:
        """The key of the entry's check, built now if it is new; ``where`` names the entry in errors."""
        key = content_hash(entry)
        if key not in self.built:
            if entry["type"] in ANSWER_TYPES:
                self.built[key] = _AnswerCheck(_answer_test(entry, where))
            else:
                self.built[key] = _metric_check(entry, self.root, where)
        return key

    def salt(self, context: ScoringContext) -> dict[str, Any]:
        """What keys the assertions' scores besides the entries: the salts of the metrics they resolve to."""
        return {key: s for key, check in self.built.items() if (s := check.salt(context)) is not None}

    def evaluate(
        self, predictions: Sequence[Prediction], cases: Sequence[Case], context: ScoringContext
    ) -> list[list[Outcome]]:
        """Every assertion of every case; the cases that carry one entry are checked together, in one batch."""
        groups: dict[str, list[tuple[int, int]]] = {}
        for i, case in enumerate(cases):
            for j, assertion in enumerate(case.assertions):
                key = self.add(assertion.entry, f"{case.meta.get('where', case.id)}: {assertion.label}")
                groups.setdefault(key, []).append((i, j))
        out: list[list[Outcome]] = [[Outcome(None)] * len(c.assertions) for c in cases]
        for key, members in groups.items():
            picked = [predictions[i] for i, _ in members], [cases[i] for i, _ in members]
            outcomes = self.built[key].run(*picked, context)
            for (i, j), outcome in zip(members, outcomes, strict=True):
                out[i][j] = outcome
        return out
