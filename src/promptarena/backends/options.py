"""The options each backend accepts in a suite's ``model:`` section, as pydantic models.

Light on purpose (pydantic only, neither torch nor transformers), so the suite loader and the CLI can
validate options at load time: a typo such as ``dtyp`` or an unsupported value such as ``dtype: fp8`` is
bad input (exit 2), named with its key, before any backend is built. Field names are the option names.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, StringConstraints, ValidationError

from promptarena.errors import ConfigError, did_you_mean

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
    """The options model of a backend; validate a ``model:`` section (without its ``backend`` key) with it."""
    try:
        return OPTIONS[backend_name]
    except KeyError:
        hint, known = did_you_mean(backend_name, OPTIONS), ", ".join(sorted(OPTIONS))
        raise ConfigError(f"unknown backend {backend_name!r}{hint}; known: {known}.") from None


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
