"""A suite's cases: an inline list, or a case file whose columns map to the template's variables and the references.

A case file is JSON Lines or CSV. A JSONL line is either a case as a suite writes it (``{"id", "vars",
"reference"}``) or a flat row, read like a CSV row. `cases: {file, id, reference, vars}` names the columns of
flat rows that hold the id, the reference(s) and the variables; by default `id`, `reference` and every other
column. See docs/suite-format.md.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptarena.errors import ConfigError, did_you_mean
from promptarena.hashing import content_hash, file_sha256
from promptarena.tools import EXPECTED_CALLS, calls_meta
from promptarena.types import Assertion, Case, Message
from promptarena.yamlfile import Located, format_loc, read_text, validation_error

if TYPE_CHECKING:
    from promptarena.metrics import Metric
    from promptarena.promptfile import PromptFile
    from promptarena.suite import Suite


class MessageModel(BaseModel):
    """One message of a case's `messages:`: a role and its text (a template, like the prompt's sections)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["system", "user", "assistant"]
    content: str


class CaseModel(BaseModel):
    """One case as a suite's inline list or a nested JSONL line writes it."""

    model_config = ConfigDict(extra="forbid")

    id: str | int | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    reference: str | int | float | None = None
    references: list[str | int | float] | None = None
    rubric: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    assertions: list[Any] = Field(default_factory=list, alias="assert")
    messages: list[MessageModel] | None = None
    turns: list[str] | None = Field(None, strict=True)
    expected_calls: list[Any] | dict[str, Any] | None = None


_CASE_KEYS = {f.alias or name for name, f in CaseModel.model_fields.items()}
"""The keys of a case as the suite writes it (``assert``, not the field's name)."""


class CaseFileModel(BaseModel):
    """`cases:` as a mapping: the case file and the columns that hold the id, the reference(s), the variables and
    each case's rubric."""

    model_config = ConfigDict(extra="forbid")

    file: str
    id: str | None = None
    reference: str | list[str] | None = None
    vars: list[str] | None = None
    assertions: str | None = Field(None, alias="assert")
    rubric: str | None = None


@dataclass(frozen=True)
class Columns:
    """The columns a suite maps (``None``: the default), and where in the suite each is named, for messages."""

    id: str | None = None
    reference: tuple[str, ...] | None = None
    vars: tuple[str, ...] | None = None
    rubric: str | None = None
    at: Mapping[str, str] = field(default_factory=dict)
    assertions: str | None = None  # the column of a row's `assert:` list (JSON in a CSV cell); default `assert`

    @property
    def mapped(self) -> bool:
        return bool(self.at)


@dataclass(frozen=True)
class CaseSet:
    """The loaded cases, their file (``None`` when inline), the hash that identifies them, and the `cases:` line."""

    cases: tuple[Case, ...]
    file: Path | None
    hash: str
    where: str


def load_cases(doc: Located, cases: str | list[CaseModel] | dict[str, Any], suite_path: Path) -> CaseSet:
    """The suite's cases, checked: every error names the suite or case file, the line and the fix."""
    where = f"{doc.source}:{doc.line(['cases'], key=True)}"
    if isinstance(cases, list):
        built = [_case_from(m, i, f"{doc.source}:{doc.line(['cases', i])}") for i, m in enumerate(cases)]
        return CaseSet(_checked(doc, built), None, content_hash([_hashed(c) for c in built]), where)
    spec, columns = _columns(doc, cases)
    path = (suite_path.parent / spec.file).resolve()
    display = str(Path(doc.source).parent / spec.file)
    rows, header = _read_rows(path, display)
    if columns.mapped:
        _check_mapped(rows, header, columns, display)
    built = [_row_case(row, f"{display}:{line}", i, columns, header is None) for i, (row, line) in enumerate(rows)]
    return CaseSet(_checked(doc, built), path, file_sha256(str(path)), where)


def _hashed(case: Case) -> dict[str, Any]:
    """A case's fields as its hash holds them: a conversation only when it has one, so older hashes stay valid."""
    return {k: v for k, v in case.__dict__.items() if v or k not in ("messages", "turns")}


def case_file_name(cases: Any) -> str | None:
    """The case file `cases:` names, relative to the suite's folder: the path, or a mapping's `file`; None when
    the cases are inline (or `cases:` names no file)."""
    name = cases.get("file") if isinstance(cases, dict) else cases
    return name if isinstance(name, str) else None


