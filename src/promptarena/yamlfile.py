"""Read YAML safely and keep each value's line, so that errors can say `file:line: field`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from promptarena.errors import ConfigError, did_you_mean


class Located:
    """A parsed YAML document plus the line of every value in it."""

    def __init__(self, source: str, root: yaml.Node | None, data: Any, first_line: int = 1) -> None:
        self.source = source
        self.data = data
        self._root = root
        self._offset = first_line - 1

    def line(self, loc: Sequence[str | int]) -> int:
        """The 1-based line of the value at ``loc``, or of its closest parent that exists."""
        node = self._root
        line = node.start_mark.line if node is not None else 0
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                match = next((v for k, v in node.value if k.value == str(part)), None)
                if match is None:
                    break
                node = match
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
            else:
                break
            line = node.start_mark.line
        return line + 1 + self._offset

    def key_line(self, loc: Sequence[str | int]) -> int:
        return self.line(loc)


def parse_yaml(text: str, source: str, first_line: int = 1) -> Located:
    """Parse with the safe loader only; a syntax error or an unsafe tag names the file and line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = (mark.line + first_line) if mark else first_line
        problem = err.problem or "invalid YAML"
        if "could not determine a constructor" in problem:
            problem = f"the tag {problem.split('tag')[-1].strip()} is not allowed (only plain YAML is read)"
        raise ConfigError(f"{source}:{line}: {problem}; fix the YAML there.") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: invalid YAML ({err}); fix the file.") from None
    return Located(source, root, data, first_line)


def read_yaml(path: Path, display: str | None = None) -> Located:
    source = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such file; check the path.") from None
    return parse_yaml(text, source)


_TYPE_NAMES = {"str", "int", "float", "bool", "dict", "list"}


def format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_error(doc: Located, err: ValidationError, known: dict[str, list[str]] | None = None) -> ConfigError:
    """Turn pydantic's first error into one sentence with file, line and field, and a near name if any."""

    def clean(loc: Sequence[str | int]) -> list[str | int]:
        # union members appear in locations under their type's name ("str", "list[CaseModel]")
        return [
            p for p in loc if not (isinstance(p, str) and ("[" in p or p in _TYPE_NAMES or p.startswith("function-")))
        ]

    # the deepest error is the most specific one (a union reports one error per member)
    first = max(err.errors(), key=lambda e: len(clean(e["loc"])))
    loc = clean(first["loc"])
    field = format_loc(loc) or "(top level)"
    message = first["msg"]
    hint = ""
    if first["type"] == "extra_forbidden" and loc:
        parent = format_loc(loc[:-1])
        choices = (known or {}).get(parent, [])
        hint = did_you_mean(str(loc[-1]), choices)
        message = "unknown field"
    return ConfigError(f"{doc.source}:{doc.line(loc)}: {field}: {message}{hint}.")
