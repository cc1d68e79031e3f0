"""A selector always shows what the page shows, in a real browser: after the suite (Compare) or the prompt (Prompt
history) changes, the selectors that depend on it show the defaults the page uses, picking another one leaves them
as they are (in the page and in the URL), and Back restores a view whose selectors match it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from promptarena.backends.fake import FakeBackend
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from tests.support.browser import chromium_page, open_page, settle, settle_rerun, workbench_server
from tests.support.workbench import Workbench, build_workbench, fake_answer

pytestmark = pytest.mark.browser

OTHER = "---\ndescription: Greet.\n---\nuser:\nSay {greeting}.\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Workbench]]:
    """The workbench fixture with its second suite run too, and a second prompt with two commits."""
    root = tmp_path_factory.mktemp("selectors")
    bench = build_workbench(root)
    with PromptStore(bench.repo.root) as store, ResultsStore(bench.db) as results:
        suite = load_suite(bench.repo.root / "evals" / "never_run.yaml", bench.repo.root)
        run_suite(suite, store, results, backend=FakeBackend(fn=fake_answer))
    bench.repo.write("prompts/greet.prompt", OTHER.format(greeting="hello"))
    bench.repo.commit("Add a greeting", paths=("prompts/greet.prompt",))  # the math prompt's edit stays uncommitted
    bench.repo.write("prompts/greet.prompt", OTHER.format(greeting="hi"))
    bench.repo.commit("A shorter greeting", paths=("prompts/greet.prompt",))
    with workbench_server(bench.repo.root, bench.db, root / "streamlit.log") as url:
        yield url, bench


@pytest.fixture
def page(tmp_path: Path) -> Iterator[object]:
    with chromium_page(tmp_path / "chromium-profile") as page:
        yield page


def _pick(page, label: str, option: str) -> None:  # noqa: ANN001 - a Playwright page
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option).first.click()
    settle_rerun(page)


def _shown(page, label: str) -> str:  # noqa: ANN001
    """What a selector shows."""
    return page.get_by_role("combobox", name=label).input_value()


def _compared(page) -> tuple[str, str]:  # noqa: ANN001
    """The arms the Compare page shows outputs of (the first case's captions 'A · label · scores')."""
    captions = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
    a = next(c for c in captions if c.startswith("A · "))
    b = next(c for c in captions if c.startswith("B · "))
    return a.split(" · ")[1], b.split(" · ")[1]


def _consistent(page) -> tuple[str, str]:  # noqa: ANN001
    """The arms the page shows, once the selectors show them too (a redraw may still be on its way: 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        a, b = _compared(page)
        shown = _shown(page, "A (baseline)").split(" — ")[0], _shown(page, "B (candidate)").split(" — ")[0]
        if shown == (a, b) or time.monotonic() > deadline:
            assert shown == (a, b), f"the selectors show {shown}, the page shows {(a, b)}"
            return a, b
        time.sleep(0.2)


def _query(page) -> dict[str, list[str]]:  # noqa: ANN001
    return parse_qs(urlparse(page.url).query)


def test_compare_selectors_follow_the_suite_and_back(served, page) -> None:  # noqa: ANN001
    url, bench = served
    v1, v2 = bench.commits[0][:7], bench.commits[1][:7]
    open_page(page, f"{url}/Compare", "Outputs side by side")
    assert _consistent(page) == (f"{v2}:plain", "worktree:plain")
    _pick(page, "A (baseline)", f"{v1}:plain")
    assert _consistent(page) == (f"{v1}:plain", "worktree:plain")

    _pick(page, "Suite", "never_run")  # its arms: the same labels, plain only; A goes back to its default
    assert _consistent(page) == (f"{v2}:plain", "worktree:plain")
    _pick(page, "B (candidate)", f"{v1}:plain")
    assert _consistent(page) == (f"{v2}:plain", f"{v1}:plain")
    assert "arm_a" not in _query(page)  # picking B did not bring back the other suite's A

    seen = []
    for _ in range(3):  # back through the views: each one's selectors match it, the first pick among them
        page.go_back()
        settle_rerun(page)
        seen.append(_consistent(page))
    assert (f"{v1}:plain", "worktree:plain") in seen


def test_prompt_history_versions_follow_the_prompt(served, page) -> None:  # noqa: ANN001
    url, bench = served
    open_page(page, f"{url}/Prompt_history?history_prompt=math", "Commits")
    _pick(page, "From (older)", f"{bench.commits[0][:7]} — Add the math prompt")
    assert _shown(page, "From (older)").startswith(bench.commits[0][:7])
    _pick(page, "Prompt", "greet")
    newest, older = _shown(page, "To (newer)"), _shown(page, "From (older)")
    assert newest.split(" — ")[1].startswith("A shorter greeting") and older.split(" — ")[1].startswith(
        "Add a greeting"
    )
    _pick(page, "To (newer)", older)  # another choice: nothing of math's comes back with it
    assert "diff_a" not in _query(page) and _shown(page, "From (older)") == older
    assert _query(page).get("history_prompt", ["greet"]) == ["greet"]  # greet: the first prompt, the default


def _sidebar(page, name: str) -> None:  # noqa: ANN001
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name, exact=True).click()
    page.wait_for_timeout(300)
    settle(page)


def test_sidebar_navigation_comes_back_to_each_pages_selections(served, page) -> None:  # noqa: ANN001
    url, bench = served
    v1 = bench.commits[0][:7]
    open_page(page, f"{url}/Compare", "Outputs side by side")
    _pick(page, "A (baseline)", f"{v1}:plain")
    _sidebar(page, "Case explorer")
    page.get_by_text("Extracted answer").first.wait_for(timeout=30_000)
    _pick(page, "Case", "nine_plus_nine")
    _sidebar(page, "Compare")
    page.get_by_text("Outputs side by side").first.wait_for(timeout=30_000)
    assert _consistent(page) == (f"{v1}:plain", "worktree:plain")
    assert _query(page)["arm_a"][0].startswith(f"{v1}:plain")
    _sidebar(page, "Case explorer")
    page.get_by_text("Extracted answer").first.wait_for(timeout=30_000)
    assert _shown(page, "Case") == "nine_plus_nine"


def test_each_page_is_titled_as_the_sidebar_names_it(served, page) -> None:  # noqa: ANN001
    url, _ = served
    open_page(page, f"{url}/Runs", "Run details")
    names = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    assert len(names) >= 9
    for name in names:  # the entry script (Overview) too
        _sidebar(page, name.strip())
        title = page.locator("h1").first.inner_text()
        assert title.split(" ", 1)[1].strip() == name.strip()