def _columns(doc: Located, cases: str | dict[str, Any]) -> tuple[CaseFileModel, Columns]:
    """The case file and its column mapping; a mapping's error names the suite's line and a near field."""
    if isinstance(cases, str):
        return CaseFileModel(file=cases), Columns()
    try:
        spec = CaseFileModel.model_validate(cases)
    except ValidationError as err:
        known = [f.alias or name for name, f in CaseFileModel.model_fields.items()]
        raise validation_error(doc, err, {"cases": known}, at=["cases"]) from None
    reference = [spec.reference] if isinstance(spec.reference, str) else spec.reference
    if reference == []:
        raise ConfigError(f"{doc.source}:{doc.line(['cases', 'reference'])}: cases.reference: name a column.")
    given = [key for key in ("id", "reference", "vars", "rubric") if getattr(spec, key) is not None]
    given += ["assert"] if spec.assertions is not None else []
    at = {key: f"{doc.source}:{doc.line(['cases', key])}" for key in given}
    columns = Columns(
        id=spec.id,
        reference=tuple(reference) if reference is not None else None,
        vars=tuple(spec.vars) if spec.vars is not None else None,
        rubric=spec.rubric,
        at=at,
        assertions=spec.assertions,
    )
    return spec, columns


def _read_rows(path: Path, display: str) -> tuple[list[tuple[dict[str, Any], int]], list[str] | None]:
    """The file's rows with their line numbers, and a CSV file's header (``None`` for JSONL)."""
    if not path.is_file():
        raise ConfigError(f"{display}: case file not found; create it or fix `cases:` in the suite.")
    text = read_text(path, display).removeprefix("\ufeff")
    rows: list[tuple[dict[str, Any], int]] = []
    if path.suffix == ".jsonl":
        # JSON Lines ends a line at \n only: U+2028 or U+0085 inside a string is text, not a line break.
        for n, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise ConfigError(f"{display}:{n}: invalid JSON ({err.msg}); fix that line.") from None
            if not isinstance(obj, dict):
                raise ConfigError(f"{display}:{n}: each line must be a JSON object (a case or a row of columns).")
            rows.append((obj, n))
        return rows, None
    if path.suffix != ".csv":
        raise ConfigError(f"{display}: cases must be a .jsonl or .csv file.")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    twice = next((name for i, name in enumerate(header) if name in header[:i]), None)
    if twice is not None:
        raise ConfigError(f"{display}:1: the column {twice!r} appears twice in the header; rename one.")
    for rec in reader:
        where = f"{display}:{reader.line_num}"
        if None in rec:
            raise ConfigError(f"{where}: the row has more fields than the header; quote values that hold a comma.")
        short = next((name for name, value in rec.items() if value is None), None)
        if short is not None:
            raise ConfigError(f"{where}: the row ends before column {short!r}; give every column a value.")
        rows.append((dict(rec), reader.line_num))
    return rows, header


def _check_mapped(
    rows: list[tuple[dict[str, Any], int]], header: list[str] | None, columns: Columns, display: str
) -> None:
    """A mapped file's rows are flat, and each mapped column is in the file (CSV: its header; JSONL: some row)."""
    if header is None:
        nested = next((line for row, line in rows if "vars" in row), None)
        if nested is not None:
            raise ConfigError(
                f"{display}:{nested}: the row nests its variables under `vars`, which the column mapping of "
                "`cases:` does not read; write the row's columns flat, or give `cases:` just the file name."
            )
    names = header if header is not None else list(dict.fromkeys(k for row, _ in rows for k in row))
    line = rows[0][1] if header is None and rows else 1
    _require(dict.fromkeys(names), columns, f"{display}:{line}", ("id", "reference", "vars", "assert", "rubric"))


def _require(row: Mapping[str, Any], columns: Columns, where: str, keys: Sequence[str]) -> None:
    """Every column that ``keys`` of the mapping name is in the row; else name it, its suite line and a near column."""
    mapped = {
        "id": [columns.id] if columns.id else [],
        "reference": columns.reference,
        "vars": columns.vars,
        "assert": [columns.assertions] if columns.assertions else [],
        "rubric": [columns.rubric] if columns.rubric else [],
    }
    for key in keys:
        for name in mapped[key] or ():
            if name not in row:
                have = ", ".join(map(str, row)) or "none"
                raise ConfigError(
                    f"{where}: no column {name!r}{did_you_mean(name, map(str, row))}, which cases.{key} names "
                    f"({columns.at[key]}); the columns are: {have}."
                )


