"""Read YAML safely and keep each value's line, so that errors can say `file:line: field`."""

from __future__ import annotations

import re
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
        self.root = root
        self._offset = first_line - 1

    def line(self, loc: Sequence[str | int], key: bool = False) -> int:
        """The 1-based line of the value at ``loc`` (of its key, with ``key``), or of its closest parent that exists.

        A nested mapping's value starts on the line after its key: errors about the whole mapping name the key.
        """
        node = self.root
        line = node.start_mark.line if node is not None else 0
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
                if match is None:
                    break
                line, node = (match[0] if key else match[1]).start_mark.line, match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line
            else:
                break
        return line + 1 + self._offset


def parse_yaml(text: str, source: str, first_line: int = 1) -> Located:
    """Parse with the safe loader only; a syntax error, an unsafe tag or a duplicated key names the file and line."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            check_unique_keys(root, source, first_line)
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = (mark.line + first_line) if mark else first_line
        problem = err.problem or "invalid YAML"
        if "could not determine a constructor" in problem:
            tag = problem.rsplit(" ", 1)[-1].strip("'").replace("tag:yaml.org,2002:", "!!")
            problem = f"the tag {tag} is not allowed (only plain YAML is read)"
        raise ConfigError(f"{source}:{line}: {problem}; fix the YAML there.") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: invalid YAML ({err}); fix the file.") from None
    finally:
        loader.dispose()
    return Located(source, root, data, first_line)


def check_unique_keys(root: yaml.Node, source: str, first_line: int = 1) -> None:
    """A key written twice in one mapping is an error: YAML loaders silently keep the last one."""
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:  # an alias repeats a node already checked
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = key.start_mark.line + first_line
                    if (key.tag, key.value) in first:
                        raise ConfigError(
                            f"{source}:{line}: duplicate key {key.value!r} (first at line "
                            f"{first[(key.tag, key.value)]}); keep one of them."
                        )
                    first[(key.tag, key.value)] = line
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def read_text(path: Path, display: str | None = None) -> str:
    """A text file's content; a byte that is not UTF-8 is named by line and column."""
    source = display or str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such file; check the path.") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a folder, not a file; check the path.") from None
    return decode_text(data, source)


def decode_text(data: bytes, source: str, fix: str = "save the file as UTF-8") -> str:
    """A file's bytes as text; a byte that is not UTF-8 is named by line and column, in the worktree or a commit
    (``fix`` says what to do about it there)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        byte = data[err.start]
        raise ConfigError(f"{source}:{line}: not UTF-8 (byte 0x{byte:02x} at column {column}); {fix}.") from None


def read_yaml(path: Path, display: str | None = None) -> Located:
    source = display or str(path)
    return parse_yaml(read_text(path, source), source)


_TYPE_NAMES = {"str", "int", "float", "bool", "dict", "list"}


def format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_error(
    doc: Located, err: ValidationError, known: dict[str, list[str]] | None = None, at: Sequence[str | int] = ()
) -> ConfigError:
    """Turn pydantic's first error into one sentence with file, line and field, and a near name if any.

    ``at`` is where the validated value sits in the document, when it is not the whole document. ``known`` maps
    a field's parent (``parameters``; ``cases[]`` for every item of a list) to the names allowed there.
    """

    def clean(loc: Sequence[str | int]) -> list[str | int]:
        # union members appear in locations under their type's name ("str", "list[CaseModel]")
        return [
            p for p in loc if not (isinstance(p, str) and ("[" in p or p in _TYPE_NAMES or p.startswith("function-")))
        ]

    # the deepest error is the most specific one (a union reports one error per member)
    first = max(err.errors(), key=lambda e: len(clean(e["loc"])))
    loc = [*at, *clean(first["loc"])]
    field = format_loc(loc) or "(top level)"
    message = first["msg"]
    hint = ""
    if first["type"] == "extra_forbidden" and loc:
        parent = format_loc(loc[:-1])
        any_item = re.sub(r"\[\d+\]", "[]", parent)
        choices = (known or {}).get(parent) or (known or {}).get(any_item, [])
        hint = did_you_mean(str(loc[-1]), choices)
        message = "unknown field"
    return ConfigError(f"{doc.source}:{doc.line(loc)}: {field}: {message}{hint}.")
