"""The `.prompt` file format: YAML front matter, then a Jinja2 chat template split into role sections.

The template is cut into ``system:`` / ``user:`` / ``assistant:`` sections *before* rendering, so a case
variable can never forge a role line; each section is rendered in Jinja2's sandbox with
``StrictUndefined``. Every error names the file and line, as ``prompts/qa.prompt:4: ...``.
See docs/prompt-format.md for the user-facing description.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from promptarena import response_format
from promptarena.errors import ConfigError, did_you_mean
from promptarena.extract import AnswerSpec, extractors
from promptarena.tools import parse_tools
from promptarena.types import GenParams, Message
from promptarena.yamlfile import Located, parse_yaml

__all__ = ["ROLES", "AnswerSpec", "Parameters", "PromptFile", "parse_prompt"]

ROLES = ("system", "user", "assistant")

_FENCE = "---"
_ROLE_LINE = re.compile(r"^(system|user|assistant):$")


# --- front matter schema (pydantic at the file boundary only) -------------------------------------------


class Parameters(BaseModel):
    """Generation parameters as a prompt's front matter or a suite's `parameters:` write them.

    Strict: an unknown key or a value of the wrong type (``max_new_tokens: 2.5``) is refused, not coerced.
    ``response_format`` is OpenAI's (see ``promptarena.response_format``): its JSON Schema is checked here.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    max_new_tokens: int = Field(128, gt=0)
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    stop: list[str] = Field(default_factory=list)
    response_format: dict[str, Any] | None = None

    @field_validator("response_format")
    @classmethod
    def _response_format(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else response_format.check(value)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    extract: str = "text"
    pattern: str | None = None
    field: str | None = None
    choices: list[str] | None = None

    @field_validator("extract")
    @classmethod
    def _registered(cls, value: str) -> str:
        """An extractor registered in ``extract.extractors``; a typo gets a did-you-mean."""
        if value not in extractors:
            names = extractors.names()
            raise ValueError(f"unknown extractor {value!r}{did_you_mean(value, names)}; one of {', '.join(names)}")
        return value

    @model_validator(mode="after")
    def _check_options(self) -> _Answer:
        needs = {"regex": "pattern", "json_field": "field", "choice": "choices"}
        wanted = needs.get(self.extract)
        if wanted and not getattr(self, wanted):
            raise ValueError(f"extract: {self.extract} needs `{wanted}:`")
        for option, owner in (("pattern", "regex"), ("field", "json_field"), ("choices", "choice")):
            if getattr(self, option) is not None and self.extract != owner:
                raise ValueError(f"`{option}:` only applies to extract: {owner}, not {self.extract}")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as err:
                raise ValueError(f"pattern is not a valid regular expression: {err}") from None
        return self


class _FrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    variables: dict[str, str] = Field(default_factory=dict)
    parameters: Parameters = Field(default_factory=Parameters)
    answer: _Answer = Field(default_factory=_Answer)
    tools: list[Any] | None = None

    @field_validator("variables", mode="before")
    @classmethod
    def _variables_form(cls, value: Any) -> dict[str, str]:
        """Accept ``{name: description}`` or ``[name, ...]``; a name is an identifier."""
        if value is None:
            return {}
        if isinstance(value, list):
            value = {name: "" for name in value} if len(set(map(str, value))) == len(value) else value
            if isinstance(value, list):
                raise ValueError("a variable is listed twice")
        if not isinstance(value, dict):
            raise ValueError("must be a mapping of name: description, or a list of names")
        for name, doc in value.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"{name!r} is not a valid variable name (letters, digits, _)")
            if doc is not None and not isinstance(doc, str):
                raise ValueError(f"the description of {name!r} must be text")
        return {name: doc or "" for name, doc in value.items()}


_FIELDS: dict[tuple[str, ...], tuple[str, ...]] = {
    (): tuple(_FrontMatter.model_fields),
    ("parameters",): tuple(Parameters.model_fields),
    ("answer",): tuple(_Answer.model_fields),
}


# --- the parsed prompt ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Section:
    role: str
    line: int  # file line of the first template line of this section
    template: jinja2.Template


