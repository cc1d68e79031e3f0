"""Constrained decoding on the real embedded model: a request with a response_format always answers JSON that
matches its schema, greedy or sampled, on topic or not; its tokens do not depend on its batch, and the free
requests beside it are not touched."""

from __future__ import annotations

import json

import pytest
from jsonschema import validate

from promptarena.backends.transformers import TransformersBackend
from promptarena.hashing import canonical_json
from promptarena.types import GenerationRequest, GenParams, Message

pytestmark = pytest.mark.model

ORDER = {
    "type": "object",
    "properties": {"item": {"type": "string", "maxLength": 30}, "quantity": {"type": "integer", "minimum": 1}},
    "required": ["item", "quantity"],
    "additionalProperties": False,
}
REVIEW = {
    "type": "object",
    "properties": {
        "sentiment": {"enum": ["positive", "negative", "neutral"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 3},
    },
    "required": ["sentiment", "tags"],
}
FORMATS = {
    "order": {"type": "json_schema", "json_schema": {"name": "order", "schema": ORDER}},
    "review": {"type": "json_object", "schema": REVIEW},
}
QUESTIONS = [
    "Two coffees, please.",
    "Five croissants to take away.",
    "The film was long but the music was wonderful.",
    "Write a poem about the sea.",  # off topic: the answer is still the schema's JSON
]


def ask(text: str, form: str | None, temperature: float = 0.0, sample: int = 0) -> GenerationRequest:
    messages = (Message("system", "Reply in JSON."), Message("user", text))
    response_format = canonical_json(FORMATS[form]) if form else None
    params = GenParams(max_new_tokens=48, temperature=temperature, response_format=response_format)
    return GenerationRequest(messages, params, seed=0, sample_index=sample)


@pytest.fixture(scope="module")
def backend() -> TransformersBackend:
    return TransformersBackend()


def test_every_constrained_answer_parses_and_matches_its_schema(backend: TransformersBackend) -> None:
    requests = [ask(q, form) for q in QUESTIONS for form in FORMATS]
    requests += [ask(q, form, temperature=1.0, sample=s) for q in QUESTIONS[:2] for form in FORMATS for s in (0, 1)]
    out = dict(backend.generate(requests))
    for i, request in enumerate(requests):
        schema = json.loads(request.params.response_format)
        schema = schema["json_schema"]["schema"] if "json_schema" in schema else schema["schema"]
        generation = out[i]
        assert generation.finish_reason == "stop", generation.text
        validate(json.loads(generation.text), schema)


def test_a_constrained_row_is_batch_invariant_and_free_rows_are_untouched(backend: TransformersBackend) -> None:
    mine = [ask(QUESTIONS[0], "order"), ask(QUESTIONS[1], None)]
    alone = [dict(backend.generate([r]))[0].text for r in mine]
    crowd = [ask(q, form, temperature=0.7, sample=s) for q in QUESTIONS for form in (*FORMATS, None) for s in (0,)]
    together = dict(backend.generate([*mine, *crowd]))
    assert [together[0].text, together[1].text] == alone
    assert not alone[1].startswith("{")  # the free request was not pushed into JSON by its neighbours
