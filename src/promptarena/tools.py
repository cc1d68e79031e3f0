"""Tool calls: the functions a prompt offers, the calls a model makes, and how a call is judged right.

A prompt's front matter declares ``tools:`` in the OpenAI function format; a case's ``expected_calls:`` says
which call(s) it wants. Backends whose model has no native tool support get the tools as a Hermes-style
``<tools>`` block in the system message (``HERMES_TOOLS``), and the calls are read back from the text in the
formats that ``parse_tool_calls`` knows. See docs/prompt-format.md and docs/suite-format.md.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from promptarena.errors import ConfigError, did_you_mean
from promptarena.hashing import canonical_json
from promptarena.types import Case, Message, Prediction, Tool, ToolCall

if TYPE_CHECKING:
    from promptarena.promptfile import PromptFile

__all__ = [
    "HERMES_TOOLS",
    "api_calls",
    "Tool",
    "ToolCall",
    "call_f1",
    "calls_match",
    "case_calls",
    "check_cases",
    "check_expected_calls",
    "normalize_calls",
    "expected_calls",
    "parse_tool_calls",
    "parse_tools",
    "prediction_calls",
    "with_tools_in_system",
]


# --- the prompt's tools ----------------------------------------------------------------------------------


def parse_tools(items: Any, where: Callable[[int | None, Sequence[str | int]], str]) -> tuple[Tool, ...]:
    """The front matter's ``tools:`` list, each entry ``{type: function, function: {name, description,
    parameters}}`` or just ``{name, description, parameters}``; ``where(index, path)`` is the place (``file:line``)
    of the key at ``path`` in entry ``index`` (in its ``function:`` for the OpenAI form), for messages. A
    parameters schema that is not valid JSON Schema is bad input."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ConfigError(f"{where(None, [])}: tools: must be a list of functions ({{name, description, parameters}})")
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    tools: list[Tool] = []
    for i, entry in enumerate(items):
        if isinstance(entry, dict) and entry.get("type", "function") == "function" and "function" in entry:
            body, prefix = entry["function"], ("function",)
            extra = sorted(set(entry) - {"type", "function"})
        else:
            body, prefix, extra = entry, (), []
        if not isinstance(body, dict):
            raise ConfigError(f"{where(i, [])}: tools[{i}]: a tool is a mapping with name, description, parameters")
        extra += sorted(set(body) - {"name", "description", "parameters", "strict"})
        if extra:
            raise ConfigError(
                f"{where(i, [extra[0]])}: tools[{i}]: unknown key {extra[0]!r}"
                f"{did_you_mean(extra[0], ('name', 'description', 'parameters'))}; a tool has name, description "
                "and parameters"
            )
        name = body.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
            raise ConfigError(
                f"{where(i, ['name'])}: tools[{i}].name: give the function a name of letters, digits, _ . or -"
            )
        if name in (t.name for t in tools):
            raise ConfigError(f"{where(i, ['name'])}: tools[{i}]: the tool {name!r} is declared twice; rename one")
        description = body.get("description", "")
        if not isinstance(description, str):
            raise ConfigError(f"{where(i, ['description'])}: tools[{i}].description must be text")
        parameters = body.get("parameters", {"type": "object", "properties": {}})
        place = f"tools[{i}].{'function.' if prefix else ''}parameters"
        if not isinstance(parameters, dict):
            raise ConfigError(f"{where(i, ['parameters'])}: {place} must be a JSON Schema object")
        try:
            validator_for(parameters).check_schema(parameters)
        except SchemaError as err:
            path = "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in err.absolute_path)
            at = where(i, ["parameters", *err.absolute_path])
            raise ConfigError(f"{at}: {place}{path} is not valid JSON Schema ({err.message}); fix the schema") from None
        if parameters.get("type", "object") != "object":
            raise ConfigError(f"{where(i, ['parameters'])}: {place} must describe an object (`type: object`)")
        tools.append(Tool(name, description, canonical_json(parameters)))
    return tuple(tools)


HERMES_TOOLS = """# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{tools}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> \
XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""
"""The default way to offer tools to a model whose chat template has none: the Hermes / Qwen block, appended to
the system message (one JSON line per tool)."""


def with_tools_in_system(messages: Sequence[Message], tools: Sequence[Tool]) -> tuple[Message, ...]:
    """The messages with the tools' Hermes block at the end of the system message (a new one when there is none)."""
    block = HERMES_TOOLS.format(tools="\n".join(json.dumps(t.openai(), ensure_ascii=False) for t in tools))
    if messages and messages[0].role == "system":
        first = messages[0]
        return (Message("system", f"{first.content}\n\n{block}" if first.content else block), *messages[1:])
    return (Message("system", block), *messages)


# --- calls in a model's output ---------------------------------------------------------------------------

