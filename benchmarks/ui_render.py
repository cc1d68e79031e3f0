"""How long each workbench page takes to render with 10,000 scored generations in the results database.

The database is made by the real engine with the fake backend: one prompt with four committed versions,
a suite of 500 cases evaluated with plain and 4-sample self-consistency (500 x 5 x 4 = 10,000 generations,
each scored by two metrics), then a few more runs so that the Runs page has history. Each page is run
through Streamlit's AppTest (the script's whole server-side work: queries, statistics, element tree) and
the median of several renders is printed. The goal is under 1 s per page.

    .venv/bin/python benchmarks/ui_render.py [--repeat 5] [--cases 500] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"
sys.path.append(str(ROOT))  # tests.support; a PYTHONPATH checkout comes first

from tests.support.repos import sums_prompt  # noqa: E402

PAGES = {
    "Overview": APP / "Overview.py",
    "Prompt history": APP / "pages" / "1_Prompt_history.py",
    "Compare": APP / "pages" / "2_Compare.py",
    "Case explorer": APP / "pages" / "3_Case_explorer.py",
    "Runs": APP / "pages" / "4_Runs.py",
    "Start a run": APP / "pages" / "5_Start_a_run.py",
}

PROMPT = sums_prompt()


def git(root: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def answer(request) -> str:  # noqa: ANN001 - a GenerationRequest
    """Right more often in later versions; samples disagree now and then."""
    text = request.messages[-1].content
    a, b = (int(x) for x in text.splitlines()[-1].split("+"))
    version = text.count("!")
    slip = (a * 7 + b * 3 + request.sample_index) % (6 + version * 2) == 0
    return f"The sum is {a + b + (1 if slip else 0)}."


def build(root: Path, cases: int) -> Path:
    """A repository and a results database with cases x 5 x 4 scored generations."""
    from promptarena.backends.fake import FakeBackend
    from promptarena.engine import run_suite
    from promptarena.gitstore import PromptStore
    from promptarena.store import ResultsStore
    from promptarena.suite import load_suite

    repo = root / "repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    lines = "\n".join(
        f'  - {{id: c{i:04d}, vars: {{problem: "{i}+{i * 3 % 17}"}}, reference: "{i + i * 3 % 17}"}}'
        for i in range(cases)
    )
    (repo / "evals").mkdir()
    (repo / "evals" / "sums.yaml").write_text(
        "description: Sums.\nprompt: sums\ncases:\n" + lines + "\nmetrics: [exact_match, contains]\n"
        "variants: [plain, {self_consistency: {samples: 4, temperature: 0.7}}]\nversions: {last: 4}\n"
        "model: {backend: fake}\n",
        encoding="utf-8",
    )
    (repo / "prompts").mkdir()
    for n in range(4):
        (repo / "prompts" / "sums.prompt").write_text(PROMPT.format(instruction="Add" + "!" * n), encoding="utf-8")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"Version {n + 1} of the sums prompt")
    db = root / "results.db"
    with PromptStore(repo) as store, ResultsStore(db) as results:
        suite = load_suite(repo / "evals" / "sums.yaml", repo)
        backend = FakeBackend(fn=answer)
        run_suite(suite, store, results, backend=backend)
        for _ in range(5):  # cached reruns: history for the Runs page
            run_suite(suite, store, results, backend=backend)
        print(
            f"database: {results.count('generations')} generations, {results.count('scores')} scores, "
            f"{results.count('results')} per-case results, {results.count('runs')} runs",
            file=sys.stderr,
        )
    return repo


def entry(path: Path):  # noqa: ANN201 - an AppTest
    """The page as the workbench runs it: Home is the entrypoint, so links between pages resolve."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGES["Overview"]), default_timeout=120)
    return at if path == PAGES["Overview"] else at.switch_page(str(path.relative_to(APP)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="renders per page (the median is reported)")
    parser.add_argument("--cases", type=int, default=500, help="cases in the suite (x 20 generations)")
    parser.add_argument("--keep", default=None, help="build the fixture in this folder and keep it")
    args = parser.parse_args()

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ui-bench-"))
    start = time.perf_counter()
    repo = build(folder, args.cases)
    print(f"built in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    os.environ["PROMPTARENA_REPO"] = str(repo)
    os.environ["PROMPTARENA_DB"] = str(folder / "results.db")
    sys.path.insert(0, str(APP))
    print(f"{'page':<16} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, path in PAGES.items():
        entry(path).run()  # warm: imports, first connection
        times = []
        for _ in range(args.repeat):
            at = entry(path)
            t0 = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - t0)
            if at.exception:
                raise SystemExit(f"{name}: {at.exception[0].value}")
        print(f"{name:<16} {statistics.median(times):9.3f} {min(times):7.3f} {max(times):7.3f}")
    print(f"torch imported: {'torch' in sys.modules}")


if __name__ == "__main__":
    main()
