"""What a person clicks: `evals ui` on a free loopback port, driven by Debian's Chromium through Playwright.

Needs ``apt-get install chromium`` and the ``playwright`` Python package (no Playwright browser download).
Screenshots of every page go to ``$PROMPTARENA_SCREENSHOTS`` when set (docs/screenshots for the README),
else into the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptarena import feedback
from promptarena.store import ResultsStore
from tests.support.net import free_port, wait_for_streamlit
from tests.support.workbench import XSS_IMG, XSS_SCRIPT, Workbench, build_workbench

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = [
    ("", "overview", "Overview"),
    ("Prompt_history", "prompt_history", "Commits"),
    ("Compare", "compare", "Outputs side by side"),
    ("Case_explorer", "case_explorer", "Extracted answer"),
    ("Runs", "runs", "Run details"),
    ("Start_a_run", "start_a_run", "Start run"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Workbench]]:
    """`evals ui` on the fixture repository and database; yields its base URL."""
    if not Path(CHROMIUM).exists() or shutil.which("git") is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)")
    bench = build_workbench(tmp_path_factory.mktemp("browser"))
    port = free_port()
    log = (tmp_path_factory.getbasetemp() / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from promptarena.cli import main; main()", "ui"]
        + ["--repo", str(bench.repo.root), "--db", str(bench.db), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if k != "PROMPTARENA_DB"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_streamlit(url, proc):
            pytest.fail(f"the workbench did not start: {Path(log.name).read_text()[-2000:]}")
        yield url, bench
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("the browser test needs Playwright's Python package: pip install -e '.[dev]'")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=False,  # --headless=new is in FLAGS
            args=FLAGS,
            viewport={"width": 1440, "height": 1500},
        )
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.dialogs = dialogs  # type: ignore[attr-defined]
        yield page
        context.close()


def screenshots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PROMPTARENA_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# Streamlit marks its root with the script's state: "initial" on a freshly loaded page, then "running", and
# "notRunning" once every element of the run has been sent; tables and charts then draw into a canvas (or svg).
IDLE = '[data-testid="stApp"][data-test-connection-state="CONNECTED"][data-test-script-state="notRunning"]'
DRAWN = """() => [...document.querySelectorAll('[data-testid="stDataFrame"], [data-testid="stVegaLiteChart"]')]
    .every(e => e.querySelector('canvas, svg'))"""


def settle(page) -> None:  # noqa: ANN001 - a Playwright page
    """Wait until the page's script run has finished (its idle state, not the first widget shown) and every table
    and chart has drawn."""
    page.wait_for_selector(IDLE, state="attached", timeout=30_000)
    page.wait_for_function(DRAWN, timeout=30_000)


def open_page(page, url: str, marker: str) -> None:  # noqa: ANN001 - a Playwright page
    """Load ``url`` in a fresh document, wait for its script to be idle, then check the page shows ``marker``."""
    page.goto(url)
    settle(page)
    page.get_by_text(marker).first.wait_for(timeout=5_000)


def test_thumbs_up_on_compare_lands_in_sqlite(server, browser_page, tmp_path: Path) -> None:  # noqa: ANN001
    url, bench = server
    page = browser_page
    open_page(page, f"{url}/Compare", "Outputs side by side")
    before = _votes(bench)
    page.get_by_role("button", name="👍").first.click()
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
def test_every_page_renders_in_the_browser(server, browser_page, tmp_path: Path, path, name, marker) -> None:  # noqa: ANN001
    url, _ = server
    page = browser_page
    open_page(page, f"{url}/{path}", marker)
    assert page.locator('[data-testid="stException"]').count() == 0
    if name == "case_explorer":
        page.get_by_text("All 3 samples").first.click()  # unfold the samples of self-consistency
        page.wait_for_timeout(500)
        page.evaluate("() => document.querySelectorAll('*').forEach(e => { if (e.scrollTop) e.scrollTop = 0; })")
    if name != "compare":
        page.screenshot(path=str(screenshots_dir(tmp_path) / f"{name}.png"))