_HERMES = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_MISTRAL = re.compile(r"\[TOOL_CALLS\]\s*(\[.*\])", re.S)
_LLAMA = re.compile(r"^\s*(?:<\|python_tag\|>)?\s*(\{.*\}|\[.*\])\s*(?:<\|eom_id\|>|<\|eot_id\|>)?\s*$", re.S)


def parse_tool_calls(text: str) -> tuple[ToolCall, ...]:
    """The calls written in a model's output, in the first format found: Hermes / Qwen (``<tool_call>{json}
    </tool_call>``, several allowed, the last one unclosed when the output was cut), Mistral (``[TOOL_CALLS]
    [{...}]``) or Llama 3 (the whole output one JSON object, or a list, with ``name`` and ``parameters`` or
    ``arguments``). A call that does not parse is left out; no call is an empty tuple."""
    if "<tool_call>" in text:
        found = [_call(_loads(body)) for body in _HERMES.findall(text)]
    elif match := _MISTRAL.search(text):
        loaded = _loads(match.group(1))
        found = [_call(item) for item in loaded] if isinstance(loaded, list) else []
    elif match := _LLAMA.match(text):
        loaded = _loads(match.group(1))
        found = [_call(item) for item in (loaded if isinstance(loaded, list) else [loaded])]
    else:
        found = []
    return tuple(call for call in found if call is not None)


def api_calls(listed: Sequence[Any]) -> tuple[ToolCall, ...]:
    """The calls of an OpenAI-style ``tool_calls`` list (``{type, id, function: {name, arguments}}``)."""
    return tuple(call for call in map(_call, listed) if call is not None)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _call(obj: Any) -> ToolCall | None:
    """``{"name", "arguments"}`` (the arguments an object or JSON text; ``parameters`` for Llama) as a call."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # the OpenAI API's {"type": "function", "function": {...}}
        obj = obj["function"]
    name = obj.get("name")
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        args = _loads(args) if args.strip() else {}
    if not isinstance(name, str) or not isinstance(args, dict):
        return None
    return ToolCall.of(name, args)


def prediction_calls(prediction: Prediction) -> tuple[ToolCall, ...]:
    """The calls of a prediction: those its backend returned with the generation whose text is the output, else
    those written in the output."""
    for generation in prediction.generations:
        if generation.tool_calls and generation.text == prediction.output:
            return generation.tool_calls
    answered = [g.tool_calls for g in prediction.generations if g.tool_calls]
    if len(prediction.generations) == 1 and answered:
        return answered[0]
    return parse_tool_calls(prediction.output)


# --- a case's expected calls -----------------------------------------------------------------------------


def expected_calls(value: Any, where: str) -> tuple[ToolCall, ...]:
    """A case's ``expected_calls:`` (a list of ``{name, arguments}``, or one such mapping; JSON text in a CSV
    cell) as calls; an empty list expects that no function is called."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as err:
            raise ConfigError(f"{where}: expected_calls is not JSON ({err.msg}); write a list of calls") from None
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise ConfigError(f"{where}: expected_calls: write a list of calls, each {{name, arguments}}")
    calls = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or set(item) - {"name", "arguments"}:
            raise ConfigError(f"{where}: expected_calls[{i}]: write a call as {{name: ..., arguments: {{...}}}}")
        args = item.get("arguments", {})
        if not isinstance(args, dict):
            raise ConfigError(f"{where}: expected_calls[{i}].arguments must be a mapping of argument names to values")
        calls.append(ToolCall.of(item["name"], args))
    return tuple(calls)


EXPECTED_CALLS = "expected_calls"
"""The case key (and case-file column) of the tool calls a case expects; kept in its meta, checked against the
prompt's tools before the run."""


def calls_meta(value: Any, where: str) -> dict[str, Any]:
    """``{"expected_calls": [{name, arguments}, ...]}`` for a case that states its calls, else nothing."""
    if value is None or value == "":
        return {}
    return {EXPECTED_CALLS: [call.as_dict() for call in expected_calls(value, where)]}


def case_calls(case: Case) -> tuple[ToolCall, ...] | None:
    """The calls a case expects (its ``expected_calls:``), or None when it states none."""
    calls = case.meta.get(EXPECTED_CALLS)
    return None if calls is None else tuple(ToolCall.of(c["name"], c.get("arguments", {})) for c in calls)


