"""Scorers of your own: a Python function in the repository (or in an installed package) made into a metric.

A suite names the function in a metric entry, ``{python: evals/scorers.py:politeness}`` (a path relative to the
repository's top folder) or ``{python: mypkg.scorers:polite}`` (a module importable from that folder), with an
optional ``name:`` and ``options:``. The function is called once per case with the parameters it declares, by
name, among ``answer`` (the extracted answer), ``output`` (the raw output), ``case`` (a ``Case``: ``id``,
``vars``, ``references``), ``prediction`` (the whole ``Prediction``) and ``options`` (the entry's options). It
returns a number, a bool, ``None`` (not applicable), a ``Score(value, reason)`` or a ``(value, reason)`` tuple.

``@promptarena.metric(...)`` declares what a built-in metric declares (its kind, direction and range); without
it a scorer is continuous, higher is better and unbounded: nothing is inferred from the values it returns.

Loading the function is checked when the suite is read: a missing file, module or function, or code that does
not import, is bad input naming the suite's line and the user's file and line. An exception inside the function
on one case is that case's error (counted and shown, never a 0); a value of the wrong type stops the run as bad
input, naming the function and the case. The score cache keys a scorer's scores by a hash of its source: its
file and the files of the repository's modules it imports (transitively), read statically.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar

from promptarena._usercode import (
    file_of,
    files_hash,
    load_function,
    name_of,
    place,
    source_files,
    top_folder,
    user_frame,
)
from promptarena.errors import ConfigError, did_you_mean
from promptarena.metrics import FactoryContext, Metric, Score
from promptarena.types import Case, Prediction

__all__ = ["PARAMETERS", "MetricInfo", "metric", "plugin_entry", "plugin_metric", "python_metric"]

PARAMETERS = ("answer", "output", "case", "prediction", "options")
"""The parameters a scorer may declare, by name, in any order."""

_ENTRY_KEYS = ("python", "name", "options")
_FIX = "return a number, a bool, None (not applicable), a Score(value, reason) or a (value, reason) tuple"
_ERROR_CHARS = 500  # an exception's message kept as a case's error

F = TypeVar("F", bound=Callable[..., Any])


# --- the decorator ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricInfo:
    """What ``@promptarena.metric`` declares about a scorer; the defaults are those of an undecorated one."""

    kind: Literal["binary", "continuous"] = "continuous"
    higher_is_better: bool | None = True
    range: tuple[float, float] | None = None
    name: str | None = None
    description: str | None = None


def metric(
    fn: F | None = None,
    *,
    kind: Literal["binary", "continuous"] = "continuous",
    higher_is_better: bool | None = True,
    range: tuple[float, float] | None = None,
    name: str | None = None,
    description: str | None = None,
) -> Any:
    """Declare a scorer's kind, direction and range (and its default name and description), as built-in metrics do.

    ``kind="binary"`` scores are 0 or 1 (pass/fail: Wilson intervals and McNemar's test), with the range (0, 1);
    ``"continuous"`` ones any number (t intervals, the sign-flip test), within ``range`` when one is given.
    ``higher_is_better=None`` is a figure without a direction (never gated). The function itself is returned
    unchanged, so it can still be called, and tested, as a plain function. ``@metric`` works without arguments.
    """
    if kind not in ("binary", "continuous"):
        raise ValueError(f"@promptarena.metric: kind is 'binary' or 'continuous', not {kind!r}")
    if higher_is_better not in (True, False, None):
        raise ValueError(f"@promptarena.metric: higher_is_better is True, False or None, not {higher_is_better!r}")
    bounds = None
    if range is not None:
        low, high = (float(v) for v in range)
        if not low < high:
            raise ValueError(f"@promptarena.metric: range is (low, high) with low < high, not {range!r}")
        bounds = (low, high)
    elif kind == "binary":
        bounds = (0.0, 1.0)
    info = MetricInfo(kind, higher_is_better, bounds, name, description)

    def declare(f: F) -> F:
        f.__promptarena_metric__ = info  # type: ignore[attr-defined]
        return f

    return declare(fn) if fn is not None else declare


# --- the `python` metric entry and plugins ---------------------------------------------------------------


def python_metric(entry: Mapping[str, Any], context: FactoryContext) -> Metric:
    """The metric a suite's ``{python: FILE_OR_MODULE:FUNCTION, name: ..., options: {...}}`` entry names."""
    where, root = context.where, Path(context.root).resolve()
    for key in entry:
        if key not in _ENTRY_KEYS:
            raise ConfigError(
                f"{where}: a python metric has no key {key!r}{did_you_mean(str(key), _ENTRY_KEYS)}; "
                f"it takes: {', '.join(_ENTRY_KEYS)}."
            )
    target = entry["python"]
    if not isinstance(target, str) or target.count(":") != 1 or not all(target.split(":")):
        raise ConfigError(
            f"{where}: python: name a function as FILE:FUNCTION or MODULE:FUNCTION, for example "
            f"`python: evals/scorers.py:politeness`, not {target!r}."
        )
    name = entry.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigError(f"{where}: name: give the metric a name as text, for example `name: polite`.")
    options = entry.get("options") or {}
    if not isinstance(options, Mapping):
        raise ConfigError(f"{where}: options: a mapping of names to values, not {type(options).__name__}.")
    fn, files = load_function(root, target, where)
    salt = {"source": files_hash(files), "options": dict(options)}
    built = _function_metric(fn, name, dict(options), where, root, salt)
    inside = tuple(root / path for path in files if not Path(path).is_absolute())
    return dataclasses.replace(built, sources=inside)


def plugin_entry(name: str, obj: Any) -> Metric:
    """What a package's ``promptarena.metrics`` entry point names: a ``Metric``, or a scorer function (plain or
    declared with ``@promptarena.metric``) called per case as a suite's own scorer is."""
    if isinstance(obj, Metric):
        return obj
    if callable(obj):
        return plugin_metric(name, obj)
    raise ConfigError(
        f"metric {name!r} of an installed package is a {type(obj).__name__}; its entry point must name a Metric "
        "or a scorer function."
    )


def plugin_metric(name: str, fn: Callable[..., Any]) -> Metric:
    """A scorer function that an installed package registers as a metric (entry point group promptarena.metrics)."""
    file = file_of(fn)
    module = getattr(fn, "__module__", None) or ""
    home = top_folder(file, module) if file else Path.cwd()
    salt = {"source": files_hash(source_files(file, module, None) if file else {})}
    return _function_metric(fn, name, {}, f"metric {name!r}", home, salt)


def _function_metric(
    fn: Callable[..., Any], name: str | None, options: dict[str, Any], where: str, root: Path, salt: Any
) -> Metric:
    """``fn`` as a Metric scored per case; its declared parameters and options checked now."""
    info: MetricInfo = getattr(fn, "__promptarena_metric__", None) or MetricInfo()
    at = place(fn, root)
    names = _parameters(fn, where, at)
    if options and "options" not in names:
        raise ConfigError(
            f"{where}: options: {at}: {name_of(fn)}() takes no `options` parameter; add one, or remove the options."
        )
    frozen = MappingProxyType(options)
    check = _Check(where, at, name_of(fn), info)

    def score(predictions: Sequence[Prediction], cases: Sequence[Case], _: Mapping[str, Any]) -> list[Score]:
        out = []
        for prediction, case in zip(predictions, cases, strict=True):
            given = {"answer": prediction.answer, "output": prediction.output, "case": case}
            given.update(prediction=prediction, options=frozen)
            try:
                value = fn(**{n: given[n] for n in names})
            except Exception as err:  # the scorer's own failure on this case: recorded as its error
                out.append(Score(None, error=_describe(err, root)))
                continue
            out.append(check(value, case))
        return out

    doc = (inspect.getdoc(fn) or "").strip().splitlines()
    return Metric(
        name=name or info.name or fn.__name__,
        description=info.description or (doc[0] if doc else f"{name_of(fn)} ({at})"),
        score=score,
        kind=info.kind,
        higher_is_better=info.higher_is_better,
        range=info.range,
        cache_salt=lambda _options, _context: salt,
    )


def _parameters(fn: Callable[..., Any], where: str, place: str) -> tuple[str, ...]:
    """The parameters ``fn`` declares among ``PARAMETERS`` (all of them for ``**kwargs``); others are bad input."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {place}: cannot read the parameters of {name_of(fn)}; make it a def.") from None
    names: list[str] = []
    for p in signature.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            return PARAMETERS
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if p.name in PARAMETERS and p.kind is not inspect.Parameter.POSITIONAL_ONLY:
            names.append(p.name)
        elif p.default is inspect.Parameter.empty:
            raise ConfigError(
                f"{where}: {place}: {name_of(fn)}() asks for {p.name!r}; a scorer's parameters are named "
                f"{', '.join(PARAMETERS)} (any of them, in any order, passed by name)."
            )
    if not names:
        raise ConfigError(
            f"{where}: {place}: {name_of(fn)}() takes none of {', '.join(PARAMETERS)}; declare the ones it scores, "
            "for example `def politeness(output):`."
        )
    return tuple(names)


class _Check:
    """Turns what a scorer returned for one case into a Score; a value of the wrong type is bad input."""

    def __init__(self, where: str, place: str, name: str, info: MetricInfo) -> None:
        self.where, self.place, self.name, self.info = where, place, name, info

    def __call__(self, value: Any, case: Case) -> Score:
        reason: Any = None
        if isinstance(value, Score):
            if value.error is not None:  # the scorer says itself that this case could not be scored
                return Score(None, value.reason, str(value.error))
            value, reason = value.value, value.reason
        elif isinstance(value, tuple) and len(value) == 2:
            value, reason = value
        number = _number(value)
        if number is _WRONG:
            self._refuse(case, f"{type(value).__name__} {_short(value)}", _FIX)
        if number is not None:
            if self.info.kind == "binary" and number not in (0.0, 1.0):
                self._refuse(case, _short(value), "it is declared kind='binary': return True/False or 1/0")
            low, high = self.info.range or (-math.inf, math.inf)
            if not low <= number <= high:
                self._refuse(case, _short(value), f"it is declared range=({low:g}, {high:g})")
        if reason is not None and not isinstance(reason, str):
            reason = str(reason)
        return Score(number, reason or None)  # type: ignore[arg-type]

    def _refuse(self, case: Case, what: str, fix: str) -> None:
        at = case.meta.get("where")
        raise ConfigError(
            f"{self.where}: {self.place}: {self.name}() returned {what} for case {case.id!r}"
            f"{f' ({at})' if at else ''}; {fix}."
        )


_WRONG = object()


def _number(value: Any) -> Any:
    """A returned value as a float (``None`` stays ``None``); ``_WRONG`` for anything else, NaN included."""
    if value is None:
        return None
    if type(value).__module__ == "numpy" and hasattr(value, "item"):  # numpy's scalars, its bool_ included
        value = value.item()
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real) and math.isfinite(float(value)):
        return float(value)
    return _WRONG


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(err: Exception, root: Path) -> str:
    """A case's error: the exception, its message and the line of the scorer's code that raised it."""
    frame = user_frame(err.__traceback__, root)
    message = f"{type(err).__name__}: {err}".strip().rstrip(":")
    if len(message) > _ERROR_CHARS:
        message = message[: _ERROR_CHARS - 3] + "..."
    return f"{message} ({frame})" if frame else message
