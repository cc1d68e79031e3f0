"""How long a reviewer waits in the review queue, in a real browser, between a key and the next output, with 10,000
stored generations.

Builds the database of ``ui_render.py`` (500 cases x 4 versions x plain and 4-sample self-consistency, made by the
real engine with the fake backend), starts ``evals ui`` on it, opens Review on the newest arm beside the one before
it (1,000 outputs, ordered by disagreement) in Debian's Chromium, and prints the median time from a key until the
next output is on a settled page: ``u`` (a vote is written, the queue read again) and ``n`` (a skip, nothing
written). The reference, measured in the same run: switching the case in the Case explorer.

    .venv/bin/python benchmarks/review_queue.py [--steps 9] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.support; a PYTHONPATH checkout comes first

from ui_interaction import WATCH, options, pick  # noqa: E402
from ui_render import build  # noqa: E402

from tests.support.browser import chromium_page, settle, workbench_server  # noqa: E402

SHOWN = """() => [...document.querySelectorAll('[data-testid="stText"]')]
    .map((e) => e.textContent).find((t) => t.startsWith('Case ')) || ''"""


def step(page, key: str) -> float:  # noqa: ANN001 - a Playwright page
    """Press ``key``; seconds until another output is shown and the run that showed it has finished."""
    before = page.evaluate(SHOWN)
    page.evaluate(WATCH)
    t0 = time.perf_counter()
    page.keyboard.press(key)
    page.wait_for_function(f"() => window.__runs > 0 && ({SHOWN})() !== {json.dumps(before)}", timeout=60_000)
    settle(page)
    return time.perf_counter() - t0


def median(times: list[float]) -> str:
    return f"median {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}, n={len(times)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=9, help="keys pressed per kind")
    parser.add_argument("--cases", type=int, default=500, help="cases in the suite (x 20 generations)")
    parser.add_argument("--keep", default=None, help="build the fixture in this folder (reused when it exists)")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="review-queue-"))
    repo = folder / "repo"
    if not repo.exists():
        build(folder, args.cases)
    with (
        workbench_server(repo, folder / "results.db", folder / "streamlit.log") as url,
        chromium_page(Path(tempfile.mkdtemp(prefix="review-queue-profile-"))) as page,
    ):
        page.goto(f"{url}/Review")
        settle(page)
        arms = options(page, "Beside it (optional)")
        pick(page, "Beside it (optional)", arms[2])  # [0] is "none", [1] the arm itself
        page.wait_for_function("() => window.__promptarenaKeysOn === true", timeout=30_000)
        page.keyboard.press("Escape")  # out of the selector just used: keys typed there filter its options
        votes = [step(page, "u" if i % 2 else "d") for i in range(args.steps)]
        skips = [step(page, "n") for _ in range(args.steps)]
        page.goto(f"{url}/Case_explorer")
        settle(page)
        cases = options(page, "Case")
        switches = [pick(page, "Case", cases[1 + i % 3]) for i in range(args.steps)]
    print(f"Review, vote key to the next output:   {median(votes)}")
    print(f"Review, skip key to the next output:   {median(skips)}")
    print(f"Case explorer, switch case (reference): {median(switches)}")


if __name__ == "__main__":
    main()
