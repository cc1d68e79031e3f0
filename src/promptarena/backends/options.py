"""The options each backend accepts in a suite's ``model:`` section, as pydantic models.

Light on purpose (pydantic only, neither torch nor transformers), so the suite loader and the CLI can
validate options at load time: a typo such as ``dtyp`` or an unsupported value such as ``dtype: fp8`` is
bad input (exit 2), named with its key, before any backend is built. Field names are the option names.
``check_model`` and ``check_models`` check a suite's ``model:`` and ``models:`` entries against them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, StringConstraints, ValidationError

from promptarena.errors import ConfigError, did_you_mean
from promptarena.yamlfile import Located, format_loc, validation_error

Truncate = Literal["left"]
Decode = Literal["auto", "slots", "dynamic"]
"""``left``: drop a prompt's oldest tokens so that it and ``max_new_tokens`` fit the model's context."""

Dtype = Literal["auto", "bfloat16", "bf16", "float16", "fp16", "half", "float32", "fp32", "float"]
Device = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"(?i)^(auto|cpu|cuda(:\d+)?)$")
]


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FakeOptions(_Options):
    """The fake backend: scripted outputs, a delay standing in for a model, and a context to overflow."""

    model: str = "fake"
    responses: dict[str, str | list[str]] = Field(default_factory=dict)
    outputs: list[str] = Field(default_factory=list)
    default: str | None = None
    delay_s: float = Field(default=0.0, ge=0)
    concurrency: PositiveInt = 1
    context_length: PositiveInt | None = None
    truncate: Truncate | None = None
    logprobs: dict[str, dict[str, float]] = Field(default_factory=dict)


class TransformersOptions(_Options):
    """A Hugging Face causal LM run in this process."""

    model: str = "default"
    device: Device = "auto"
    dtype: Dtype = "auto"
    batch_size: PositiveInt | None = None
    threads: PositiveInt | None = None
    truncate: Truncate | None = None
    decode: Decode = "auto"
    batch_invariant: bool | None = None


class OpenAIOptions(_Options):
    """An OpenAI-compatible ``/chat/completions`` server."""

    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: PositiveInt = 8
    timeout_s: PositiveFloat = 120
    max_retries: int = Field(default=4, ge=0)
    revision: str | None = None
    context_length: PositiveInt | None = None


OPTIONS: dict[str, type[BaseModel]] = {
    "fake": FakeOptions,
    "transformers": TransformersOptions,
    "openai": OpenAIOptions,
}


def options_model(backend_name: str) -> type[BaseModel]:
    """The options model of a backend; validate a ``model:`` section (without its ``backend`` key) with it.

    A backend that an installed package adds (entry point group ``promptarena.backends``) declares its options
    as a pydantic model in its ``options_model`` attribute; without one, the parameters of its constructor are
    its options (any value, the required ones required).
    """
    if backend_name in OPTIONS:
        return OPTIONS[backend_name]
    from promptarena.backends import backends

    factory = backends.get(backend_name)  # an unknown name is a ConfigError listing the known ones
    declared = getattr(factory, "options_model", None)
    if isinstance(declared, type) and issubclass(declared, BaseModel):
        return declared
    return _signature_options(backend_name, factory)


def _signature_options(name: str, factory: Any) -> type[BaseModel]:
    """An options model made of a backend constructor's keyword parameters, every value accepted."""
    import inspect

    from pydantic import create_model

    fields: dict[str, Any] = {}
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        parameters = []  # type: ignore[assignment]
    for p in parameters:
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            fields[p.name] = (Any, ... if p.default is inspect.Parameter.empty else p.default)
    return create_model(f"{name}_options", __base__=_Options, **fields)


def option_errors(err: ValidationError, model: type[BaseModel]) -> list[str]:
    """One ``model.KEY: problem`` line per error, with a did-you-mean for an unknown key."""
    lines = []
    for e in err.errors():
        where = "model." + ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown option{did_you_mean(str(e['loc'][0]), model.model_fields)}")
        else:
            lines.append(f"{where}: {e['msg']}")
    return lines


def validate_options(backend_name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options given, checked against the backend's model (defaults are left to the backend).

    Raises:
        ConfigError: an unknown backend, an unknown option, or a value of the wrong type or range.
    """
    model = options_model(backend_name)
    try:
        checked = model.model_validate(options)
    except ValidationError as err:
        raise ConfigError(
            f"{'; '.join(option_errors(err, model))} (backend {backend_name}; "
            f"options: {', '.join(model.model_fields)})."
        ) from None
    return checked.model_dump(exclude_unset=True)


def check_model(doc: Located, options: dict[str, Any], at: list[str | int] | None = None) -> None:
    """`model:` (or one entry of `models:`) holds options that its backend knows, with values of the right type."""
    at = at or ["model"]
    rest = dict(options)
    name = str(rest.pop("backend", "transformers"))
    try:
        schema = options_model(name)
    except ConfigError as err:
        field = format_loc([*at, "backend"])
        raise ConfigError(f"{doc.source}:{doc.line([*at, 'backend'])}: {field}: {err}") from None
    try:
        schema.model_validate(rest)
    except ValidationError as err:
        known = {format_loc(at): ["backend", *(["name"] if len(at) > 1 else []), *schema.model_fields]}
        raise validation_error(doc, err, known, at=at) from None


_MODEL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_models(doc: Located, entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`models:` lists model options, each with a short unique `name` that arm labels show after `@`."""
    if "model" in doc.data:
        raise ConfigError(
            f"{doc.source}:{doc.line(['models'])}: models: the suite has both `model:` and `models:`; "
            "keep one (put the single model into `models:` with a name)."
        )
    models: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        options = dict(entry)
        name = options.pop("name", None)
        where = f"{doc.source}:{doc.line(['models', i, 'name'])}: models[{i}].name"
        if not isinstance(name, str) or not _MODEL_NAME.match(name):
            raise ConfigError(
                f"{where}: give each model a short name of letters, digits, '_', '.' or '-', for example `name: base`."
            )
        if name in models:
            raise ConfigError(f"{where}: the name {name!r} is used twice; give each model its own name.")
        check_model(doc, options, ["models", i])
        models[name] = options
    return models
