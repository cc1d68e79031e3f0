"""What a person clicks: `evals ui` on a free loopback port, driven by Debian's Chromium through Playwright.

Needs ``apt-get install chromium`` and the ``playwright`` Python package (no Playwright browser download).
Screenshots of every page go to ``$PROMPTARENA_SCREENSHOTS`` when set (docs/screenshots for the README),
else into the test's temporary folder.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from promptarena import feedback
from promptarena.store import ResultsStore
from tests.support.browser import open_page, screenshots_dir, settle
from tests.support.workbench import XSS_IMG, XSS_SCRIPT, Workbench

pytestmark = pytest.mark.browser

PAGES = [
    ("", "overview", "Overview"),
    ("Prompt_history", "prompt_history", "Commits"),
    ("Compare", "compare", "Outputs side by side"),
    ("Case_explorer", "case_explorer", "Extracted answer"),
    ("Runs", "runs", "Run details"),
    ("Start_a_run", "start_a_run", "Start run"),
]


def test_thumbs_up_on_compare_lands_in_sqlite(server, page, tmp_path: Path) -> None:  # noqa: ANN001
    url, bench = server
    open_page(page, f"{url}/Compare", "Outputs side by side")
    before = _votes(bench)
    page.get_by_role("button", name=re.compile(r"^Thumbs up for output of arm ")).first.click()
    deadline = time.monotonic() + 15
    while len(_votes(bench)) == len(before) and time.monotonic() < deadline:
        time.sleep(0.2)
    settle(page)  # the vote was written by the rerun the click started; let it finish drawing
    after = _votes(bench)
    assert len(after) == len(before) + 1
    vote = after[0]
    assert vote.thumbs_up and vote.suite == "math" and vote.variant == "plain"
    # the outputs with HTML are on the page as text, and nothing of them ran
    body = page.inner_text("body")
    assert XSS_SCRIPT in body and XSS_IMG in body
    assert page.locator("img[src='x']").count() == 0
    assert page.dialogs == []  # type: ignore[attr-defined]
    page.screenshot(path=str(screenshots_dir(tmp_path) / "compare.png"))


def _votes(bench: Workbench) -> list[feedback.Vote]:
    with ResultsStore(bench.db) as results:
        return feedback.votes(results, "math")


@pytest.mark.parametrize(("path", "name", "marker"), PAGES)
def test_every_page_renders_in_the_browser(server, page, tmp_path: Path, path, name, marker) -> None:  # noqa: ANN001
    url, _ = server
    open_page(page, f"{url}/{path}", marker)
    assert page.locator('[data-testid="stException"]').count() == 0
    if name == "case_explorer":
        page.get_by_text("All 3 samples").first.click()  # unfold the samples of self-consistency
        page.wait_for_timeout(500)
        page.evaluate("() => document.querySelectorAll('*').forEach(e => { if (e.scrollTop) e.scrollTop = 0; })")
    if name != "compare":
        page.screenshot(path=str(screenshots_dir(tmp_path) / f"{name}.png"))
