"""The registry of backends, by name: the built-in ones, and those that installed packages add (entry point group
``promptarena.backends``). Each entry builds a backend; its class declares the options it takes
(``options_model``, see ``promptarena.backends.options``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promptarena.registry import Registry

backends: Registry[Callable[..., Any]] = Registry("backend", "promptarena.backends")  # each builds a Backend
backends.register("fake", "promptarena.backends.fake:FakeBackend")
backends.register("transformers", "promptarena.backends.transformers:TransformersBackend")
backends.register("openai", "promptarena.backends.openai:OpenAIBackend")
