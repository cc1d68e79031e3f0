"""A small registry for the things users add: metrics, variants, backends, answer extractors, and more.

Each registry maps names to objects. An entry may be lazy: a ``"module:attr"`` string, or an installed
package's entry point (``importlib.metadata.EntryPoint``), imported on first use. A registry with a
``group`` also holds the entry points that installed packages declare in that group (``promptarena.metrics``,
``promptarena.backends``, ...): they are read once, only when a name is not found or the names are listed,
so importing promptarena never scans the installed packages, and a plugin's module is imported only when a
suite names it. A name registered here (a built-in) keeps its place; a plugin cannot replace it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from promptarena.errors import ConfigError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects; entries may be lazy ``"module:attr"`` strings or entry points, imported on first use.

    Args:
        kind: What the entries are, for messages (``"metric"``).
        group: The entry-point group that installed packages add entries through (``"promptarena.metrics"``).
        adapt: Turns what a plugin's entry point loads into an entry (a scorer function into a ``Metric``);
            gets the name and the loaded object, may raise ``ConfigError``; a ``"module:attr"`` string is
            imported on first use, as entries are.
    """

    def __init__(self, kind: str, group: str | None = None, adapt: Callable[[str, Any], T] | str | None = None) -> None:
        self.kind = kind
        self.group = group
        self._adapt = adapt
        self._entries: dict[str, T | str | Any] = {}
        self._plugins_read = group is None

    def register(self, name: str, obj: T | str | Any) -> None:
        """Add ``obj`` (or a lazy ``"module:attr"`` string, or an ``EntryPoint``) as ``name``."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = obj

    @contextmanager
    def added(self, name: str, obj: T | str | Any) -> Iterator[None]:
        """``name`` registered while the block runs, and gone after it (for tests and short-lived additions)."""
        self.register(name, obj)
        try:
            yield
        finally:
            self._entries.pop(name, None)

    def decorator(self, name: str) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            self.register(name, obj)
            return obj

        return wrap

    def get(self, name: str) -> T:
        if name not in self._entries:
            self._read_plugins()
        try:
            entry = self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise ConfigError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, self._entries)}; known: {known}."
            ) from None
        if isinstance(entry, str):
            entry = self._entries[name] = _imported(entry)
        elif _is_entry_point(entry):
            entry = self._load_plugin(name, entry)
            self._entries[name] = entry
        return entry  # type: ignore[return-value]

    def __contains__(self, name: object) -> bool:
        if name not in self._entries:
            self._read_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def names(self) -> list[str]:
        self._read_plugins()
        return sorted(self._entries)

    def _read_plugins(self) -> None:
        """Add the entry points of installed packages in this registry's group, once."""
        if self._plugins_read:
            return
        self._plugins_read = True
        from importlib.metadata import entry_points

        for point in entry_points(group=self.group):  # type: ignore[arg-type]
            self._entries.setdefault(point.name, point)

    def _load_plugin(self, name: str, point: Any) -> T:
        """Import an entry point's object; a package that fails to load is bad input naming the package."""
        dist = f"{point.dist.name} {point.dist.version}" if point.dist else "an installed package"
        try:
            obj = point.load()
        except Exception as err:
            raise ConfigError(
                f"{self.kind} {name!r} comes from {dist} (entry point `{point.value}` in group {point.group}), "
                f"which fails to load: {type(err).__name__}: {err}; fix or reinstall that package, or uninstall it."
            ) from None
        if isinstance(self._adapt, str):
            self._adapt = _imported(self._adapt)
        return self._adapt(name, obj) if self._adapt else obj


def _imported(target: str) -> Any:
    """The object a ``"module:attr"`` string names, its module imported now."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _is_entry_point(entry: object) -> bool:
    """Whether ``entry`` is an ``importlib.metadata.EntryPoint`` (one exists only once that module is imported)."""
    metadata = sys.modules.get("importlib.metadata")
    return metadata is not None and isinstance(entry, metadata.EntryPoint)
