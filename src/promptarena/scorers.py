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

import ast
import difflib
import hashlib
import importlib
import importlib.util
import inspect
import keyword
import math
import numbers
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any, Literal, TypeVar

from promptarena.errors import ConfigError, did_you_mean
from promptarena.hashing import content_hash
from promptarena.metrics import FactoryContext, Metric, Score
from promptarena.types import Case, Prediction

__all__ = ["PARAMETERS", "MetricInfo", "metric", "plugin_metric", "python_metric", "source_files"]

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
    salt = {"source": _files_hash(files), "options": dict(options)}
    return _function_metric(fn, name, dict(options), where, root, salt)


def plugin_metric(name: str, fn: Callable[..., Any]) -> Metric:
    """A scorer function that an installed package registers as a metric (entry point group promptarena.metrics)."""
    file = _file_of(fn)
    module = getattr(fn, "__module__", None) or ""
    home = _top_folder(file, module) if file else Path.cwd()
    salt = {"source": _files_hash(source_files(file, module, None) if file else {})}
    return _function_metric(fn, name, {}, f"metric {name!r}", home, salt)


def _function_metric(
    fn: Callable[..., Any], name: str | None, options: dict[str, Any], where: str, root: Path, salt: Any
) -> Metric:
    """``fn`` as a Metric scored per case; its declared parameters and options checked now."""
    info: MetricInfo = getattr(fn, "__promptarena_metric__", None) or MetricInfo()
    place = _place(fn, root)
    names = _parameters(fn, where, place)
    if options and "options" not in names:
        raise ConfigError(
            f"{where}: options: {place}: {_name(fn)}() takes no `options` parameter; add one, or remove the options."
        )
    frozen = MappingProxyType(options)
    check = _Check(where, place, _name(fn), info)

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
        description=info.description or (doc[0] if doc else f"{_name(fn)} ({place})"),
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
        raise ConfigError(f"{where}: {place}: cannot read the parameters of {_name(fn)}; make it a def.") from None
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
                f"{where}: {place}: {_name(fn)}() asks for {p.name!r}; a scorer's parameters are named "
                f"{', '.join(PARAMETERS)} (any of them, in any order, passed by name)."
            )
    if not names:
        raise ConfigError(
            f"{where}: {place}: {_name(fn)}() takes none of {', '.join(PARAMETERS)}; declare the ones it scores, "
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
    frame = _user_frame(err.__traceback__, root)
    message = f"{type(err).__name__}: {err}".strip().rstrip(":")
    if len(message) > _ERROR_CHARS:
        message = message[: _ERROR_CHARS - 3] + "..."
    return f"{message} ({frame})" if frame else message


# --- loading the function --------------------------------------------------------------------------------

_OWN_NAME = "promptarena_scorer_"
_MODULES: dict[tuple[str, str], tuple[str, ModuleType]] = {}
"""(repository, target) -> (its source hash, the module executed): an unchanged scorer is not executed again."""
_LOADED: set[str] = set()
"""Names of the repository modules that scorers' imports brought into ``sys.modules``, dropped before the next
load so that another repository (or an edited file) is imported afresh, never a stale module of the same name."""


def load_function(root: Path, target: str, where: str) -> tuple[Callable[..., Any], dict[str, bytes]]:
    """The function ``target`` names (``FILE:FUNCTION`` or ``MODULE:FUNCTION``) and the source files it rests on.

    Raises:
        ConfigError: naming ``where`` and the user's file and line, for a missing file, module or function,
            code that fails to import (a SyntaxError too), or a name that is not a function.
    """
    module_part, _, attr = target.partition(":")
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        file = _repository_file(root, module_part, where)
        module_name = _module_name(file.relative_to(root))
    else:
        file = _module_file(root, module_part, where)
        module_name = module_part
    files = source_files(file, module_name, root)
    module = _load(root, target, file, module_name, _files_hash(files), where)
    display = _display(file, root)
    fn = getattr(module, attr, None)
    if fn is None:
        functions = [
            n
            for n, v in vars(module).items()
            if inspect.isfunction(v) and v.__module__ == module.__name__ and not n.startswith("_")
        ]
        near = difflib.get_close_matches(attr, functions, n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]} at {_place(vars(module)[near[0]], root)}?)" if near else ""
        raise ConfigError(
            f"{where}: {display}: there is no function {attr!r}{hint}; its functions: {', '.join(functions) or 'none'}."
        )
    if not callable(fn):
        raise ConfigError(f"{where}: {display}: {attr!r} is a {type(fn).__name__}, not a function; name a function.")
    return fn, files


