"""A real browser on a real workbench: `evals ui` on a free loopback port, driven by Debian's Chromium through
Playwright (no Playwright browser download). Shared by the browser tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.net import free_port, wait_for_streamlit
from tests.support.workbench import Workbench, build_workbench

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


@contextlib.contextmanager
def workbench_server(repo: Path, db: Path, log_path: Path, evals: list[str] | None = None) -> Iterator[str]:
    """`evals ui` on ``repo`` and ``db`` on a free port (``evals``: the command, default this interpreter's);
    yields its base URL and stops it after."""
    if not Path(CHROMIUM).exists() or shutil.which("git") is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)")
    port = free_port()
    log = log_path.open("w")
    command = evals or [sys.executable, "-c", "from promptarena.cli import main; main()"]
    proc = subprocess.Popen(
        [*command, "ui", "--repo", str(repo), "--db", str(db), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if k != "PROMPTARENA_DB"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_streamlit(url, proc):
            pytest.fail(f"the workbench did not start: {log_path.read_text()[-2000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def served_workbench(factory: pytest.TempPathFactory, name: str) -> Iterator[tuple[str, Workbench]]:
    """`evals ui` on a fresh fixture repository and database (one per test module); yields (base URL, workbench)."""
    bench = build_workbench(factory.mktemp(name))
    with workbench_server(bench.repo.root, bench.db, factory.getbasetemp() / f"streamlit-{name}.log") as url:
        yield url, bench


@contextlib.contextmanager
def chromium_page(profile: Path) -> Iterator[object]:
    """A Playwright page in Debian's Chromium, with a fresh profile in ``profile``; dialogs are recorded."""
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("the browser test needs Playwright's Python package: pip install -e '.[dev]'")
    sync_api.expect.set_options(timeout=30_000)  # a busy machine redraws slowly; a pass never waits this long
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
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


def settle_rerun(page) -> None:  # noqa: ANN001 - a Playwright page
    """After an action that reruns the script (a click, Enter in a text box): wait for the rerun to start, when it
    has not already come and gone, then for it to finish, so that the next action does not race it."""
    from playwright.sync_api import TimeoutError as Timeout

    with contextlib.suppress(Timeout):  # the rerun was over before we looked
        page.wait_for_selector(IDLE.replace("notRunning", "running"), state="attached", timeout=2_000)
    settle(page)


def open_page(page, url: str, marker: str) -> None:  # noqa: ANN001 - a Playwright page
    """Load ``url`` in a fresh document, wait for its script to be idle, then check the page shows ``marker``."""
    page.goto(url)
    settle(page)
    page.get_by_text(marker).first.wait_for(timeout=30_000)