def _row_case(row: dict[str, Any], where: str, index: int, columns: Columns, jsonl: bool) -> Case:
    """A case from one row: an unmapped JSONL line that nests `vars` (or has only case fields) as the suite
    writes cases, anything else as columns."""
    nested = jsonl and not columns.mapped and ("vars" in row or set(row) <= _CASE_KEYS)
    if not nested:
        return _flat_case(row, where, index, columns)
    try:
        model = CaseModel.model_validate(row)
    except ValidationError as err:
        first = err.errors()[0]
        loc = format_loc(first["loc"])
        if first["type"] == "extra_forbidden":
            message = f"unknown field{did_you_mean(loc, CaseModel.model_fields)}"
        else:
            message = first["msg"]
        raise ConfigError(f"{where}: {loc}: {message}; fix that case.") from None
    return _case_from(model, index, where)


def _flat_case(row: dict[str, Any], where: str, index: int, columns: Columns) -> Case:
    """A case from a row of columns: the id, the reference(s) and the variables as the suite maps them."""
    _require(row, columns, where, ("id", "vars"))
    id_column = columns.id or "id"
    default = ("reference",) if "reference" in row else ()
    ref_columns = columns.reference if columns.reference is not None else default
    refs = [ref for name in ref_columns for ref in _references(row.get(name), name, where)]
    if columns.reference is not None:
        refs = [ref for ref in refs if ref]
        if not refs:
            listed = ("column " if len(ref_columns) == 1 else "columns ") + ", ".join(map(repr, ref_columns))
            raise ConfigError(f"{where}: the row has no reference in {listed}; fill it in or remove the row.")
    checks = columns.assertions or "assert"
    taken = {
        id_column,
        checks,
        EXPECTED_CALLS,
        "messages",
        "turns",
        *ref_columns,
        *([columns.rubric] if columns.rubric else []),
    }
    names = columns.vars if columns.vars is not None else [k for k in row if k not in taken]
    rubric = row.get(columns.rubric) if columns.rubric else None
    return Case(
        id=_case_id(row.get(id_column), id_column, where) or f"case-{index + 1}",
        vars={name: row[name] for name in names},
        references=tuple(refs),
        meta={
            "where": where,
            **({"rubric": str(rubric)} if rubric not in (None, "") else {}),
            **calls_meta(row.get(EXPECTED_CALLS), where),
        },
        assertions=_assertions(_assert_cell(row.get(checks), checks, where), where),
        **_conversation(row, where),
    )


def _conversation(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A flat row's `messages` and `turns` columns (JSON text in a CSV cell), checked as a case's are."""
    given = {}
    for key in ("messages", "turns"):
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            try:
                value = json.loads(value)
            except json.JSONDecodeError as err:
                raise ConfigError(f"{where}: column {key!r} is not JSON ({err.msg}); write a JSON list.") from None
        if value not in (None, ""):
            given[key] = value
    if not given:
        return {}
    try:
        model = CaseModel.model_validate(given)
    except ValidationError as err:
        first = err.errors()[0]
        raise ConfigError(f"{where}: {format_loc(first['loc'])}: {first['msg']}; fix that case.") from None
    return {"messages": _messages(model), "turns": tuple(model.turns or ())}


def _messages(model: CaseModel) -> tuple[Message, ...]:
    return tuple(Message(m.role, m.content) for m in model.messages or ())


def _assert_cell(value: Any, column: str, where: str) -> list[Any]:
    """A row's `assert:` list: a JSONL cell's list, or a CSV cell's JSON text; empty when the cell is."""
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise ConfigError(
                f"{where}: column {column!r} is not JSON ({err.msg}); write a JSON list of assertions."
            ) from None
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where}: column {column!r} holds {json.dumps(value)}; write a JSON list of assertions.")
    return value