def _repository_file(root: Path, relative: str, where: str) -> Path:
    """The scorer file a path in a suite names: inside the repository, and there."""
    file = (root / relative).resolve()
    if not file.is_relative_to(root):
        raise ConfigError(f"{where}: python: {relative} is outside the repository; name a file inside it.")
    if not file.is_file():
        folder = file.parent
        near = [p.relative_to(root).as_posix() for p in folder.glob("*.py")] if folder.is_dir() else []
        raise ConfigError(
            f"{where}: python: {relative} does not exist{did_you_mean(relative, near)}; give a path relative to "
            "the repository's top folder (`python: evals/scorers.py:politeness`) or an importable module "
            "(`python: mypkg.scorers:politeness`)."
        )
    return file


def _module_name(relative: Path) -> str:
    """The dotted name of a file in the repository (``evals.scorers``), so its relative imports work; a file
    whose path is no dotted name gets a name of its own."""
    parts = [*relative.parts[:-1], relative.stem]
    if all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        return ".".join(parts)
    return _OWN_NAME + hashlib.sha256(relative.as_posix().encode()).hexdigest()[:12]


def _module_file(root: Path, name: str, where: str) -> Path:
    """The file of an importable module, found from the repository's top folder first (without running it)."""
    if not all(p.isidentifier() for p in name.split(".")):
        raise ConfigError(f"{where}: python: {name!r} is neither a file (`evals/scorers.py`) nor a module name.")
    found = _resolve(name, [root])
    if found is not None:
        return found
    _on_path(root)
    try:
        spec = importlib.util.find_spec(name)  # imports the packages it is in
    except ModuleNotFoundError:
        spec = None
    except Exception as err:
        at = _user_frame(err.__traceback__, root) or name
        raise ConfigError(
            f"{where}: {at}: importing {name} failed: {type(err).__name__}: {err}; fix the code "
            "(or install the package it imports)."
        ) from None
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        raise ConfigError(
            f"{where}: python: no module {name!r} can be imported from the repository's top folder ({root}); "
            "give a path to its file (`python: evals/scorers.py:politeness`) or install the package that has it."
        )
    return Path(spec.origin).resolve()


def _load(root: Path, target: str, file: Path, name: str, source: str, where: str) -> ModuleType:
    """Execute the module (again only when its source changed), its repository imports afresh."""
    key = (str(root), target.partition(":")[0])
    cached = _MODULES.get(key)
    if cached is not None and cached[0] == source:
        return cached[1]
    stale = _LOADED | {n for n in _prefixes(name) if _from_repository(sys.modules.get(n), root)}
    for old in stale:
        sys.modules.pop(old, None)
    _LOADED.clear()
    _on_path(root)
    importlib.invalidate_caches()
    before = set(sys.modules)
    try:
        if name.startswith(_OWN_NAME):  # a file whose path is no dotted name: loaded from its path
            spec = importlib.util.spec_from_file_location(name, file)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(name)
    except SyntaxError as err:
        at = f"{_display(Path(err.filename), root)}:{err.lineno}" if err.filename else _display(file, root)
        raise ConfigError(f"{where}: {at}: {target} does not compile: SyntaxError: {err.msg}; fix the code.") from None
    except Exception as err:
        at = _user_frame(err.__traceback__, root) or _display(file, root)
        raise ConfigError(
            f"{where}: {at}: importing {target} failed: {type(err).__name__}: {err}; fix the code "
            "(or install the package it imports)."
        ) from None
    finally:
        new = set(sys.modules) - before
        _LOADED.update(n for n in new if n.startswith(_OWN_NAME) or _from_repository(sys.modules.get(n), root))
    _MODULES[key] = (source, module)
    return module


def _on_path(root: Path) -> None:
    """The repository's top folder first on ``sys.path``: scorers import its modules as `python -m` would."""
    folder = str(root)
    if folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)


def _from_repository(module: ModuleType | None, root: Path) -> bool:
    """Whether a module was loaded from the repository's own files (not from an installed package)."""
    if module is None:
        return False
    file = getattr(module, "__file__", None)
    places = [file] if file else list(getattr(module, "__path__", None) or [])
    return bool(places) and all(_in_repository(Path(p), root) for p in places)


