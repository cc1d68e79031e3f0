"""A run started in the browser outlives its page: it goes on while the person looks at other pages, the sidebar
shows its progress there, and the Runs page lists it completed."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from promptarena import jobs
from promptarena.store import ResultsStore
from tests.support.browser import chromium_page, open_page, screenshots_dir, settle, workbench_server
from tests.support.workbench import SUITE, build_workbench

pytestmark = pytest.mark.browser


def test_a_run_goes_on_while_the_person_browses_and_ends_completed(tmp_path: Path) -> None:
    bench = build_workbench(tmp_path / "bench")
    fake = 'model: {backend: fake, default: "42"}'
    slow = SUITE.replace(fake, fake.replace("}", ", delay_s: 0.25}"))
    bench.repo.write("evals/math.yaml", slow)  # 3 versions x 8 cases x 5 requests: about 30 s
    with (
        workbench_server(bench.repo.root, bench.db, tmp_path / "streamlit.log") as url,
        chromium_page(tmp_path / "profile") as page,
    ):
        open_page(page, f"{url}/Start_a_run", "Start run")
        page.get_by_role("button", name="Start run").click()
        page.get_by_text("Runs started here").wait_for(timeout=30_000)
        (job,) = jobs.jobs(bench.repo.root)

        open_page(page, f"{url}/Compare", "Outputs side by side")  # another page, a new session
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("Running now").wait_for(timeout=30_000)
        bar = sidebar.get_by_text(re.compile(r"math: generate \d+/120"))
        bar.wait_for(timeout=30_000)
        first = _done(bar.inner_text())
        deadline = time.monotonic() + 45  # generous: under a loaded machine the first steps can lag
        while _done(bar.inner_text()) == first and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _done(bar.inner_text()) > first  # the sidebar follows the run without a click
        assert sidebar.get_by_role("button", name="Cancel").count() == 1
        page.screenshot(path=str(screenshots_dir(tmp_path) / "run_in_sidebar.png"))

        deadline = time.monotonic() + 90
        while jobs.job_state(job, bench.db).active and time.monotonic() < deadline:
            time.sleep(0.5)
        sidebar.get_by_text("Running now").wait_for(state="detached", timeout=30_000)

        open_page(page, f"{url}/Runs", "Run details")
        (run,) = jobs.job_state(job, bench.db).runs
        assert run.status == "completed"
        details = page.locator('[data-testid="stSelectbox"]').last
        assert run.id in details.inner_html(), details.inner_html()  # the newest run, chosen first
        assert page.locator('[data-testid="stAlert"]').count() == 0  # neither failed nor abandoned
        with ResultsStore(bench.db) as results:
            assert results.runs()[0].id == run.id and results.runs()[0].record.generated == 120

        open_page(page, f"{url}/Start_a_run", "Start run")
        page.get_by_text(f"Run {run.id} of math completed").wait_for(timeout=30_000)
        settle(page)
    assert page.dialogs == []  # type: ignore[attr-defined]


def _done(text: str) -> int:
    """The steps done in a bar's ``math: generate 12/120``."""
    return int(re.search(r"generate (\d+)/", text).group(1))  # type: ignore[union-attr]