def _case_id(value: Any, column: str, where: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError(f"{where}: the id in column {column!r} must be text or a whole number.")
    return str(value)


def _references(value: Any, column: str, where: str) -> list[str]:
    """A reference cell as text: a string or a number, or (JSONL) a list of them; empty for null."""
    values = value if isinstance(value, list) else [] if value is None else [value]
    for item in values:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ConfigError(
                f"{where}: column {column!r} holds {json.dumps(item)}; a reference is text or a number, "
                "or a list of them."
            )
    return [str(item) for item in values]


def _case_from(model: CaseModel, index: int, where: str) -> Case:
    refs: list[str] = []
    if model.reference is not None:
        refs.append(str(model.reference))
    refs.extend(str(r) for r in model.references or [])
    case_id = str(model.id) if model.id is not None else f"case-{index + 1}"
    meta = {**model.meta, **({"rubric": model.rubric} if model.rubric else {}), "where": where}
    meta.update(calls_meta(model.expected_calls, where))
    return Case(
        id=case_id,
        vars=dict(model.vars),
        references=tuple(refs),
        meta=meta,
        assertions=_assertions(model.assertions, where),
        messages=_messages(model),
        turns=tuple(model.turns or ()),
    )


def _assertions(items: list[Any], where: str) -> tuple[Assertion, ...]:
    """A case's `assert:` list, each entry checked where the case is written."""
    if not items:
        return ()
    from promptarena.metrics.assertions import parse_assertions

    return parse_assertions(items, [where] * len(items))


def _checked(doc: Located, cases: list[Case]) -> tuple[Case, ...]:
    """The cases, refused when there are none, when an id repeats or when text holds half a surrogate pair."""
    if not cases:
        raise ConfigError(f"{doc.source}:{doc.line(['cases'])}: cases: the suite has no cases; add some.")
    seen: dict[str, str] = {}
    for case in cases:
        _check_text(case)
        if case.id in seen:
            raise ConfigError(f"{case.meta['where']}: duplicate case id {case.id!r} (also at {seen[case.id]}).")
        seen[case.id] = case.meta["where"]
    return tuple(cases)


def _check_text(case: Case) -> None:
    """A lone surrogate (JSON's or YAML's ``\\ud800`` escape) is no character: refuse it before it is stored."""
    try:
        text = [case.id, case.vars, case.references, case.meta, [a.entry for a in case.assertions]]
        text += [[m.content for m in case.messages], case.turns]
        json.dumps(text, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        escape = f"\\u{ord(err.object[err.start]):04x}"
        raise ConfigError(
            f"{case.meta['where']}: the escape {escape} is half of a surrogate pair, not a character; "
            "write the character itself or the whole pair."
        ) from None


# --- warnings: suites that load but would score less than their author thinks -------------------------------


def reference_warnings(doc: Located, metrics: Sequence[Metric], cases: Sequence[Case]) -> tuple[str, ...]:
    """One line per metric that compares answers with references when no case has one (it would score nothing)."""
    if any(case.references for case in cases):
        return ()
    return tuple(
        f"{doc.source}:{doc.line(['metrics', i])}: metric {metric.name!r} compares answers with references, but no "
        "case has one, so it scores nothing; name the column that holds the answers with `reference:` under `cases:` "
        "(docs/suite-format.md)."
        for i, metric in enumerate(metrics)
        if metric.needs_reference
    )


def with_prompt_warnings(suite: Suite, prompts: Sequence[PromptFile]) -> Suite:
    """The suite with one more warning when its cases pass variables that none of ``prompts`` uses."""
    if not prompts:
        return suite
    from promptarena.conversation import variables_of

    used = {name for prompt in prompts for name in prompt.variables}
    unused = sorted({name for case in suite.cases for name in case.vars if name not in variables_of(case)} - used)
    if not unused:
        return suite
    first = next(case.meta["where"] for case in suite.cases if unused[0] in case.vars)
    listed = ", ".join(f"{name!r}{did_you_mean(name, ('reference', 'references'))}" for name in unused)
    listed += f", first in {first}" if first != suite.cases_at else ""
    if any(case.references for case in suite.cases):
        fix = "use it in the prompt, or leave it out of the cases (`vars: [...]` under `cases:` picks columns)"
    else:
        fix = (
            f"if {unused[0]!r} holds the expected answers, name it as the reference (`reference: {unused[0]}` "
            "under `cases:`); otherwise use it in the prompt or leave it out of the cases"
        )
    note = f"{suite.cases_at}: cases: the prompt {suite.prompt!r} never uses the case variable(s) {listed}; {fix}."
    return replace(suite, warnings=(*suite.warnings, note))
