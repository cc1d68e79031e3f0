"""How long the workbench takes, in a real browser, from a click to a settled page, with 100,000 stored outputs.

Builds a results database of 100,000 outputs through the store's API (5,000 cases x 10 committed versions x
plain and cot, one run, each output a sentence with its request stored, as the engine stores them), starts
``evals ui`` on it and, in Debian's Chromium, prints the median time (of 9) from each click until the script
run it started has finished and every table has drawn:

- Compare: a filter (A ≠ B) and a search (a different word each time) beside the same page with no filter;
  the store's answer to the same search in-process beside the same search as a Python scan of the outputs;
- the Grid of every case under the default arms, opened from a link;
- as before, switching an arm in Compare and a case in the Case explorer.

``--fixture engine`` builds the 10,000-generation database of ``ui_render.py`` (the real engine and the fake
backend) instead. Run it against another checkout (the figure before a change) by putting that checkout first
on PYTHONPATH:

    PYTHONPATH=$PWD/src:$PWD .venv/bin/python benchmarks/ui_interaction.py [--repeat 9] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.support; a PYTHONPATH checkout comes first

from ui_render import PROMPT, build, git  # noqa: E402

from tests.support.browser import chromium_page, settle, workbench_server  # noqa: E402

# Counts the script runs that finished, so that a click is timed until the run it started has ended.
WATCH = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    window.__runs = 0;
    new MutationObserver(() => {
        if (app.getAttribute('data-test-script-state') === 'notRunning') window.__runs += 1;
    }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""

WORDS = [
    "river",
    "stone",
    "cloud",
    "amber",
    "lantern",
    "meadow",
    "harbor",
    "copper",
    "violet",
    "thunder",
    "orchard",
    "glacier",
    "falcon",
    "saddle",
    "quartz",
    "willow",
    "ember",
    "canyon",
    "pepper",
    "marble",
    "cobalt",
    "juniper",
    "lagoon",
    "mosaic",
    "nectar",
    "otter",
    "pebble",
    "quiver",
    "raven",
    "sierra",
    "tundra",
    "umber",
    "velvet",
    "walnut",
    "yarrow",
    "zephyr",
    "anchor",
    "beacon",
    "cedar",
    "dune",
    "ferry",
    "garnet",
    "hazel",
    "island",
    "jasper",
    "kettle",
    "linen",
    "maple",
    "nickel",
    "olive",
    "prairie",
    "quill",
    "rustic",
    "sable",
    "timber",
]


def timed(page, action: Callable[[], None]) -> float:  # noqa: ANN001 - a Playwright page
    """Seconds from ``action`` (a click, Enter) until the script run it started has ended and the page settled."""
    page.evaluate(WATCH)
    t0 = time.perf_counter()
    action()
    page.wait_for_function("() => window.__runs > 0", timeout=60_000)
    settle(page)
    return time.perf_counter() - t0


def pick(page, label: str, option: str) -> float:  # noqa: ANN001 - a Playwright page
    """Choose ``option`` in the selectbox labelled ``label``; seconds from the click until the page settled."""
    page.get_by_label(label, exact=True).first.click()
    return timed(page, lambda: page.get_by_role("option", name=option, exact=True).first.click())


def options(page, label: str) -> list[str]:  # noqa: ANN001
    """The options of a selectbox (opens and closes it)."""
    page.get_by_label(label, exact=True).first.click()
    found = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return [o.strip() for o in found]


def median(times: list[float], unit: str = "s") -> str:
    scale = 1000 if unit == "ms" else 1
    m, lo, hi = (scale * statistics.median(times), scale * min(times), scale * max(times))
    return f"median {m:.2f} {unit} (min {lo:.2f}, max {hi:.2f}, n={len(times)})"


def build_outputs(root: Path, cases: int, versions: int) -> Path:
    """A repository with ``versions`` commits of a prompt and a suite of ``cases`` cases, and a results database
    holding one run of every version with plain and cot: cases x versions x 2 outputs, written through the
    store's API."""
    from promptarena.gitstore import PromptStore
    from promptarena.store import ResultRow, ResultsStore
    from promptarena.types import Generation

    rng = random.Random(0)
    repo = root / "repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    questions = [" ".join(rng.choices(WORDS, k=6)) for _ in range(cases)]
    references = [rng.choice(WORDS) for _ in range(cases)]
    lines = "\n".join(
        f'  - {{id: q{i:05d}, vars: {{problem: "{q}"}}, reference: "{r}"}}'
        for i, (q, r) in enumerate(zip(questions, references, strict=True))
    )
    (repo / "evals").mkdir()
    (repo / "evals" / "words.yaml").write_text(
        f"description: Words.\nprompt: words\ncases:\n{lines}\nmetrics: [exact_match, contains]\n"
        f"variants: [plain, cot]\nversions: {{last: {versions}}}\nmodel: {{backend: fake}}\n",
        encoding="utf-8",
    )
    (repo / "prompts").mkdir()
    for n in range(versions):
        text = PROMPT.format(instruction="Answer" + "!" * n)
        (repo / "prompts" / "words.prompt").write_text(text, encoding="utf-8")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"Version {n + 1} of the words prompt")
    db = root / "results.db"
    with PromptStore(repo) as store, ResultsStore(db) as results:
        run_id = results.start_run("words", "words", {"benchmark": "ui_interaction"})
        for n, version in enumerate(reversed(store.log("words"))):
            for variant in ("plain", "cot"):
                generations, rows = [], []
                for i in range(cases):
                    right = rng.random() < 0.5 + 0.04 * n
                    answer = references[i] if right else rng.choice(WORDS)
                    output = " ".join(rng.choices(WORDS, k=12)) + f"\nAnswer: {answer}"
                    key = hashlib.sha256(f"{version.blob}:{variant}:{i}".encode()).hexdigest()
                    request = {"messages": [{"role": "user", "content": f"Answer{'!' * n}\n{questions[i]}"}]}
                    generations.append((key, "fake", request, Generation(output, 20, 14, 0.01, "stop")))
                    rows.append(
                        ResultRow(
                            run_id=run_id,
                            suite="words",
                            prompt="words",
                            version=version.label,
                            commit_sha=version.commit,
                            blob=version.blob,
                            variant=variant,
                            model="",
                            case_id=f"q{i:05d}",
                            perturbation="",
                            output=output,
                            answer=answer,
                            confidence=None,
                            reasoning=None,
                            generation_keys=[key],
                            scores={"exact_match": float(right), "contains": float(right)},
                        )
                    )
                results.put_generations(generations)
                results.put_results(rows)
        results.finish_run(run_id, "completed")
        print(f"database: {results.count('results')} outputs, {results.count('generations')} generations")
    return repo


