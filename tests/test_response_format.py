"""`response_format:` in a prompt's parameters: its forms, its errors (file and line), its place in the cache key."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from promptarena.errors import ConfigError
from promptarena.promptfile import parse_prompt
from promptarena.response_format import schema_of
from promptarena.types import GenerationRequest, Message
from tests.support.cli import cli, exited
from tests.support.repos import count_rows, edit_suite, qa_repo, results_db

SOURCE = "prompts/order.prompt"

ORDER = """\
---
description: an order as JSON
parameters:
  max_new_tokens: 32
  response_format:
    type: json_schema
    json_schema:
      name: order
      schema:
        type: object
        properties:
          item: {type: string}
          quantity: {type: integer, minimum: 1}
        required: [item, quantity]
---
user:
Two coffees, please.
"""

SCHEMA = {
    "type": "object",
    "properties": {"item": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}},
    "required": ["item", "quantity"],
}


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_prompt(text, "order", SOURCE)
    return str(info.value)


def test_the_openai_shape_is_carried_as_canonical_json_and_its_schema_read_back() -> None:
    params = parse_prompt(ORDER, "order", SOURCE).parameters
    assert json.loads(params.response_format) == {
        "type": "json_schema",
        "json_schema": {"name": "order", "schema": SCHEMA},
    }
    assert schema_of(params.response_format) == SCHEMA


@pytest.mark.parametrize(
    ("block", "schema"),
    [
        ("  response_format: {type: json_object}\n", None),
        ("  response_format: {type: json_object, schema: {type: object}}\n", {"type": "object"}),
    ],
)
def test_json_object_is_accepted_with_or_without_a_schema(block: str, schema: dict | None) -> None:
    text = ORDER.split("  response_format:")[0] + block + "---\nuser:\nhi\n"
    params = parse_prompt(text, "order", SOURCE).parameters
    assert json.loads(params.response_format)["type"] == "json_object"
    assert schema_of(params.response_format) == schema


def test_constrained_and_free_requests_are_different_cache_keys_and_free_keys_did_not_change() -> None:
    constrained = parse_prompt(ORDER, "order", SOURCE).parameters
    free = dataclasses.replace(constrained, response_format=None)
    assert "response_format" not in free.identity()  # keys made before response_format existed stay valid
    messages = (Message("user", "Two coffees, please."),)
    key = GenerationRequest(messages, constrained).key("m")
    assert GenerationRequest(messages, free).key("m") != key
    other = parse_prompt(ORDER.replace("minimum: 1", "minimum: 2"), "order", SOURCE).parameters
    assert GenerationRequest(messages, other).key("m") != key


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "quantity: {type: integer, minimum: 1}",
            "quantity: {type: integr, minimum: 1}",
            f"{SOURCE}:13: parameters.response_format: json_schema.schema is not a valid JSON Schema: "
            "$.properties.quantity.type: 'integr' is not valid under any of the given schemas; fix the schema",
        ),
        ("type: json_schema\n", "type: json\n", f"{SOURCE}:6: parameters.response_format: type: Input should be"),
        (
            "    json_schema:\n      name: order\n",
            "    json_schema:\n      title: order\n",
            f"{SOURCE}:7: parameters.response_format: json_schema.name: Field required",
        ),
        (
            "    type: json_schema\n",
            "    type: json_object\n",
            f"{SOURCE}:5: parameters.response_format: `json_schema:` goes with type: json_schema, not json_object",
        ),
    ],
)
def test_a_wrong_response_format_names_the_file_and_line(old: str, new: str, expected: str) -> None:
    assert old in ORDER
    assert error_of(ORDER.replace(old, new)).startswith(expected)


def test_an_invalid_schema_exits_2_naming_the_file_and_line_and_writes_nothing(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    text = (repo.root / "prompts" / "qa.prompt").read_text()
    bad = "  response_format:\n    type: json_object\n    schema: {type: objekt}\n"
    repo.write("prompts/qa.prompt", text.replace("answer:\n", bad + "answer:\n"))
    repo.commit("qa: answer in JSON")
    err = exited(cli("run", "--repo", str(repo.root)), 2)
    assert re.search(
        r"prompts/qa.prompt@\w+:9: parameters.response_format: schema is not a valid JSON Schema: \$.type:", err
    )
    assert count_rows(results_db(repo), "generations") == 0


def test_a_schema_the_grammar_engine_cannot_follow_is_exit_2_before_any_model_call(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    text = (repo.root / "prompts" / "qa.prompt").read_text()
    lookahead = "  response_format:\n    type: json_object\n    schema: {type: string, pattern: '(?=P)[A-Z].*'}\n"
    repo.write("prompts/qa.prompt", text.replace("answer:\n", lookahead + "answer:\n"))
    edit_suite(repo, model={"backend": "transformers", "model": "default"}, versions=["HEAD"])
    repo.commit("qa: answers that start with P")
    err = exited(cli("run", "--repo", str(repo.root)), 2)
    place = r"evals/cases/qa.jsonl:1: case 'france' \(version qa@\w+\)"
    assert re.search(place + ": response_format: the transformers backend cannot constrain decoding", err)
    assert "look-around" in err and "leave it out and check answers with a json_schema assertion" in err
    assert count_rows(results_db(repo), "runs") == 0  # refused before the run, the model never loaded
