"""Reading an OpenAI-compatible server's responses: JSON bodies, choices and error messages, each checked."""

from __future__ import annotations

from typing import Any

import httpx

from promptarena.errors import BackendError
from promptarena.tools import api_calls, parse_tool_calls
from promptarena.types import TokenLogprobs, ToolCall


def snippet(value: Any, limit: int = 200) -> str:
    """A value cut to ``limit`` characters, to quote a server's answer in an error."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def error_detail(response: httpx.Response) -> str:
    """The server's error message, from an OpenAI-style ``{"error": {"message": ...}}`` body when it has one."""
    try:
        body = response.json()
    except ValueError:
        return snippet(response.text.strip() or response.reason_phrase)
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body))
        if isinstance(err, dict) and "message" in err:
            return snippet(err["message"])
        return snippet(err)
    return snippet(body)


def json_body(response: httpx.Response, url: str) -> dict[str, Any]:
    """The response's JSON object; anything else means base_url is not an OpenAI-compatible API root."""
    try:
        body = response.json()
    except ValueError:
        raise BackendError(
            f"openai backend: {url} did not answer with JSON (HTTP {response.status_code}, "
            f"content-type {response.headers.get('content-type', 'none')!r}): {snippet(response.text)!r}; "
            "is base_url the API root of an OpenAI-compatible server (usually ending in /v1)?"
        ) from None
    if not isinstance(body, dict):
        raise BackendError(f"openai backend: {url} answered with JSON that is not an object: {snippet(body)}")
    return body


def choices_of(body: dict[str, Any], url: str) -> list[dict[str, Any]]:
    """The completion's non-empty list of choices."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not all(isinstance(c, dict) for c in choices):
        raise BackendError(
            f"openai backend: {url} answered without a 'choices' list: {snippet(body)}; "
            "is the server OpenAI-compatible, and is base_url its API root?"
        )
    return choices


FAILED_FINISH = frozenset({"abort", "error"})
"""Finish reasons with which servers (vLLM, TGI) report a generation they stopped without finishing it."""


def failed_completion(body: dict[str, Any]) -> str | None:
    """Why a 2xx completion is a failed generation: a choice without its text (``content: null`` and no tool calls)
    or with a failed finish reason; None when every choice holds a whole answer (or the body is malformed:
    ``choices_of`` says how)."""
    choices = body.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        if not isinstance(choice, dict):
            continue
        if choice.get("finish_reason") in FAILED_FINISH:
            return f"finish_reason {choice['finish_reason']!r}"
        message = choice.get("message")
        if isinstance(message, dict) and message.get("content") is None and not message.get("tool_calls"):
            return "a choice with content null"
    return None


def text_of(choice: dict[str, Any], url: str) -> str:
    """A choice's message text ("" when the server sent no content)."""
    message = choice.get("message")
    if not isinstance(message, dict):
        raise BackendError(f"openai backend: {url} answered a choice without a 'message': {snippet(choice)}")
    content = message.get("content")
    return content if isinstance(content, str) else ""


def tool_calls_of(choice: dict[str, Any], text: str) -> tuple[ToolCall, ...]:
    """The calls of a choice: its message's ``tool_calls`` (each ``{function: {name, arguments}}``, the arguments
    JSON text), or, when the server returned none, those written in its text (a server that passed the tools to
    a template without a tool-call parser)."""
    message = choice.get("message")
    listed = message.get("tool_calls") if isinstance(message, dict) else None
    if isinstance(listed, list) and listed:
        return api_calls(listed)
    return parse_tool_calls(text)


def whole(value: Any) -> int | None:
    """A token count from the usage block, or None when the server sent none."""
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def logprobs_of(choice: dict[str, Any]) -> tuple[TokenLogprobs, ...] | None:
    """A choice's per-token top log-probabilities (``logprobs.content[*].top_logprobs``), or ``None`` when the
    server sent none or sent them in another shape: then a grader's verdict is read from its text."""
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list):
        return None
    out = []
    for item in content:
        if not isinstance(item, dict) or not _entry(item) or not isinstance(item.get("top_logprobs"), list):
            return None
        top = [(str(t["token"]), float(t["logprob"])) for t in item["top_logprobs"] if _entry(t)]
        out.append(TokenLogprobs(str(item["token"]), float(item["logprob"]), tuple(top)))
    return tuple(out)


def _entry(item: Any) -> bool:
    """Whether ``item`` is a ``{"token": str, "logprob": number}`` entry."""
    return (
        isinstance(item, dict)
        and isinstance(item.get("token"), str)
        and isinstance(item.get("logprob"), int | float)
        and not isinstance(item.get("logprob"), bool)
    )
