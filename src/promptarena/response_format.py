"""``response_format``: the JSON a prompt's answers must be, in the OpenAI shape, checked where it is written.

Two forms are accepted, as OpenAI-compatible servers take them: ``{type: json_schema, json_schema: {name,
schema}}`` (OpenAI, vLLM, TGI) and ``{type: json_object}``, any JSON object, optionally with a ``schema``
beside it (llama.cpp's server and others that predate ``json_schema``). Requests carry it as canonical JSON
(``GenParams.response_format``), so a constrained request is cached apart from the same request without it.
jsonschema is imported only where a response format is checked.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from promptarena.hashing import canonical_json

__all__ = ["FormatError", "check", "encode", "schema_of"]


class FormatError(ValueError):
    """A response format that is wrong; ``loc`` is where inside it, so that an error can name that line."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc


class _JsonSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None


class _ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["json_schema", "json_object"]
    json_schema: _JsonSchema | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")

    @model_validator(mode="after")
    def _form(self) -> _ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("type: json_schema needs `json_schema: {name: ..., schema: {...}}`")
        if self.type == "json_object" and self.json_schema is not None:
            raise ValueError("`json_schema:` goes with type: json_schema, not json_object")
        if self.type == "json_schema" and self.schema_ is not None:
            raise ValueError("with type: json_schema the schema goes under `json_schema: {name: ..., schema: ...}`")
        return self


def check(value: Any) -> dict[str, Any]:
    """The response format as written, once its shape and its JSON Schema are valid; else a ``FormatError`` that
    says what is wrong and where in it (``json_schema.schema is not a valid JSON Schema: $.properties.n.type``)."""
    try:
        parsed = _ResponseFormat.model_validate(value)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(map(str, first["loc"]))
        message = str(first["msg"]).removeprefix("Value error, ")
        raise FormatError(f"{where + ': ' if where else ''}{message}", tuple(first["loc"])) from None
    schema = parsed.json_schema.schema_ if parsed.json_schema else parsed.schema_
    if schema is not None:
        from jsonschema import validators
        from jsonschema.exceptions import SchemaError

        try:
            validators.validator_for(schema).check_schema(schema)
        except SchemaError as err:
            loc = ("json_schema", "schema") if parsed.json_schema else ("schema",)
            raise FormatError(
                f"{'.'.join(loc)} is not a valid JSON Schema: {err.json_path}: {err.message}; fix the schema",
                (*loc, *err.path),
            ) from None
    return value


def schema_of(response_format: str) -> dict[str, Any] | None:
    """The JSON Schema a request's answers must match, from its canonical JSON; ``None``: any JSON object."""
    value = json.loads(response_format)
    if value["type"] == "json_schema":
        return value["json_schema"]["schema"]
    return value.get("schema")


def encode(value: dict[str, Any] | None) -> str | None:
    """The response format as a request carries it: canonical JSON, or ``None`` for free text."""
    return None if value is None else canonical_json(value)
