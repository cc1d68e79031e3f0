"""Stand-in for the backends' option models (replaced at merge by the real module of the same name)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from promptarena.errors import ConfigError, did_you_mean


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FakeOptions(_Options):
    responses: dict[str, str | list[str]] | None = None
    outputs: list[str] | None = None
    default: str | None = None
    delay_s: float = Field(0.0, ge=0)
    model: str = "fake"
    context_length: int | None = Field(None, gt=0)
    truncate: bool = False


class TransformersOptions(_Options):
    model: str = "default"
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    threads: int | None = Field(None, gt=0)
    batch_size: int | None = Field(None, gt=0)
    max_batch_size: int | None = Field(None, gt=0)


class OpenAIOptions(_Options):
    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = Field(8, gt=0)
    timeout_s: float = Field(120, gt=0)
    max_retries: int = Field(4, ge=0)
    revision: str | None = None


_MODELS: dict[str, type[_Options]] = {
    "fake": FakeOptions,
    "transformers": TransformersOptions,
    "openai": OpenAIOptions,
}


def options_model(name: str) -> type[BaseModel]:
    """The pydantic model of backend ``name``'s options; an unknown backend is a ConfigError."""
    try:
        return _MODELS[name]
    except KeyError:
        known = ", ".join(sorted(_MODELS))
        raise ConfigError(f"unknown backend {name!r}{did_you_mean(name, _MODELS)}; known: {known}.") from None