@dataclass(frozen=True)
class PromptFile:
    """A parsed, validated prompt: front matter plus a chat template ready to render per case."""

    name: str
    source: str
    description: str
    variables: tuple[str, ...]
    parameters: GenParams
    answer: AnswerSpec
    template: str
    variable_docs: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    _sections: tuple[_Section, ...] = field(default=(), repr=False, compare=False)

    @property
    def last_section_line(self) -> int:
        """The file line of the template's last role line, for messages about how the template ends."""
        return self._sections[-1].line - 1 if self._sections else 1

    def render(self, vars: Mapping[str, Any], case_id: str, where: str = "") -> tuple[Message, ...]:
        """Render the chat messages for one case; a missing variable is a ConfigError naming the case and
        ``where`` it is written (``evals/cases/qa.jsonl:3``)."""
        for name in self.variables:
            if name not in vars:
                close = difflib.get_close_matches(name, [str(k) for k in vars], n=1, cutoff=0.6)
                hint = f" (it has {close[0]!r}: a typo?)" if close else ""
                raise ConfigError(
                    f"{where + ': ' if where else ''}prompt {self.name!r} needs variable {name!r}, missing in case "
                    f"{case_id!r}{hint}: add `{name}:` under that case's vars"
                )
        values = {name: vars[name] for name in self.variables}
        messages = []
        for section in self._sections:
            try:
                text = section.template.render(values)
            except jinja2.UndefinedError as err:
                raise ConfigError(
                    f"{self.source}: rendering prompt {self.name!r} for case {case_id!r} failed in the "
                    f"{section.role} section (line {section.line}): {err.message}"
                ) from None
            except jinja2.exceptions.SecurityError as err:
                raise ConfigError(
                    f"{self.source}: the template of prompt {self.name!r} did something unsafe for case "
                    f"{case_id!r}: {err}"
                ) from None
            except (TypeError, ValueError, ArithmeticError, LookupError) as err:
                raise ConfigError(
                    f"{self.source}: rendering prompt {self.name!r} for case {case_id!r} failed in the "
                    f"{section.role} section (line {section.line}): {err}"
                ) from None
            messages.append(Message(section.role, _strip_blank_lines(text)))
        return tuple(messages)


def parse_prompt(text: str, name: str, source: str) -> PromptFile:
    """Parse and validate a `.prompt` file's text; ``source`` is the display path used in errors."""
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")
    if not lines or lines[0].rstrip() != _FENCE:
        raise ConfigError(
            f"{source}:1: a prompt file starts with a `---` line that opens its YAML front matter "
            "(description, variables, parameters, answer)"
        )
    try:
        close = next(i for i in range(1, len(lines)) if lines[i].rstrip() == _FENCE)
    except StopIteration:
        raise ConfigError(f"{source}:1: the front matter opened here is never closed by a `---` line") from None
    doc = parse_yaml("\n".join(lines[1:close]), source, first_line=2)
    front = _front_matter(doc)
    body_lines = lines[close + 1 :]
    body_start = close + 2  # file line number of body_lines[0]

    env = _environment()
    sections = _split_sections(body_lines, body_start, source, env)
    declared, docs = _declared(front)
    _check_variables(sections, declared, env, doc)

    params = front.parameters
    answer = front.answer
    tools = parse_tools(front.tools, lambda i, path: f"{source}:{_tool_line(doc, i, path)}")
    return PromptFile(
        name=name,
        source=source,
        description=front.description,
        variables=declared,
        parameters=GenParams(
            max_new_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            stop=tuple(params.stop),
            tools=tools,
            response_format=response_format.encode(params.response_format),
        ),
        answer=AnswerSpec(
            extract=answer.extract,
            pattern=answer.pattern,
            field=answer.field,
            choices=tuple(answer.choices or ()),
        ),
        template="\n".join(body_lines),
        variable_docs=docs,
        _sections=tuple(_Section(role, line, tpl) for role, line, tpl, _ in sections),
    )


# --- helpers -------------------------------------------------------------------------------------------


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


def _front_matter(doc: Located) -> _FrontMatter:
    """Validate the parsed front matter; errors point at the offending line of the file."""
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise ConfigError(f"{doc.source}:2: the front matter must be a YAML mapping (key: value lines)")
    try:
        return _FrontMatter.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        inner = getattr(first.get("ctx", {}).get("error"), "loc", ())  # where inside the value, if it says
        line = doc.line([*first["loc"], *inner], key=True)
        raise ConfigError(f"{doc.source}:{line}: {_describe(first, tuple(map(str, first['loc'])))}") from None