def check_cases(prompts: Sequence[PromptFile], cases: Iterable[Case]) -> None:
    """Before any model call: every call a case expects names a tool that a version being run declares, and fits
    its schema in one of them. A version that does not offer the tool (one from before the prompt had tools, or
    from after it was renamed) is still run: it scores as not making the call."""
    name = prompts[0].name if prompts else ""
    everything = [t for p in prompts for t in p.parameters.tools]  # for a tool offered nowhere: a typo
    for case in cases:
        where = str(case.meta.get("where", case.id))
        for call in case_calls(case) or ():
            offers = [p.parameters.tools for p in prompts if any(t.name == call.name for t in p.parameters.tools)]
            problems: list[ConfigError] = []
            for tools in offers or [everything]:
                try:
                    check_expected_calls(tools, [call], where, name)
                    break
                except ConfigError as problem:
                    problems.append(problem)
            else:
                raise problems[0]


def check_expected_calls(tools: Sequence[Tool], calls: Iterable[ToolCall], where: str, prompt: str) -> None:
    """Every expected call names a tool the prompt declares, with arguments its schema accepts."""
    by_name = {t.name: t for t in tools}
    for call in calls:
        tool = by_name.get(call.name)
        if tool is None:
            offered = ", ".join(by_name) or "none (add `tools:` to its front matter)"
            raise ConfigError(
                f"{where}: expected_calls names the tool {call.name!r}{did_you_mean(call.name, by_name)}, which "
                f"prompt {prompt!r} does not declare; its tools: {offered}"
            )
        problem = _schema_error(tool, call.arguments)
        if problem:
            raise ConfigError(f"{where}: the expected call of {call.name!r} does not fit its tool's schema: {problem}")
        (normal,) = normalize_calls([call], [tool])
        if normal != call:
            extra = next(k for k in call.arguments if k not in normal.arguments)
            raise ConfigError(
                f"{where}: the expected call of {call.name!r} sets {extra!r} to its default; leave it out (a call "
                "that sets an optional argument to its default is the same call as one that leaves it out)"
            )


def _schema_error(tool: Tool, arguments: Mapping[str, Any]) -> str | None:
    """Why the arguments do not validate against the tool's parameters schema, or None."""
    from jsonschema.validators import validator_for

    schema = tool.parameters
    error = next(iter(validator_for(schema)(schema).iter_errors(dict(arguments))), None)
    if error is None:
        return None
    path = "/".join(map(str, error.absolute_path))
    return f"{path + ': ' if path else ''}{error.message}"


# --- judging calls ---------------------------------------------------------------------------------------


def _norm(value: Any) -> Any:
    """A hashable form of a JSON value in which 1 and 1.0 are equal but ``true``, ``1`` and ``"1"`` are not, and
    keys are order-free."""
    if isinstance(value, bool) or value is None:
        return ("const", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list | tuple):
        return ("array", tuple(_norm(v) for v in value))
    if isinstance(value, dict):
        return ("object", frozenset((str(k), _norm(v)) for k, v in value.items()))
    return ("other", repr(value))


def _call_key(call: ToolCall) -> Any:
    """What two calls must share to be the same call: the function and the normalised arguments."""
    return (call.name, _norm(call.arguments))


def calls_match(expected: Sequence[ToolCall], actual: Sequence[ToolCall]) -> bool:
    """BFCL's AST match: the calls made are the calls expected, in any order, each with the same function and
    equal arguments after JSON normalisation (types kept, keys order-free; optional arguments left at their
    default are left out on both sides, see ``normalize_calls``)."""
    return Counter(map(_call_key, expected)) == Counter(map(_call_key, actual))


def normalize_calls(calls: Sequence[ToolCall], tools: Sequence[Tool]) -> tuple[ToolCall, ...]:
    """The calls with every argument that equals its schema's ``default`` left out: passing an optional argument
    at its default is the same call as leaving it out."""
    by_name = {t.name: t.parameters.get("properties") or {} for t in tools}
    out = []
    for call in calls:
        properties = by_name.get(call.name, {})
        args = {
            key: value
            for key, value in call.arguments.items()
            if not (isinstance(properties.get(key), dict) and "default" in properties[key])
            or _norm(value) != _norm(properties[key]["default"])
        }
        out.append(ToolCall.of(call.name, args))
    return tuple(out)


def _items(calls: Sequence[ToolCall]) -> Counter[Any]:
    """What argument-level F1 counts: each call's function, and each of its arguments as (function, name, value)."""
    items: Counter[Any] = Counter()
    for call in calls:
        items[(call.name,)] += 1
        for key, value in call.arguments.items():
            items[(call.name, key, _norm(value))] += 1
    return items


def call_f1(expected: Sequence[ToolCall], actual: Sequence[ToolCall]) -> float:
    """Argument-level F1 of the calls made against those expected, for partial credit: the items are each call's
    function and each (function, argument, value); 1.0 when neither has any call."""
    want, got = _items(expected), _items(actual)
    if not want and not got:
        return 1.0
    hit = sum((want & got).values())
    if not hit:
        return 0.0
    precision, recall = hit / sum(got.values()), hit / sum(want.values())
    return 2 * precision * recall / (precision + recall)
