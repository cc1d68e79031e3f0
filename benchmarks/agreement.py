"""What checking judges against people's votes adds to a run: the agreement of two pass/fail metrics with the votes
(and with each other) on every arm, beside the fully cached ``run_suite`` it follows, measured in the same process.

A repository in a temporary folder holds a suite of ``--cases`` cases, two pass/fail metrics and the fake backend;
``--voters`` people vote on every output through the public vote API. The table prints, per size, the cached run's
seconds (the reference), the agreement's seconds, and the agreement as a share of the run.

    python benchmarks/agreement.py --cases 1000 5000 --voters 3
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
if "PYTHONPATH" not in os.environ:  # a PYTHONPATH names the sources to measure (e.g. another checkout)
    sys.path.insert(0, str(HERE.parent / "src"))

PROMPT = """---
variables:
  country: the country
parameters:
  max_new_tokens: 8
---
user:
Capital of {{ country }}?
"""


def one_size(cases: int, voters: int, folder: Path) -> tuple[float, float, int]:
    """(cached run seconds, agreement seconds, votes) for one suite of ``cases`` cases."""
    import subprocess

    from promptarena import feedback
    from promptarena.agreement import suite_agreement, suite_pairs
    from promptarena.engine import run_suite
    from promptarena.gitstore import PromptStore
    from promptarena.store import ResultsStore
    from promptarena.suite import load_suite

    (folder / "prompts").mkdir(parents=True)
    (folder / "evals" / "cases").mkdir(parents=True)
    (folder / "prompts" / "qa.prompt").write_text(PROMPT, encoding="utf-8")
    lines = [json.dumps({"id": f"c{i}", "vars": {"country": f"C{i}"}, "reference": "Paris"}) for i in range(cases)]
    (folder / "evals" / "cases" / "qa.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    suite_text = "prompt: qa\ncases: cases/qa.jsonl\nmetrics: [exact_match, contains]\nversions: [HEAD]\n"
    suite_text += "model: {backend: fake, default: Paris}\n"
    (folder / "evals" / "qa.yaml").write_text(suite_text, encoding="utf-8")
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "qa"]):
        subprocess.run(["git", *args], cwd=folder, check=True)
    with PromptStore(folder) as store, ResultsStore(folder / "results.db") as results:
        suite = load_suite(folder / "evals" / "qa.yaml", folder)
        first = run_suite(suite, store, results)
        arm = first.arms[0].arm
        for i in range(cases):
            for v in range(voters):
                feedback.record(
                    results,
                    suite="qa",
                    prompt="qa",
                    blob=arm.version.blob,
                    variant=arm.variant.name,
                    case_id=f"c{i}",
                    output="Paris",
                    thumbs_up=(i + v) % 3 != 0,
                    name=f"voter{v}",
                )
        start = time.perf_counter()
        cached = run_suite(suite, store, results)
        run_s = time.perf_counter() - start
        pairs = [*suite_pairs(suite), ("exact_match", "contains")]
        start = time.perf_counter()
        rows = suite_agreement(results, cached, pairs)
        agreement_s = time.perf_counter() - start
    assert rows and rows[0].agreement.n + rows[0].ties == cases
    return run_s, agreement_s, cases * voters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--voters", type=int, default=3)
    args = parser.parse_args()
    print(f"{'cases':>7} {'votes':>7} {'cached run s':>13} {'agreement s':>12} {'share':>6}")
    for size in args.cases:
        with tempfile.TemporaryDirectory() as tmp:
            run_s, agreement_s, votes = one_size(size, args.voters, Path(tmp))
        print(f"{size:>7} {votes:>7} {run_s:>13.3f} {agreement_s:>12.3f} {agreement_s / run_s:>6.1%}")


if __name__ == "__main__":
    main()
