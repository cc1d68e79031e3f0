"""Code of the user's: a function loaded from the repository (or an installed module), the source files it rests
on, and where in them something is, for messages.

The repository's top folder goes first on ``sys.path``, so a scorer imports the repository's modules as
`python -m` run there would. A module is executed again only when its source changed; the repository modules
that an earlier load imported are dropped from ``sys.modules`` first, so another repository (a test's), or an
edited helper, is never served from a stale module of the same name. The source a scorer rests on is read
statically (``ast``): its file, and the files of the repository's modules it imports, transitively.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import importlib
import importlib.util
import inspect
import keyword
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from promptarena.errors import ConfigError, did_you_mean
from promptarena.hashing import content_hash

__all__ = [
    "display",
    "file_of",
    "files_hash",
    "load_function",
    "name_of",
    "place",
    "source_files",
    "top_folder",
    "user_frame",
]

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
    module = _load(root, target, file, module_name, files_hash(files), where)
    shown = display(file, root)
    fn = getattr(module, attr, None)
    if fn is None:
        functions = [
            n
            for n, v in vars(module).items()
            if inspect.isfunction(v) and v.__module__ == module.__name__ and not n.startswith("_")
        ]
        near = difflib.get_close_matches(attr, functions, n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]} at {place(vars(module)[near[0]], root)}?)" if near else ""
        raise ConfigError(
            f"{where}: {shown}: there is no function {attr!r}{hint}; its functions: {', '.join(functions) or 'none'}."
        )
    if not callable(fn):
        raise ConfigError(f"{where}: {shown}: {attr!r} is a {type(fn).__name__}, not a function; name a function.")
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
        at = user_frame(err.__traceback__, root) or name
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
        at = f"{display(Path(err.filename), root)}:{err.lineno}" if err.filename else display(file, root)
        raise ConfigError(f"{where}: {at}: {target} does not compile: SyntaxError: {err.msg}; fix the code.") from None
    except Exception as err:
        at = user_frame(err.__traceback__, root) or display(file, root)
        raise ConfigError(
            f"{where}: {at}: importing {target} failed: {type(err).__name__}: {err}; fix the code "
            "(or install the package it imports)."
        ) from None
    finally:
        new = set(sys.modules) - before
        _LOADED.update(n for n in new if n.startswith(_OWN_NAME) or _from_repository(sys.modules.get(n), root))
    _MODULES[key] = (source, module)
    return module


_ON_PATH: list[str] = []
"""A repository folder that was put on ``sys.path`` here, taken off again when another one's scorer loads, so
that no other repository answers an import (a folder that was on the path before stays)."""


def _on_path(root: Path) -> None:
    """The repository's top folder first on ``sys.path``: scorers import its modules as `python -m` would."""
    folder = str(root)
    for added in _ON_PATH:
        if added != folder and added in sys.path:
            sys.path.remove(added)
    ours = folder in _ON_PATH or folder not in sys.path
    _ON_PATH[:] = [folder] if ours else []
    if folder in sys.path:
        sys.path.remove(folder)  # moved to the front
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
    top, home = module.split(".")[0], top_folder(file, module)

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


def files_hash(files: Mapping[str, bytes]) -> str:
    """One hash of the files' contents, each under its path (relative, so a clone elsewhere keys the same)."""
    return content_hash({path: hashlib.sha256(data).hexdigest() for path, data in sorted(files.items())})


def top_folder(file: Path, module: str) -> Path:
    """The folder that a module's top package (or the module itself) lies in: where its imports resolve from."""
    depth = len(module.split(".")) if module else 1
    folder = Path(file).resolve().parent
    if Path(file).name == "__init__.py":
        folder = folder.parent
    for _ in range(depth - 1):
        folder = folder.parent
    return folder


# --- places for messages ---------------------------------------------------------------------------------


def display(path: Path, root: Path) -> str:
    path = Path(path).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def file_of(fn: Callable[..., Any]) -> Path | None:
    code = getattr(inspect.unwrap(fn), "__code__", None)
    return Path(code.co_filename).resolve() if code is not None and Path(code.co_filename).is_file() else None


def place(fn: Callable[..., Any], root: Path) -> str:
    """``evals/scorers.py:12``: where the function is defined (relative to the repository when inside it)."""
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        return name_of(fn)
    return f"{display(Path(code.co_filename), root)}:{code.co_firstlineno}"


def name_of(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


def user_frame(tb: Any, root: Path) -> str | None:
    """``file:line`` of the innermost frame in the repository's code (else the innermost outside promptarena)."""
    frames = [f for f in traceback.extract_tb(tb) if not f.filename.startswith("<")]
    own = str(Path(__file__).resolve().parent)
    ours = [f for f in frames if _in_repository(Path(f.filename), root)]
    theirs = [f for f in frames if not str(Path(f.filename).resolve()).startswith(own)]
    frame = (ours or theirs or [None])[-1]
    return f"{display(Path(frame.filename), root)}:{frame.lineno}" if frame else None