def _tool_line(doc: Located, index: int | None, path: Sequence[str | int]) -> int:
    """The line of the key at ``path`` in ``tools[index]`` (under ``function:`` in the OpenAI form), or of the
    entry, or of ``tools:``."""
    if index is None:
        return doc.line(["tools"], key=True)
    entry = doc.data["tools"][index]
    nested = isinstance(entry, dict) and isinstance(entry.get("function"), dict)
    loc: list[str | int] = ["tools", index, *(["function"] if nested else [])]
    return doc.line([*loc, *path], key=bool(path) and isinstance(path[-1], str))


def _describe(error: Mapping[str, Any], loc: tuple[str, ...]) -> str:
    """One readable sentence for a pydantic error, with a did-you-mean for misspelled keys."""
    where = ".".join(loc) if loc else "front matter"
    kind = error["type"]
    if kind == "extra_forbidden":
        parent, key = loc[:-1], loc[-1]
        allowed = _FIELDS.get(parent, ())
        scope = ".".join(parent) or "the front matter"
        return f"unknown key {key!r} in {scope}{did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def _split_sections(
    body: list[str], start: int, source: str, env: SandboxedEnvironment
) -> list[tuple[str, int, jinja2.Template, jinja2.nodes.Template]]:
    """Cut the body at role lines and compile each section (role, first line, template, ast)."""
    heads = [i for i, line in enumerate(body) if _ROLE_LINE.match(line.rstrip())]
    if not heads:
        raise ConfigError(f"{source}:{start}: the template has no role line (`system:`, `user:` or `assistant:`)")
    for i in range(heads[0]):
        if body[i].strip():
            raise ConfigError(
                f"{source}:{start + i}: text before the first role line; start the section with a line "
                "that is exactly `system:`, `user:` or `assistant:`"
            )
    sections = []
    for n, head in enumerate(heads):
        end = heads[n + 1] if n + 1 < len(heads) else len(body)
        role = body[head].rstrip()[:-1]
        first_line = start + head + 1
        text = "\n".join(body[head + 1 : end])
        try:
            ast = env.parse(text)
            template = env.from_string(ast)
        except jinja2.TemplateSyntaxError as err:
            line = first_line + (err.lineno or 1) - 1
            note = " (a Jinja block cannot span role lines)" if "end of template" in str(err.message) else ""
            raise ConfigError(
                f"{source}:{line}: template syntax error in the {role} section: {err.message}{note}"
            ) from None
        sections.append((role, first_line, template, ast))
    return sections


def _declared(front: _FrontMatter) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    return tuple(front.variables), tuple(front.variables.items())


def _check_variables(
    sections: list[tuple[str, int, jinja2.Template, jinja2.nodes.Template]],
    declared: tuple[str, ...],
    env: SandboxedEnvironment,
    doc: Located,
) -> None:
    """Every variable the template reads is declared, and every declared variable is used."""
    source = doc.source
    used: set[str] = set()
    for _role, first_line, _tpl, ast in sections:
        names = jinja2.meta.find_undeclared_variables(ast) - set(env.globals)
        for name in sorted(names):
            if name not in declared:
                line = first_line + _first_use(ast, name) - 1
                raise ConfigError(
                    f"{source}:{line}: the template uses variable {name!r} that the front matter does not "
                    f"declare{did_you_mean(name, declared)}: add it under `variables:`"
                )
        used |= names
    for name in declared:
        if name not in used:
            listed = isinstance(doc.data.get("variables"), list)  # a list of names, or name: description
            line = doc.line(["variables", declared.index(name) if listed else name], key=True)
            raise ConfigError(
                f"{source}:{line}: variable {name!r} is declared but the template never uses it: "
                f"use it as {{{{ {name} }}}} or remove it from `variables:`"
            )


def _first_use(ast: jinja2.nodes.Template, name: str) -> int:
    lines = [n.lineno for n in ast.find_all(jinja2.nodes.Name) if n.name == name and n.ctx == "load"]
    return min(lines) if lines else 1


def _strip_blank_lines(text: str) -> str:
    """Drop leading and trailing blank lines, keeping the indentation of the first kept line."""
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines).rstrip()
