"""How long the workbench takes, in a real browser, from a click to a settled page with 10,000 stored generations.

Builds the database of ``ui_render.py`` (500 cases x 4 versions x plain and 4-sample self-consistency, made by
the real engine with the fake backend), starts ``evals ui`` on it, opens Compare and the Case explorer in
Debian's Chromium, switches back and forth between three arms (Compare) and three cases (Case explorer), as a
reviewer does, and prints the median time from each click until the script run has finished and every table
has drawn. Run it against another checkout (the figure before a change)
by putting that checkout first on PYTHONPATH:

    PYTHONPATH=$PWD/src:$PWD .venv/bin/python benchmarks/ui_interaction.py [--switches 6] [--keep DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.support; a PYTHONPATH checkout comes first

from ui_render import build  # noqa: E402

from tests.support.browser import chromium_page, settle, workbench_server  # noqa: E402

# Counts the script runs that finished, so that a click is timed until the run it started has ended.
WATCH = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    window.__runs = 0;
    new MutationObserver(() => {
        if (app.getAttribute('data-test-script-state') === 'notRunning') window.__runs += 1;
    }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def pick(page, label: str, option: str) -> float:  # noqa: ANN001 - a Playwright page
    """Choose ``option`` in the selectbox labelled ``label``; seconds from the click until the page settled."""
    page.evaluate(WATCH)
    page.get_by_label(label, exact=True).first.click()
    t0 = time.perf_counter()
    page.get_by_role("option", name=option, exact=True).first.click()
    page.wait_for_function("() => window.__runs > 0", timeout=60_000)
    settle(page)
    return time.perf_counter() - t0


def options(page, label: str) -> list[str]:  # noqa: ANN001
    """The options of a selectbox (opens and closes it)."""
    page.get_by_label(label, exact=True).first.click()
    found = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return [o.strip() for o in found]


def median(times: list[float]) -> str:
    return f"median {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}, n={len(times)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switches", type=int, default=6, help="clicks per kind of interaction")
    parser.add_argument("--cases", type=int, default=500, help="cases in the suite (x 20 generations)")
    parser.add_argument("--keep", default=None, help="build the fixture in this folder (reused when it exists)")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ui-interaction-"))
    repo = folder / "repo"
    if not repo.exists():
        build(folder, args.cases)
    with (
        workbench_server(repo, folder / "results.db", folder / "streamlit.log") as url,
        chromium_page(Path(tempfile.mkdtemp(prefix="ui-interaction-profile-"))) as page,
    ):
        page.goto(f"{url}/Compare")
        settle(page)
        arms = options(page, "B (candidate)")
        arm_times = [pick(page, "B (candidate)", arms[1 + i % 3]) for i in range(args.switches)]
        page.goto(f"{url}/Case_explorer")
        settle(page)
        cases = options(page, "Case")
        case_times = [pick(page, "Case", cases[1 + i % 3]) for i in range(args.switches)]
    print(f"Compare, switch arm B:       {median(arm_times)}")
    print(f"Case explorer, switch case:  {median(case_times)}")


if __name__ == "__main__":
    main()