def _in_repository(path: Path, root: Path) -> bool:
    """Inside the repository, and not in a virtual environment or promptarena's own sources found there."""
    path = path.resolve()
    own = Path(__file__).resolve().parent
    return (
        path.is_relative_to(root)
        and not path.is_relative_to(Path(sys.prefix).resolve())
        and not path.is_relative_to(own)
        and "site-packages" not in path.parts
    )


# --- the source a scorer rests on ------------------------------------------------------------------------


def source_files(file: Path, module: str, root: Path | None) -> dict[str, bytes]:
    """The scorer's file and the files of the modules it imports, transitively, by their paths: each module of an
    ``import`` or ``from ... import`` (in a function too, relative ones included) that is a file of the repository
    (under ``root``) or of the scorer's own top package, with the ``__init__.py`` of its packages. Read
    statically: nothing is executed, and installed packages are left out."""
    top, home = module.split(".")[0], _top_folder(file, module)

    def resolve(name: str) -> Path | None:
        found = _resolve(name, [root]) if root is not None else None
        return found if found is not None or name.split(".")[0] != top else _resolve(name, [home])

    todo = [(Path(file).resolve(), module)]
    todo.extend((found, prefix) for prefix in _prefixes(module)[:-1] if (found := resolve(prefix)) is not None)
    seen: dict[Path, bytes] = {}
    while todo:
        path, name = todo.pop()
        if path in seen:
            continue
        seen[path] = data = path.read_bytes()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        try:
            tree = ast.parse(data)
        except (SyntaxError, ValueError):
            continue  # loading it says what is wrong
        for imported in _imports(tree, package):
            for prefix in _prefixes(imported):
                if (found := resolve(prefix)) is not None and found not in seen:
                    todo.append((found, prefix))
    base = root if root is not None else home
    return {(p.relative_to(base).as_posix() if p.is_relative_to(base) else str(p)): data for p, data in seen.items()}


def _imports(tree: ast.AST, package: str) -> list[str]:
    """The absolute names of the modules a module's code imports (and of the names ``from`` imports take)."""
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 > len(parts):
                    continue
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            if base:
                out.append(base)
                out.extend(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return out


def _prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _resolve(name: str, roots: Sequence[Path]) -> Path | None:
    """The file of module ``name`` under one of ``roots`` (``a/b.py`` or ``a/b/__init__.py``), or None."""
    if not name or not all(p.isidentifier() for p in name.split(".")):
        return None
    for root in roots:
        base = Path(root, *name.split("."))
        for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate.resolve()
    return None


def _files_hash(files: Mapping[str, bytes]) -> str:
    """One hash of the files' contents, each under its path (relative, so a clone elsewhere keys the same)."""
    return content_hash({path: hashlib.sha256(data).hexdigest() for path, data in sorted(files.items())})


def _top_folder(file: Path, module: str) -> Path:
    """The folder that a module's top package (or the module itself) lies in: where its imports resolve from."""
    depth = len(module.split(".")) if module else 1
    folder = Path(file).resolve().parent
    if Path(file).name == "__init__.py":
        folder = folder.parent
    for _ in range(depth - 1):
        folder = folder.parent
    return folder


# --- places for messages ---------------------------------------------------------------------------------


def _display(path: Path, root: Path) -> str:
    path = Path(path).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _file_of(fn: Callable[..., Any]) -> Path | None:
    code = getattr(inspect.unwrap(fn), "__code__", None)
    return Path(code.co_filename).resolve() if code is not None and Path(code.co_filename).is_file() else None


def _place(fn: Callable[..., Any], root: Path) -> str:
    """``evals/scorers.py:12``: where the function is defined (relative to the repository when inside it)."""
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        return _name(fn)
    return f"{_display(Path(code.co_filename), root)}:{code.co_firstlineno}"


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


def _user_frame(tb: Any, root: Path) -> str | None:
    """``file:line`` of the innermost frame in the repository's code (else the innermost outside promptarena)."""
    frames = [f for f in traceback.extract_tb(tb) if not f.filename.startswith("<")]
    own = str(Path(__file__).resolve().parent)
    ours = [f for f in frames if _in_repository(Path(f.filename), root)]
    theirs = [f for f in frames if not str(Path(f.filename).resolve()).startswith(own)]
    frame = (ours or theirs or [None])[-1]
    return f"{_display(Path(frame.filename), root)}:{frame.lineno}" if frame else None
