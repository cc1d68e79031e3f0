"""The options a backend accepts in a suite's ``model:`` section: each backend declares them beside its class.

A backend class names a pydantic model of its options in ``options_model`` (a subclass of
:class:`BackendOptions`, whose field names are the option names); a plugin's backend does the same, or its
constructor's keyword parameters are its options. The registry of backends is the one table: this module
finds a backend's options through it, for validation, the suite loader and the command line's help.

Light on purpose (pydantic only, neither torch nor transformers), so the suite loader and the CLI can
validate options at load time: a typo such as ``dtyp`` or an unsupported value such as ``dtype: fp8`` is
bad input (exit 2), named with its key, before any backend is built. ``check_model`` and ``check_models``
check a suite's ``model:`` and ``models:`` entries against them.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from promptarena.backends._registry import backends
from promptarena.errors import ConfigError, did_you_mean
from promptarena.yamlfile import Located, format_loc, validation_error

Truncate = Literal["left"]
"""``left``: drop a prompt's oldest tokens so that it and ``max_new_tokens`` fit the model's context."""


class BackendOptions(BaseModel):
    """The base of a backend's options: unknown keys are refused, values are checked and frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def options_model(backend_name: str) -> type[BaseModel]:
    """The options model of the backend registered as ``backend_name``; validate a ``model:`` section (without its
    ``backend`` key) with it.

    Raises:
        ConfigError: an unknown backend (naming the known ones), or a plugin that fails to load.
    """
    return declared_options(backends.get(backend_name))


def declared_options(factory: Any) -> type[BaseModel]:
    """The options model a backend declares in ``options_model``; without one, its constructor's parameters."""
    declared = getattr(factory, "options_model", None)
    if isinstance(declared, type) and issubclass(declared, BaseModel) and _own_options(factory):
        return declared
    return _signature_options(getattr(factory, "__name__", "backend"), factory)


def _own_options(factory: Any) -> bool:
    """Whether the options a class declares are its constructor's: a subclass that takes parameters of its own
    without declaring options of its own (a plugin's ``EchoBackend(FakeBackend)``) does not inherit them."""
    if not isinstance(factory, type):
        return True
    owner = next(c for c in factory.__mro__ if "options_model" in vars(c))
    builder = next(c for c in factory.__mro__ if "__init__" in vars(c))
    return issubclass(owner, builder)


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
    return create_model(f"{name}_options", __base__=BackendOptions, **fields)


def backends_help() -> str:
    """Every registered backend (plugins' included) with its options, for help texts:
    ``fake (model, responses, ...); openai (...)``."""
    described = []
    for name in backends.names():
        try:
            fields = ", ".join(options_model(name).model_fields)
        except ConfigError:
            fields = "fails to load"
        described.append(f"{name} ({fields})")
    return "; ".join(described)


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
