"""Tool calls: the prompt's `tools:`, a case's `expected_calls:`, parsing calls from outputs, the AST match and the
argument-level F1 against hand-worked cases, and runs on the fake backend through `evals run`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from promptarena.errors import ConfigError
from promptarena.promptfile import parse_prompt
from promptarena.tools import (
    call_f1,
    calls_match,
    expected_calls,
    normalize_calls,
    parse_tool_calls,
    with_tools_in_system,
)
from promptarena.types import GenParams, Message, Tool, ToolCall
from tests.support.cli import cli, exited
from tests.support.git import GitRepo
from tests.support.repos import count_rows, results_db, write_suite

WEATHER_PROMPT = """---
description: weather questions answered with a function call
variables: [question]
parameters:
  max_new_tokens: 48
tools:
  - type: function
    function:
      name: get_weather
      description: The current weather in a city
      parameters:
        type: object
        properties:
          city: {type: string}
          unit: {type: string, enum: [celsius, fahrenheit], default: celsius}
        required: [city]
  - name: get_time
    description: The local time in a city
    parameters:
      type: object
      properties:
        city: {type: string}
      required: [city]
---
system:
You answer by calling a function.
user:
{{ question }}
"""


def call(name: str, **arguments: object) -> ToolCall:
    return ToolCall.of(name, arguments)


# --- parsing the calls in an output ------------------------------------------------------------------------


def test_hermes_calls_are_read_with_arguments_as_object_or_text_and_the_last_one_unclosed() -> None:
    text = (
        'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>{"name": "get_time", "arguments": "{\\"city\\": \\"Oslo\\"}"}</tool_call>'
        '<tool_call>{"name": "get_time", "arguments": {"city": "Rome"}}'
    )
    assert parse_tool_calls(text) == (
        call("get_weather", city="Paris"),
        call("get_time", city="Oslo"),
        call("get_time", city="Rome"),
    )


def test_mistral_and_llama_formats_are_read_and_text_or_broken_json_is_no_call() -> None:
    mistral = '[TOOL_CALLS] [{"name": "get_time", "arguments": {"city": "Lima"}}]'
    assert parse_tool_calls(mistral) == (call("get_time", city="Lima"),)
    llama = '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Oslo", "unit": "celsius"}}'
    assert parse_tool_calls(llama) == (call("get_weather", city="Oslo", unit="celsius"),)
    assert parse_tool_calls("It is sunny in Paris.") == ()
    assert parse_tool_calls('<tool_call>{"name": "get_time", "arguments": {"city": </tool_call>') == ()
    assert parse_tool_calls('{"city": "Paris"}') == ()  # JSON, but no function name: not a call


# --- the AST match and F1, hand-worked ----------------------------------------------------------------------


def test_ast_match_is_order_free_over_keys_and_calls_and_keeps_types() -> None:
    want = [call("get_weather", city="Paris", days=2), call("get_time", city="Oslo")]
    assert calls_match(want, [call("get_time", city="Oslo"), ToolCall("get_weather", '{"days":2.0,"city":"Paris"}')])
    assert not calls_match(want, [call("get_weather", city="Paris", days="2"), call("get_time", city="Oslo")])
    assert not calls_match([call("f", flag=1)], [call("f", flag=True)])  # true is not 1
    assert not calls_match(want, want[:1])  # a call missing
    assert not calls_match(want[:1], [*want[:1], want[0]])  # a call made twice
    assert not calls_match(want[:1], [call("get_weather", city="Paris")])  # an argument left out
    assert not calls_match(want[:1], [call("get_weather", city="Paris", days=2, unit="celsius")])  # one added
    assert calls_match([], [])


def test_an_optional_argument_at_its_default_is_the_same_call_as_leaving_it_out() -> None:
    (tool, _) = parse_prompt(WEATHER_PROMPT, "weather", "prompts/weather.prompt").parameters.tools
    made = [call("get_weather", city="Paris", unit="celsius"), call("get_weather", city="Lima", unit="fahrenheit")]
    assert normalize_calls(made, [tool]) == (
        call("get_weather", city="Paris"),
        call("get_weather", city="Lima", unit="fahrenheit"),
    )


def test_argument_f1_gives_partial_credit_as_worked_by_hand() -> None:
    want = [call("get_weather", city="Paris", unit="fahrenheit")]
    # items wanted: get_weather, city=Paris, unit=fahrenheit; made: get_weather, city=Paris, unit=celsius
    # 2 of 3 on each side: precision = recall = 2/3, F1 = 2/3
    assert call_f1(want, [call("get_weather", city="Paris", unit="celsius")]) == pytest.approx(2 / 3)
    # two calls wanted (3 + 2 items), the first made right (3 items): precision 1, recall 3/5, F1 = 0.75
    both = [*want, call("get_time", city="Oslo")]
    assert call_f1(both, want) == pytest.approx(0.75)
    # the right arguments under another function share nothing with the wanted items
    assert call_f1(want, [call("get_time", city="Paris")]) == 0.0
    assert call_f1([], []) == 1.0 and call_f1([], want) == 0.0
    assert call_f1(both, list(reversed(both))) == 1.0


# --- the prompt's tools -------------------------------------------------------------------------------------


def test_the_prompts_tools_reach_the_request_in_the_openai_format() -> None:
    prompt = parse_prompt(WEATHER_PROMPT, "weather", "prompts/weather.prompt")
    weather, time_ = prompt.parameters.tools
    assert weather.openai()["function"]["parameters"]["required"] == ["city"]
    assert time_.openai() == {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "The local time in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
    assert "tools" in prompt.parameters.identity()
    plain = parse_prompt(WEATHER_PROMPT.split("tools:")[0] + "---\nuser:\n{{ question }}\n", "w", "w")
    assert "tools" not in plain.parameters.identity()  # a prompt without tools keys its requests as before


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (("city: {type: string}\n          unit", "city: {type: strng}\n          unit"), "is not valid JSON Schema"),
        (("      required: [city]\n---", "      required: city\n---"), "is not valid JSON Schema"),
        (("  - name: get_time", "  - name: get weather"), "tools[1].name"),
        (("    description: The local", "    descripton: The local"), "unknown key 'descripton'"),
    ],
)
def test_a_tool_that_is_not_valid_json_schema_is_refused_naming_the_file_and_line(
    edit: tuple[str, str], says: str
) -> None:
    text = WEATHER_PROMPT.replace(*edit)
    line = next(i for i, row in enumerate(text.split("\n"), 1) if edit[1].split("\n")[0] in row)  # the edit
    with pytest.raises(ConfigError) as err:
        parse_prompt(text, "weather", "prompts/weather.prompt")
    assert str(err.value).startswith(f"prompts/weather.prompt:{line}: ") and says in str(err.value)


def test_tools_go_to_the_end_of_the_system_message_as_a_hermes_block() -> None:
    tool = Tool("get_time", "The local time", '{"properties":{"city":{"type":"string"}},"type":"object"}')
    (system, user) = with_tools_in_system((Message("system", "Be brief."), Message("user", "Time in Oslo?")), [tool])
    assert system.content.startswith("Be brief.\n\n# Tools\n") and user.content == "Time in Oslo?"
    assert f"<tools>\n{json.dumps(tool.openai())}\n</tools>" in system.content
    assert "<tool_call>" in system.content
    (only, _) = with_tools_in_system((Message("user", "Time in Oslo?"),), [tool])
    assert only.role == "system" and only.content.startswith("# Tools")


def test_expected_calls_are_a_list_a_single_call_or_json_text() -> None:
    assert expected_calls({"name": "f", "arguments": {"a": 1}}, "x") == (call("f", a=1),)
    assert expected_calls('[{"name": "f"}]', "x") == (call("f"),)
    with pytest.raises(ConfigError, match=r"^cases.jsonl:3: expected_calls\[0\]: write a call as"):
        expected_calls([{"function": "f"}], "cases.jsonl:3")


# --- through `evals run` on the fake backend -------------------------------------------------------------


ANSWERS = {
    "weather in Paris": '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}'
    "\n</tool_call>",
    "weather in Lima": '<tool_call>{"name": "get_weather", "arguments": {"city": "Lima"}}</tool_call>',
    "time in Oslo": "It is noon in Oslo.",
}
CASES = [
    {"id": "paris", "vars": {"question": "What is the weather in Paris?"},
     "expected_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
    {"id": "lima", "vars": {"question": "What is the weather in Lima in fahrenheit?"},
     "expected_calls": [{"name": "get_weather", "arguments": {"city": "Lima", "unit": "fahrenheit"}}]},
    {"id": "oslo", "vars": {"question": "What time is it in Oslo?"},
     "expected_calls": {"name": "get_time", "arguments": {"city": "Oslo"}}},
]  # fmt: skip


def weather_repo(root: Path, cases: list[dict] = CASES) -> GitRepo:
    repo = GitRepo(root)
    repo.write("prompts/weather.prompt", WEATHER_PROMPT)
    write_suite(
        repo,
        "weather",
        prompt="weather",
        cases=cases,
        metrics=["tool_call_match", "tool_call_f1"],
        model={"backend": "fake", "responses": ANSWERS},
    )
    repo.commit("weather: call functions")
    return repo


def test_a_run_scores_the_calls_made_stores_them_and_a_rerun_scores_the_same_from_cache(tmp_path: Path) -> None:
    repo = weather_repo(tmp_path / "repo")
    first = cli("run", "--json", "--repo", str(repo.root))
    exited(first, 0)
    (suite,) = json.loads(first.stdout)["suites"]
    (arm,) = suite["arms"]
    # paris: right (unit at its default is left out); lima: unit missing; oslo: no call
    assert arm["metrics"]["tool_call_match"]["mean"] == pytest.approx(1 / 3)
    # f1: paris 1, lima (2 of 2 made, 2 of 3 wanted) 0.8, oslo 0
    assert arm["metrics"]["tool_call_f1"]["mean"] == pytest.approx((1 + 0.8 + 0) / 3)
    con = sqlite3.connect(results_db(repo))
    stored = {
        json.loads(r)["messages"][-1]["content"]: c
        for r, c in con.execute("SELECT request, tool_calls FROM generations")
    }
    assert json.loads(stored["What is the weather in Paris?"]) == [
        {"name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    assert json.loads(stored["What time is it in Oslo?"]) == []
    (prov,) = [json.loads(r) for (r,) in con.execute("SELECT provenance FROM runs")]
    assert prov["tool_calling"] == "request"
    again = cli("run", "--json", "--repo", str(repo.root))
    exited(again, 0)
    (suite,) = json.loads(again.stdout)["suites"]
    assert suite["generated"] == 0
    assert suite["arms"][0]["metrics"]["tool_call_match"]["mean"] == pytest.approx(1 / 3)


def test_a_case_expecting_a_tool_the_prompt_does_not_offer_is_exit_2_naming_the_file_and_line(tmp_path: Path) -> None:
    cases = [*CASES[:2], {**CASES[2], "expected_calls": [{"name": "get_tme", "arguments": {"city": "Oslo"}}]}]
    repo = weather_repo(tmp_path / "repo", cases)
    out = cli("run", "--repo", str(repo.root))
    err = exited(out, 2)
    line = next(
        i for i, text in enumerate((repo.root / "evals/weather.yaml").read_text().split("\n"), 1) if "oslo" in text
    )
    assert f"evals/weather.yaml:{line}: expected_calls names the tool 'get_tme'" in err
    assert "did you mean get_time?" in err and count_rows(results_db(repo), "runs") == 0


def test_a_baseline_from_before_the_prompt_had_tools_is_run_and_scores_as_making_no_call(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    before = WEATHER_PROMPT[WEATHER_PROMPT.index("---\nsystem:") :]
    before = before.replace("{{ question }}", "In words: {{ question }}")
    repo.write("prompts/weather.prompt", "---\nvariables: [question]\n" + before)
    write_suite(
        repo,
        "weather",
        prompt="weather",
        cases=CASES,
        metrics=["tool_call_match"],
        model={"backend": "fake", "responses": {"In words": "It is sunny.", **ANSWERS}},
    )
    repo.commit("weather: answered in words")
    repo.write("prompts/weather.prompt", WEATHER_PROMPT)
    repo.commit("weather: call functions")
    out = cli("run", "--json", "--baseline", "HEAD~1", "--repo", str(repo.root))
    (suite,) = json.loads(out.stdout)["suites"]
    means = {arm["version"]: arm["metrics"]["tool_call_match"]["mean"] for arm in suite["arms"]}
    assert sorted(means.values()) == [0.0, pytest.approx(1 / 3)], out.stderr  # no call, then paris right
    # a typo is still bad input when no version being run offers the tool
    cases = [*CASES[:2], {**CASES[2], "expected_calls": [{"name": "get_tme", "arguments": {"city": "Oslo"}}]}]
    write_suite(repo, "weather", prompt="weather", cases=cases, metrics=["tool_call_match"])
    assert "expected_calls names the tool 'get_tme'" in exited(cli("run", "--repo", str(repo.root)), 2)


def test_a_prompt_whose_tool_schema_is_invalid_is_exit_2_naming_the_file_and_line(tmp_path: Path) -> None:
    repo = weather_repo(tmp_path / "repo")
    repo.write("prompts/weather.prompt", WEATHER_PROMPT.replace("enum: [celsius, fahrenheit]", "enum: celsius"))
    out = cli("run", "--repo", str(repo.root))
    assert "prompts/weather.prompt:15: tools[0].function.parameters['properties']['unit']['enum']" in exited(out, 2)


# --- the openai backend: sends `tools`, reads `tool_calls` ------------------------------------------------


def tool_call_reply(body: dict) -> tuple[int, dict[str, str], bytes]:
    """A server that calls get_weather for the city after "in" (in celsius), content null as OpenAI sends it."""
    words = body["messages"][-1]["content"].rstrip("?").split()
    city = words[words.index("in") + 1]
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps({"city": city, "unit": "celsius"})},
            }
        ],
    }
    choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
    data = json.dumps({"choices": [choice], "usage": {"prompt_tokens": 9, "completion_tokens": 12}}).encode()
    return 200, {"Content-Type": "application/json"}, data


def test_the_openai_backend_sends_the_tools_and_reads_the_calls_the_server_returns(tmp_path: Path) -> None:
    from tests.test_openai_backend import Scripted

    server = Scripted(tool_call_reply)
    try:
        repo = weather_repo(tmp_path / "repo")
        write_suite(
            repo,
            "weather",
            prompt="weather",
            cases=CASES[:2],
            metrics=["tool_call_match", "tool_call_f1"],
            model={"backend": "openai", "base_url": server.url, "model": "m", "concurrency": 1},
        )
        out = cli("run", "--json", "--repo", str(repo.root))
        exited(out, 0)
    finally:
        server.close()
    assert len(server.posts) == 2  # a content null that brings tool calls is an answer, not a failure to retry
    (sent,) = {json.dumps(post["tools"], sort_keys=True) for post in server.posts}
    prompt = parse_prompt(WEATHER_PROMPT, "weather", "prompts/weather.prompt")
    assert json.loads(sent) == [t.openai() for t in prompt.parameters.tools]
    (suite,) = json.loads(out.stdout)["suites"]
    metrics = suite["arms"][0]["metrics"]
    # paris: get_weather(Paris, unit at its default) is right; lima wanted fahrenheit: 2 of 3 items, F1 0.8
    assert metrics["tool_call_match"]["mean"] == pytest.approx(0.5)
    assert metrics["tool_call_f1"]["mean"] == pytest.approx((1 + 0.8) / 2)
    con = sqlite3.connect(results_db(repo))
    (prov,) = [json.loads(r) for (r,) in con.execute("SELECT provenance FROM runs")]
    assert prov["tool_calling"] == "api"


@pytest.mark.server
def test_a_real_llama_cpp_server_takes_the_tools_and_the_run_stores_the_calls(tmp_path: Path, llama_server) -> None:
    from tests.support.llama_server import MODEL_ALIAS

    repo = weather_repo(tmp_path / "repo")
    model = {"backend": "openai", "base_url": llama_server.base_url, "model": MODEL_ALIAS}
    write_suite(
        repo, "weather", prompt="weather", cases=CASES, metrics=["tool_call_match", "tool_call_f1"], model=model
    )
    out = cli("run", "--json", "--repo", str(repo.root))
    exited(out, 0)  # a server that refused `tools` would be exit 3
    (suite,) = json.loads(out.stdout)["suites"]
    assert suite["generated"] == len(CASES)
    con = sqlite3.connect(results_db(repo))
    calls = [json.loads(c) for (c,) in con.execute("SELECT tool_calls FROM generations")]
    assert len(calls) == len(CASES) and all(isinstance(c, list) for c in calls)  # stored, even when none
    scores = suite["arms"][0]["metrics"]["tool_call_f1"]["mean"]
    assert 0.0 <= scores <= 1.0


# --- the transformers backend on the embedded model ---------------------------------------------------------


@pytest.mark.model
def test_the_embedded_models_template_has_no_tools_so_they_go_in_the_system_message_and_calls_are_parsed() -> None:
    from promptarena.backends.transformers import TransformersBackend
    from promptarena.types import GenerationRequest

    prompt = parse_prompt(WEATHER_PROMPT.replace("max_new_tokens: 48", "max_new_tokens: 4"), "w", "w.prompt")
    backend = TransformersBackend()
    assert backend.tool_calling == "system-message"  # SmolLM2's chat template takes no tools
    messages = prompt.render({"question": "What is the weather in Paris?"}, "paris")
    fed = backend._load_tokenizer().decode(backend._encode(GenerationRequest(messages, prompt.parameters)))
    system = with_tools_in_system(messages, prompt.parameters.tools)[0].content
    assert system in fed and '<tools>\n{"type": "function", "function": {"name": "get_weather"' in fed
    (only,) = [g for _, g in backend.generate([GenerationRequest(messages, prompt.parameters)])]
    assert only.tool_calls == parse_tool_calls(only.text)  # a tuple (no call, likely, in 4 tokens), never None
    assert only.tool_calls is not None


@pytest.mark.model
def test_a_cached_run_with_tools_on_the_embedded_model_imports_nothing_heavy_and_records_the_way(
    tmp_path: Path,
) -> None:
    from tests.test_imports import HEAVY, _evals_importing

    repo = GitRepo(tmp_path / "repo")
    repo.write("prompts/weather.prompt", WEATHER_PROMPT.replace("max_new_tokens: 48", "max_new_tokens: 4"))
    model = {"backend": "transformers", "model": "default"}
    write_suite(repo, "weather", prompt="weather", cases=CASES[:1], metrics=["tool_call_match"], model=model)
    repo.commit("weather on the embedded model")
    first, output, _ = _evals_importing(["run"], repo.root, HEAVY)
    assert first == 0 and "1 generated" in output, output
    again, output, imported = _evals_importing(["run"], repo.root, HEAVY)
    assert again == 0 and "0 generated, 1 from cache" in output and imported == []
    con = sqlite3.connect(results_db(repo))
    assert {json.loads(p)["tool_calling"] for (p,) in con.execute("SELECT provenance FROM runs")} == {"system-message"}


def test_a_csv_column_of_expected_calls_is_json_text_and_never_a_variable(tmp_path: Path) -> None:
    from promptarena.suite import load_suite
    from promptarena.tools import case_calls

    repo = weather_repo(tmp_path / "repo")
    rows = [
        "id,question,expected_calls",
        'oslo,What time is it in Oslo?,"[{""name"": ""get_time"", ""arguments"": {""city"": ""Oslo""}}]"',
        "chat,Hello there!,[]",
        "free,Tell me a joke,",
    ]
    repo.write("evals/cases/weather.csv", "\n".join(rows) + "\n")
    write_suite(repo, "weather", prompt="weather", cases="cases/weather.csv", metrics=["tool_call_match"])
    suite = load_suite(repo.root / "evals" / "weather.yaml", repo.root)
    oslo, chat, free = suite.cases
    assert oslo.vars == {"question": "What time is it in Oslo?"}
    assert case_calls(oslo) == (call("get_time", city="Oslo"),)
    assert case_calls(chat) == ()  # expects that no function is called
    assert case_calls(free) is None  # states nothing: not scored
    repo.write("evals/cases/weather.csv", "id,question,expected_calls\nx,Hi,[{oops\n")
    with pytest.raises(ConfigError, match=r"weather\.csv:2: expected_calls is not JSON"):
        load_suite(repo.root / "evals" / "weather.yaml", repo.root)


TOOLS_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\nTOOLS {{ tools | tojson }}<|im_end|>\n{% endif %}"
    "{%- for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.mark.model
def test_a_template_that_takes_tools_gets_them_through_apply_chat_template(tmp_path: Path) -> None:
    from promptarena.backends.transformers import TransformersBackend
    from promptarena.backends.transformers._weights import resolve_model
    from promptarena.types import GenerationRequest

    source = resolve_model("default").path
    model = tmp_path / "model"
    model.mkdir()
    for file in source.iterdir():
        if file.name != "chat_template.jinja":
            (model / file.name).symlink_to(file)
    (model / "chat_template.jinja").write_text(TOOLS_TEMPLATE)
    backend = TransformersBackend(model=str(model))
    assert backend.tool_calling == "chat-template"
    prompt = parse_prompt(WEATHER_PROMPT, "w", "w.prompt")
    messages = prompt.render({"question": "What time is it in Oslo?"}, "oslo")
    fed = backend._load_tokenizer().decode(backend._encode(GenerationRequest(messages, prompt.parameters)))
    assert fed.startswith('<|im_start|>system\nTOOLS [{"type": "function", "function": {"name": "get_weather"')
    assert "# Tools" not in fed and "<|im_start|>system\nYou answer by calling a function.<|im_end|>" in fed


def test_the_messages_shown_for_a_draft_hold_the_tools_as_the_embedded_model_gets_them(tmp_path: Path) -> None:
    from promptarena import draft
    from promptarena.gitstore import PromptStore
    from promptarena.suite import load_suite

    repo = weather_repo(tmp_path / "repo")
    suite = load_suite(repo.root / "evals" / "weather.yaml", repo.root)
    with PromptStore(repo.root) as prompts:
        system, user = draft.render_case(prompts, "weather", WEATHER_PROMPT, suite.cases[0])
    assert system.content.startswith("You answer by calling a function.\n\n# Tools\n")
    assert '{"type": "function", "function": {"name": "get_time"' in system.content
    assert user.content == "What is the weather in Paris?"


def test_the_context_check_counts_the_tools_too() -> None:
    from promptarena.backends import check_context
    from promptarena.backends.fake import FakeBackend
    from promptarena.types import GenerationRequest

    prompt = parse_prompt(WEATHER_PROMPT, "w", "w.prompt")
    request = GenerationRequest(prompt.render({"question": "Time in Oslo?"}, "oslo"), prompt.parameters)
    bare = GenerationRequest(request.messages, GenParams(max_new_tokens=48))
    backend = FakeBackend(context_length=100)  # tokens are words: the messages alone fit, with the tools they don't
    check_context(backend, [(bare, "oslo")])
    with pytest.raises(ConfigError, match=r"^oslo: the prompt is \d+ tokens and max_new_tokens is 48"):
        check_context(backend, [(request, "oslo")])
