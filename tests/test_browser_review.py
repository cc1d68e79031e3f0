"""The review queue as a reviewer works through it in a real browser, with the keyboard alone: 50 outputs nobody
has voted on, each voted up or down by a key, one with a comment, one skipped and brought back, the messages the
model was sent shown beside each output, and progress counting down to nothing left."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from promptarena import feedback
from promptarena.backends.fake import FakeBackend
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from promptarena.types import GenerationRequest
from tests.support.browser import chromium_page, open_page, screenshots_dir, settle_rerun, workbench_server
from tests.support.git import GitRepo

pytestmark = pytest.mark.browser

CASES = 50

PROMPT = """---
description: Say the number back.
variables:
  n: a number
parameters:
  max_new_tokens: 8
---
system:
You repeat numbers. **Never** add words.

user:
7

assistant:
7

user:
{{ n }}
"""

SUITE = "prompt: echo\ncases: cases/echo.jsonl\nmetrics: [exact_match]\nvariants: [plain]\nversions: [HEAD]\n"


def echo(request: GenerationRequest) -> str:
    """A fake model that repeats the number, and misses every seventh."""
    n = int(request.messages[-1].content)
    return str(n + 1 if n % 7 == 0 else n)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("review")
    repo = GitRepo(root / "repo")
    repo.write("prompts/echo.prompt", PROMPT)
    repo.write("evals/echo.yaml", SUITE)
    lines = [f'{{"id": "n{n:02d}", "vars": {{"n": "{n}"}}, "reference": "{n}"}}' for n in range(CASES)]
    repo.write("evals/cases/echo.jsonl", "\n".join(lines) + "\n")
    repo.commit("An echo suite of 50 cases")
    db = root / "results.db"
    with PromptStore(repo.root) as store, ResultsStore(db) as results:
        suite = load_suite(repo.root / "evals" / "echo.yaml", repo.root)
        run_suite(suite, store, results, backend=FakeBackend(fn=echo))
    with workbench_server(repo.root, db, root / "streamlit.log") as url:
        yield url, db


@pytest.fixture
def page(tmp_path: Path) -> Iterator[object]:
    with chromium_page(tmp_path / "chromium-profile") as page:
        yield page


def _votes(db: Path) -> list[feedback.Vote]:
    with ResultsStore(db) as results:
        return feedback.votes(results, "echo")


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _current(page) -> str:  # noqa: ANN001 - a Playwright page
    """The case id of the output on screen."""
    text = page.get_by_text(re.compile(r"^Case n\d\d · arm ")).first.inner_text()
    return text.split()[1]


def test_a_reviewer_votes_through_fifty_outputs_with_the_keyboard_alone(served, page, tmp_path: Path) -> None:  # noqa: ANN001
    url, db = served
    open_page(page, f"{url}/Review?review_order=suite", "outputs left to review")
    page.wait_for_function("() => window.__promptarenaKeysOn === true", timeout=30_000)
    expect(page.get_by_text("50 of 50 outputs left to review")).to_have_count(1)
    for key, hint in (("up", "👍 (u)"), ("down", "👎 (d)"), ("skip", "Skip (n)"), ("back", "Back (p)")):
        expect(page.locator(f".st-key-queue-{key} button:visible")).to_have_text(hint)  # each key's visible hint
    expect(
        page.get_by_role("button", name=re.compile(r"^Thumbs up for output of arm \w+:plain, case n00$"))
    ).to_have_count(1)
    # what the model saw: the system message and the few-shot turn as sent, as text (the stars kept)
    expect(page.get_by_text("You repeat numbers. **Never** add words.")).to_have_count(1)
    expect(page.get_by_text("max_new_tokens=8", exact=False)).to_have_count(1)
    assert _current(page) == "n00"

    page.keyboard.press("n")  # skip the first one, then bring it back
    settle_rerun(page)
    assert _current(page) == "n01"
    page.keyboard.press("p")
    settle_rerun(page)
    assert _current(page) == "n00"

    seen = []
    for i in range(CASES):
        case = _current(page)
        seen.append(case)
        if i == 3:  # a comment: c focuses the box, Esc leaves it, the vote carries it
            page.keyboard.press("c")
            page.keyboard.type("reads well")
            page.keyboard.press("Escape")
            settle_rerun(page)
        page.keyboard.press("u" if i % 2 == 0 else "d")
        _until(lambda n=i + 1: len(_votes(db)) == n, f"vote {i + 1} to be stored")
        settle_rerun(page)
        if i < CASES - 1:
            _until(lambda case=case: _current(page) != case, f"the queue to move on from {case}")
    expect(page.get_by_text("0 of 50 outputs left to review")).to_have_count(1)
    expect(page.get_by_text("Nothing left to review here")).to_have_count(1)
    page.screenshot(path=str(screenshots_dir(tmp_path) / "review.png"))

    votes = _votes(db)
    assert sorted(seen) == [f"n{n:02d}" for n in range(CASES)]
    assert sorted(v.case_id for v in votes) == sorted(seen)
    by_case = {v.case_id: v for v in votes}
    assert [by_case[c].thumbs_up for c in seen] == [i % 2 == 0 for i in range(CASES)]
    assert by_case[seen[3]].comment == "reads well"
    assert len({v.voter for v in votes}) == 1
