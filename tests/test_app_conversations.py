"""The workbench shows a conversation turn by turn, in the Case explorer and in Compare (Streamlit's AppTest,
against a database the real engine filled from a real git repository, answered by the fake backend)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.cli import cli
from tests.support.repos import results_db
from tests.support.workbench import app_page, ok, point_app_at
from tests.test_conversations import CHAT, TURNS, _repo


@pytest.fixture()
def conversed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two versions of a chat prompt, evaluated on a case of two turns; the pages read them."""
    repo = _repo(tmp_path, TURNS, model={"backend": "fake", "default": "We open at 9."})
    repo.write("prompts/chat.prompt", CHAT.replace("a travel agent.", "a kind travel agent."))
    repo.commit("chat: be kind")
    assert cli("run", "--repo", str(repo.root)).exit_code == 0
    point_app_at(monkeypatch, repo.root, results_db(repo))


def _turns(at: AppTest) -> list[tuple[str, str, str]]:
    """Each chat message shown: (its role, its caption, its text)."""
    return [(m.name, m.caption[0].value, m.code[0].value) for m in at.get("chat_message")]


def test_the_case_explorer_shows_each_message_and_answer_by_turn(conversed: None) -> None:
    at = ok(app_page("pages/3_Case_explorer.py").run())
    shown = _turns(at)
    first = shown[: len(shown) // len(at.multiselect(key="explorer_arms").value)]
    assert [(role, caption) for role, caption, _ in first] == [
        ("system", "system"),
        ("user", "user"),
        ("assistant", "assistant · answer to turn 1"),
        ("user", "user"),
        ("assistant", "assistant · answer to turn 2"),
        ("user", "user"),
        ("assistant", "assistant · answer to turn 3 · scored, answer: We open at 9."),
    ]
    assert first[5][2] == "In Paris, near the river?"


def test_compare_shows_both_conversations_turn_by_turn(conversed: None) -> None:
    at = ok(app_page("pages/2_Compare.py").run())
    shown = _turns(at)
    assert len(shown) == 14 and [t[0] for t in shown].count("assistant") == 6
    assert {text for role, _, text in shown if role == "system"} == {
        "You are a travel agent.",
        "You are a kind travel agent.",
    }