def store_search(db: Path, suite: str, words: list[str]) -> tuple[list[float], list[float]]:
    """Seconds per search of Compare's two arms: the store's FTS5 query, and the same words looked for by a Python
    scan of the arms' outputs and answers read through the store (the inputs left out: cheaper still)."""
    from promptarena import views
    from promptarena.store import OutputFilter, ResultsStore

    store_times, scan_times = [], []
    with ResultsStore(db) as results:
        arms = views.arm_choices(results, suite)[:2]
        for word in words:
            t0 = time.perf_counter()
            found = views.filter_cases(results, arms, OutputFilter(text=word))
            store_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            scanned = set()
            for arm in arms:
                rows = results.arm_results(arm.run_id, arm.blob, arm.variant, model=arm.model)
                scanned |= {case for case, row in rows.items() if word in f"{row['output']} {row['answer']}".lower()}
            scan_times.append(time.perf_counter() - t0)
            if not scanned <= set(found):
                raise SystemExit(f"the store's search for {word!r} missed {len(scanned - set(found))} cases")
    return store_times, scan_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="clicks per kind of interaction (the median is shown)")
    parser.add_argument("--cases", type=int, default=5000, help="cases in the suite (x 20 outputs)")
    parser.add_argument("--versions", type=int, default=10, help="committed versions of the prompt")
    parser.add_argument("--fixture", choices=("outputs", "engine"), default="outputs", help="which database to build")
    parser.add_argument("--keep", default=None, help="build the fixture in this folder (reused when it exists)")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ui-interaction-"))
    repo = folder / "repo"
    if not repo.exists():
        start = time.perf_counter()
        if args.fixture == "engine":
            build(folder, args.cases)
        else:
            build_outputs(folder, args.cases, args.versions)
        print(f"built in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    words = WORDS[: args.repeat]
    with (
        workbench_server(repo, folder / "results.db", folder / "streamlit.log") as url,
        chromium_page(Path(tempfile.mkdtemp(prefix="ui-interaction-profile-"))) as page,
    ):
        page.goto(f"{url}/Compare")
        settle(page)
        filtered, unfiltered, searched, cleared = [], [], [], []
        toggle = page.get_by_text("A ≠ B", exact=True)
        for _ in range(args.repeat):
            filtered.append(timed(page, toggle.click))
            unfiltered.append(timed(page, toggle.click))
        box = page.get_by_role("textbox", name="Search outputs and inputs")
        for word in words:
            box.fill(word)
            searched.append(timed(page, lambda: box.press("Enter")))
            box.fill("")
            cleared.append(timed(page, lambda: box.press("Enter")))
        arms = options(page, "B (candidate)")
        arm_times = [pick(page, "B (candidate)", arms[1 + i % 3]) for i in range(args.repeat)]
        grid_times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            page.goto(f"{url}/Grid")
            settle(page)
            grid_times.append(time.perf_counter() - t0)
        grid_rows = page.get_by_text("cases ×").first.inner_text()
        page.goto(f"{url}/Case_explorer")
        settle(page)
        cases = options(page, "Case")
        case_times = [pick(page, "Case", cases[1 + i % 3]) for i in range(args.repeat)]
    suite = "sums" if args.fixture == "engine" else "words"
    store_times, scan_times = store_search(folder / "results.db", suite, words)
    print(f"Compare, filter A ≠ B:          {median(filtered)}")
    print(f"  the same page, no filter:     {median(unfiltered)}")
    print(f"Compare, search a word:         {median(searched)}")
    print(f"  the same page, search cleared: {median(cleared)}")
    print(f"  the store's search (FTS5):    {median(store_times, 'ms')}")
    print(f"  the same search, Python scan: {median(scan_times, 'ms')}")
    print(f"Grid, opened ({grid_rows.split(';')[0]}): {median(grid_times)}")
    print(f"Compare, switch arm B:          {median(arm_times)}")
    print(f"Case explorer, switch case:     {median(case_times)}")


if __name__ == "__main__":
    main()
