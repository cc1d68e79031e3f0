"""Filters, search and the grid as a person uses them in Chromium, on a suite of 1,000 cases in two versions:
Compare filtered to A ≠ B and searched for a word (both kept in the address), then the grid of every case,
where a click on a cell opens that case in the Case explorer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptarena import views
from promptarena.backends.fake import FakeBackend
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.store import OutputFilter, ResultsStore
from promptarena.suite import load_suite
from promptarena.types import GenerationRequest
from tests.support.browser import chromium_page, screenshots_dir, settle, settle_rerun, workbench_server
from tests.support.git import GitRepo
from tests.support.repos import sums_prompt

pytestmark = pytest.mark.browser

CASES = 1000
PROMPT = sums_prompt()


def answer(request: GenerationRequest) -> str:
    """The first version slips on every seventh sum, the second on every thirteenth; some say 'roughly'."""
    text = request.messages[-1].content
    a, b = (int(x) for x in text.splitlines()[-1].split("+"))
    slip = a % (7 if "Add:" in text else 13) == 0
    hedge = "roughly " if a % 50 == 0 else ""
    return f"The sum is {hedge}{a + b + int(slip)}."


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`evals ui` on a repository whose suite of 1,000 sums was run on two versions of its prompt."""
    root = tmp_path_factory.mktemp("search-browser")
    repo = GitRepo(root / "repo")
    cases = "\n".join(
        f'  - {{id: s{i:04d}, vars: {{problem: "{i}+{i % 9}"}}, reference: "{i + i % 9}"}}' for i in range(CASES)
    )
    repo.write("evals/sums.yaml", f"prompt: sums\ncases:\n{cases}\nmetrics: [exact_match]\nversions: {{last: 2}}\n"
               "model: {backend: fake}\n")  # fmt: skip
    for instruction in ("Add:", "Add carefully:"):
        repo.write("prompts/sums.prompt", PROMPT.format(instruction=instruction))
        repo.commit(f"Sums, {instruction}")
    db = root / "results.db"
    with PromptStore(repo.root) as store, ResultsStore(db) as results:
        run_suite(
            load_suite(repo.root / "evals" / "sums.yaml", repo.root), store, results, backend=FakeBackend(fn=answer)
        )
    with workbench_server(repo.root, db, root / "streamlit.log") as url:
        yield url, db


def expected(db: Path, where: OutputFilter) -> list[str]:
    """The cases the store says pass ``where`` under both versions."""
    with ResultsStore(db) as results:
        return views.filter_cases(results, views.arm_choices(results, "sums"), where)


def test_compare_filtered_and_searched_then_a_grid_cell_opens_the_explorer(served, tmp_path: Path) -> None:  # noqa: ANN001
    url, db = served
    with chromium_page(tmp_path / "profile") as page:
        page.goto(f"{url}/Compare")
        settle(page)
        page.get_by_text("A ≠ B", exact=True).click()
        settle_rerun(page)
        differ = expected(db, OutputFilter(differ=True))
        assert 100 < len(differ) < CASES
        page.get_by_text(f"{len(differ)} of {CASES} cases pass the filters.").wait_for(timeout=30_000)
        assert "compare_differ=1" in page.url
        search = page.get_by_role("textbox", name="Search outputs and inputs")
        search.fill("roughly")
        search.press("Enter")
        settle_rerun(page)
        found = expected(db, OutputFilter(differ=True, text="roughly"))
        assert 0 < len(found) < len(differ)
        page.get_by_text(f"{len(found)} of {CASES} cases pass the filters.").wait_for(timeout=30_000)
        assert "compare_q=roughly" in page.url
        page.get_by_text(f"Case {found[0]}", exact=False).first.wait_for(timeout=30_000)
        page.screenshot(path=str(screenshots_dir(tmp_path) / "compare_filtered.png"))

        page.goto(f"{url}/Grid")
        settle(page)
        page.get_by_text(f"{CASES} cases × 2 arms on exact_match").wait_for(timeout=30_000)
        grid = page.locator('[data-testid="stDataFrame"]').first
        box = grid.bounding_box()
        assert box is not None
        page.wait_for_timeout(300)  # the canvas paints its cells after it is made
        page.screenshot(path=str(screenshots_dir(tmp_path) / "grid.png"))
        # the third row's cell in the last column (each row 35 px under a 35 px header)
        page.mouse.click(box["x"] + box["width"] - 40, box["y"] + 35 * 3 + 17)
        page.wait_for_url(re.compile(r"/Case_explorer\?"), timeout=30_000)
        settle(page)
        assert "explorer_case=s0002" in page.url
        page.get_by_text("Extracted answer").first.wait_for(timeout=30_000)
        case = page.get_by_role("combobox", name="Case", exact=True).first
        assert case.input_value() == "s0002"
