"""Cases that converse: prior `messages:` after the template's own, and `turns:` answered one after another, each
with the model's earlier answers in context. A real git repository in tmp_path, answered by the fake backend."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptarena.backends.fake import FakeBackend
from promptarena.engine import run_suite
from promptarena.errors import ConfigError
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from promptarena.types import GenerationRequest, Message
from tests.support.cli import cli, evals, exited
from tests.support.git import GitRepo
from tests.support.llama_server import MODEL_ALIAS, LlamaServer
from tests.support.repos import count_rows, results_db

CHAT = """---
description: a travel agent
variables:
  city: where the traveller goes
parameters:
  max_new_tokens: 8
---
system:
You are a travel agent.

user:
I want to go to {{ city }}.
"""


def _reply(request: GenerationRequest) -> str:
    """The fake model's answer: how many user turns it has seen, and the last one's text."""
    users = [m for m in request.messages if m.role == "user"]
    return f"reply {len(users)} to {users[-1].content}"


def _repo(tmp_path: Path, cases: list[dict[str, Any]], prompt: str = CHAT, **fields: Any) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.write("prompts/chat.prompt", prompt)
    doc = {
        "prompt": "chat",
        "cases": cases,
        "assert": [{"type": "contains", "value": "Paris"}],
        "model": {"backend": "fake"},
        **fields,
    }
    repo.write("evals/chat.yaml", yaml.safe_dump(doc, sort_keys=False))
    repo.commit("chat: first version")
    return repo


def _run(repo: GitRepo, tmp_path: Path, backend: FakeBackend | None = None):
    store = PromptStore(repo.root)
    suite = load_suite(repo.root / "evals" / "chat.yaml", repo.root)
    results = ResultsStore(tmp_path / "results.db")
    try:
        backend = backend or FakeBackend(fn=_reply)
        return run_suite(suite, store, results, backend=backend), backend
    finally:
        results.close()
        store.close()


TURNS = [{"id": "trip", "vars": {"city": "Paris"}, "turns": ["And a hotel?", "In {{ city }}, near the river?"]}]


def test_each_turn_is_answered_with_the_earlier_answers_in_context(tmp_path: Path) -> None:
    repo = _repo(tmp_path, TURNS)
    out, backend = _run(repo, tmp_path)
    last = [m.content for m in backend.history[-1].messages]
    assert last == [
        "You are a travel agent.",
        "I want to go to Paris.",
        "reply 1 to I want to go to Paris.",
        "And a hotel?",
        "reply 2 to And a hotel?",
        "In Paris, near the river?",  # variables work in every turn
    ]
    assert len(backend.history) == 3  # the opening, then each turn
    arm = out.arms[0]
    assert arm.predictions[0].output == "reply 3 to In Paris, near the river?"
    assert arm.scores["assertions"] == [1.0]  # the last answer is scored
    conversation = arm.predictions[0].details["conversation"]
    assert [(m["role"], m.get("turn")) for m in conversation] == [
        ("system", None),
        ("user", None),
        ("assistant", 0),
        ("user", None),
        ("assistant", 1),
        ("user", None),
        ("assistant", 2),
    ]
    assert [m.get("answer") for m in conversation if m["role"] == "assistant"] == [
        None,
        None,
        arm.predictions[0].answer,
    ]

    again, backend = _run(repo, tmp_path)
    assert again.generated == 0 and backend.history == []  # every turn is a cached request


def test_every_turn_is_scored_and_kept(tmp_path: Path) -> None:
    cases = [{**TURNS[0], "reference": "Paris"}]
    repo = _repo(tmp_path, cases, score_turns="every", metrics=["contains", "completion_tokens", "assertions"])
    out, _ = _run(repo, tmp_path)
    arm = out.arms[0]
    assert arm.scores["contains"] == [0.0]  # pass/fail: a conversation passes when every turn passes
    assert arm.scores["completion_tokens"] == [pytest.approx((8 + 6 + 8) / 3)]  # otherwise the mean over turns
    stored = next(r for r in _rows(tmp_path) if r["case_id"] == "trip")
    assert stored["reasons"]["assertions"].startswith("turns 1: 1, 2: 0, 3: 1")
    conversation = arm.predictions[0].details["conversation"]
    assert [m.get("answer") for m in conversation if m["role"] == "assistant"] == [
        "reply 1 to I want to go to Paris.",
        "reply 2 to And a hotel?",
        "reply 3 to In Paris, near the river?",
    ]


def test_prior_messages_follow_the_template_with_variables_rendered(tmp_path: Path) -> None:
    messages = [
        {"role": "assistant", "content": "Lovely. When?"},
        {"role": "user", "content": "In May. Which museum in {{ city }}?"},
    ]
    repo = _repo(tmp_path, [{"id": "logs", "vars": {"city": "Paris"}, "messages": messages}])
    out, backend = _run(repo, tmp_path)
    (request,) = backend.history
    assert request.messages[1:] == (
        Message("user", "I want to go to Paris."),
        Message("assistant", "Lovely. When?"),
        Message("user", "In May. Which museum in Paris?"),
    )
    assert (
        out.arms[0].predictions[0].details["conversation"][-1]["content"] == "reply 2 to In May. Which museum in Paris?"
    )


def test_chain_of_thought_applies_to_the_scored_turn_only(tmp_path: Path) -> None:
    repo = _repo(tmp_path, TURNS, variants=["cot"])
    _, backend = _run(repo, tmp_path)
    asked = [r.messages[-1].content for r in backend.history]
    assert ["step by step" in text for text in asked] == [False, False, True]


def test_a_missing_variable_in_a_turn_names_prompt_variable_and_case(tmp_path: Path) -> None:
    cases = [{"id": "trip", "vars": {"city": "Paris"}, "turns": ["Is it {{ weather }}?"]}]
    repo = _repo(tmp_path, cases)
    backend = FakeBackend(fn=_reply)
    with pytest.raises(ConfigError) as err:
        _run(repo, tmp_path, backend)
    line = _line(repo, "- id: trip")
    assert f"evals/chat.yaml:{line}: prompt 'chat' needs variable 'weather' in turns[0], missing in case 'trip'" in str(
        err.value
    )
    assert backend.history == []


def test_context_is_checked_on_the_longest_conversation(tmp_path: Path) -> None:
    # the opening fits in 30 words with 8 new tokens; with two earlier answers of up to 8 tokens each it does not
    repo = _repo(tmp_path, TURNS)
    backend = FakeBackend(fn=_reply, context_length=30)
    with pytest.raises(ConfigError, match="context of 30 tokens"):
        _run(repo, tmp_path, backend)
    assert backend.history == []


@pytest.mark.parametrize(
    ("case", "line_of", "expected"),
    [
        ({"id": "a", "vars": {"city": "Rome"}, "messages": [{"role": "bot", "content": "hi"}]}, "  - role: bot",
         "cases[0].messages[0].role: Input should be 'system', 'user' or 'assistant'"),
        ({"id": "a", "vars": {"city": "Rome"}, "messages": [{"role": "user"}]}, "  - role: user",
         "cases[0].messages[0].content: Field required"),
        ({"id": "a", "vars": {"city": "Rome"}, "messages": "hello"}, "  messages: hello",
         "cases[0].messages: Input should be a valid list"),
        ({"id": "a", "vars": {"city": "Rome"}, "turns": "And then?"}, "  turns: And then?",
         "cases[0].turns: Input should be a valid list"),
    ],
)  # fmt: skip
def test_bad_conversations_are_refused_at_their_line(
    tmp_path: Path, case: dict[str, Any], line_of: str, expected: str
) -> None:
    repo = _repo(tmp_path, [case])
    message = exited(cli("run", "--repo", str(repo.root)), 2)
    assert f"evals/chat.yaml:{_line(repo, line_of)}: {expected}" in message


def test_turns_on_a_template_that_ends_with_an_assistant_turn_are_refused(tmp_path: Path) -> None:
    prompt = CHAT + "\nassistant:\nWhere to?\n"
    repo = _repo(tmp_path, TURNS, prompt=prompt)
    message = exited(cli("run", "--repo", str(repo.root)), 2)
    line = _line(repo, "- id: trip")
    assert re.search(
        rf"evals/chat.yaml:{line}: case 'trip' brings `turns:`, but prompt 'chat' ends \(prompts/chat.prompt@\w+:14\) "
        "with an assistant turn",
        message,
    )
    assert count_rows(results_db(repo), "runs") == 0  # refused before any run is recorded


def test_a_case_file_line_brings_a_conversation(tmp_path: Path) -> None:
    repo = _repo(tmp_path, TURNS)
    rows = [
        '{"id": "log1", "vars": {"city": "Paris"}, "messages": [{"role": "assistant", "content": "When?"}, '
        '{"role": "user", "content": "May"}]}',
        '{"id": "log2", "vars": {"city": "Oslo"}, "messages": [{"role": "robot", "content": "When?"}]}',
    ]
    repo.write("evals/cases/chat.jsonl", "\n".join(rows) + "\n")
    doc = yaml.safe_load((repo.root / "evals" / "chat.yaml").read_text())
    repo.write("evals/chat.yaml", yaml.safe_dump({**doc, "cases": "cases/chat.jsonl"}, sort_keys=False))
    message = exited(cli("run", "--repo", str(repo.root)), 2)
    assert "evals/cases/chat.jsonl:2: messages[0].role: Input should be 'system', 'user' or 'assistant'" in message
    repo.write("evals/cases/chat.jsonl", rows[0] + "\n")
    suite = load_suite(repo.root / "evals" / "chat.yaml", repo.root)
    assert suite.cases[0].messages == (Message("assistant", "When?"), Message("user", "May"))


def _line(repo: GitRepo, text: str) -> int:
    return 1 + (repo.root / "evals" / "chat.yaml").read_text().splitlines().index(text)


def _rows(tmp_path: Path) -> list[dict[str, Any]]:
    con = sqlite3.connect(tmp_path / "results.db")
    try:
        con.row_factory = sqlite3.Row
        return [
            {**dict(r), "reasons": json.loads(r["details"]).get("reasons", {})}
            for r in con.execute("SELECT * FROM results")
        ]
    finally:
        con.close()


def test_the_example_suite_converses() -> None:
    root = Path(__file__).parents[1]
    suite = load_suite(root / "evals" / "shop_chat.yaml", root)
    by_id = {case.id: case for case in suite.cases}
    assert by_id["repair-price"].turns and by_id["service-time"].messages[-1].role == "user"
    assert suite.score_turns == "last"


# --- on real models: the embedded one, and llama.cpp's server through the OpenAI-compatible backend -----------


def _two_turns(tmp_path: Path, model: dict[str, Any]) -> tuple[GitRepo, list[dict[str, Any]]]:
    """A suite of one conversation of two answers on ``model``, run twice through the CLI; the stored requests."""
    cases = [{"id": "trip", "vars": {"city": "Paris"}, "turns": ["Name one museum there."], "reference": "Louvre"}]
    repo = _repo(tmp_path, cases, metrics=["contains"], model=model)
    first = evals("run", "--json", cwd=repo.root)
    assert first.returncode == 0, first.stderr
    (suite,) = json.loads(first.stdout)["suites"]
    assert suite["generated"] == 2 and suite["cached"] == 0
    again = evals("run", "--json", cwd=repo.root)
    (suite,) = json.loads(again.stdout)["suites"]
    assert suite["generated"] == 0 and suite["cached"] == 2  # each turn is a cached request
    con = sqlite3.connect(results_db(repo))
    try:
        requests = [json.loads(r) for (r,) in con.execute("SELECT request FROM generations ORDER BY created_at")]
        (details,) = [json.loads(d) for (d,) in con.execute("SELECT details FROM results LIMIT 1")]
    finally:
        con.close()
    opening, second = sorted(requests, key=lambda r: len(r["messages"]))
    answer = details["conversation"][2]
    assert answer["role"] == "assistant" and answer["turn"] == 0 and answer["content"].strip()
    # the second turn's request holds the model's own first answer, then the user's next turn
    assert second["messages"][:2] == opening["messages"]
    assert second["messages"][2:] == [
        {"role": "assistant", "content": answer["content"]},
        {"role": "user", "content": "Name one museum there."},
    ]
    return repo, requests


@pytest.mark.model
def test_a_conversation_on_the_embedded_model(tmp_path: Path) -> None:
    _two_turns(tmp_path, {"backend": "transformers", "model": "default"})


@pytest.mark.server
def test_a_conversation_through_the_openai_backend(tmp_path: Path, llama_server: LlamaServer) -> None:
    _two_turns(tmp_path, {"backend": "openai", "base_url": llama_server.base_url, "model": MODEL_ALIAS})


def test_a_csv_row_brings_messages_as_json_and_its_variables_count_as_used(tmp_path: Path) -> None:
    repo = _repo(tmp_path, TURNS)
    repo.write(
        "evals/cases/chat.csv",
        'id,city,mood,messages\nc1,Rome,calm,"[{""role"": ""user"", ""content"": ""I feel {{ mood }}.""}]"\n',
    )
    doc = yaml.safe_load((repo.root / "evals" / "chat.yaml").read_text())
    repo.write("evals/chat.yaml", yaml.safe_dump({**doc, "cases": "cases/chat.csv"}, sort_keys=False))
    out, backend = _run(repo, tmp_path)
    assert backend.history[0].messages[-1] == Message("user", "I feel calm.")
    result = cli("run", "--repo", str(repo.root))
    assert result.exit_code == 0 and "never uses" not in result.output  # `mood` is used by the case's message


def test_self_consistency_samples_the_scored_turn_only(tmp_path: Path) -> None:
    repo = _repo(tmp_path, TURNS, variants=[{"self_consistency": {"samples": 3}}])
    out, backend = _run(repo, tmp_path)
    assert [r.params.temperature for r in backend.history] == [0.0, 0.0, 0.7, 0.7, 0.7]
    assert out.arms[0].predictions[0].confidence == 1.0  # the fake answers every sample alike
