"""The workbench fixture shared by the view, AppTest and browser tests: a prompt with three commits and an
uncommitted edit, a suite evaluated with plain, cot and self-consistency by the fake backend, and model
outputs that contain HTML (they must always be shown as text).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from promptarena.backends.fake import FakeBackend
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from promptarena.types import GenerationRequest
from tests.support.git import GitRepo
from tests.support.repos import sums_prompt

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app"

XSS_SCRIPT = "<script>alert('xss')</script>"
XSS_IMG = '<img src=x onerror="alert(1)">'

PROMPT = sums_prompt("Solve a small sum.", "the sum to solve", max_new_tokens=32)

SUITE = """description: Small sums, a few of them answered with HTML by the fake model.
prompt: math
cases:
  - {id: one_plus_one, vars: {problem: "1+1"}, reference: "2"}
  - {id: two_plus_three, vars: {problem: "2+3"}, reference: "5"}
  - {id: four_times_two, vars: {problem: "4*2"}, reference: "8"}
  - {id: ten_minus_three, vars: {problem: "10-3"}, reference: "7"}
  - {id: six_halves, vars: {problem: "6/2"}, reference: "3"}
  - {id: nine_plus_nine, vars: {problem: "9+9"}, reference: "18"}
  - {id: html_script, vars: {problem: "script"}, reference: "0"}
  - {id: html_img, vars: {problem: "img"}, reference: "0"}
metrics: [exact_match, contains]
variants:
  - plain
  - cot
  - self_consistency: {samples: 3, temperature: 0.7}
versions: {last: 3}
model: {backend: fake, default: "42"}
seed: 0
"""

SECOND_SUITE = """description: A suite that has never been run.
prompt: math
cases:
  - {id: a, vars: {problem: "1+1"}, reference: "2"}
metrics: [exact_match]
"""

SUMS = {"1+1": 2, "2+3": 5, "4*2": 8, "10-3": 7, "6/2": 3, "9+9": 18}


def fake_answer(request: GenerationRequest) -> str:
    """A fake model that gets better with the prompt's version: v1 misses half the sums, v3 none."""
    text = request.messages[-1].content
    problem = next((p for p in SUMS if f"\n{p}" in text), None)
    if "script" in text.split("\n")[1:3]:
        return XSS_SCRIPT
    if "\nimg" in text:
        return XSS_IMG
    if problem is None:
        return "no idea"
    right = SUMS[problem]
    version = 1 if "Solve:" in text else 2 if "Solve carefully:" in text else 3
    wrong = version == 1 and problem in ("2+3", "10-3", "9+9") or version == 2 and problem == "9+9"
    if "step by step" in text and problem == "2+3":
        wrong = False  # reasoning fixes one slip
    answer = right + 1 if wrong else right
    if request.sample_index == 1 and version < 3:
        answer = right + 2  # one dissenting sample in self-consistency
    if "step by step" in text:
        return f"Let me work it out: {problem} is computed first.\nAnswer: {answer}"
    return f"The answer is {answer}."


@dataclass
class Workbench:
    """The built repository, its results database, its three commits and the id of the stored run."""

    repo: GitRepo
    db: Path
    commits: list[str]
    run_id: str


def build_workbench(root: Path, *, run: bool = True) -> Workbench:
    """A repository with three commits of prompts/math.prompt, an uncommitted edit, and one stored run."""
    repo = GitRepo(root / "repo")
    commits = []
    repo.write("prompts/math.prompt", PROMPT.format(instruction="Solve:"))
    repo.write("evals/math.yaml", SUITE)
    commits.append(repo.commit("Add the math prompt"))
    repo.write("prompts/math.prompt", PROMPT.format(instruction="Solve carefully:"))
    commits.append(repo.commit("Ask for care: fewer slips on subtraction"))
    repo.write("evals/never_run.yaml", SECOND_SUITE)
    commits.append(repo.commit("Add a suite that nobody ran yet"))
    repo.write("prompts/math.prompt", PROMPT.format(instruction="Solve exactly, checking each step:"))
    db = root / "results.db"
    run_id = ""
    if run:
        with PromptStore(repo.root) as store, ResultsStore(db) as results:
            suite = load_suite(repo.root / "evals" / "math.yaml", repo.root)
            run_id = run_suite(suite, store, results, backend=FakeBackend(fn=fake_answer)).run_id
    return Workbench(repo, db, commits, run_id)


def point_app_at(monkeypatch: pytest.MonkeyPatch, repo: Path, db: Path) -> None:
    """Make the workbench pages that AppTest runs read ``repo`` and ``db`` (and import ``app/``'s modules)."""
    monkeypatch.syspath_prepend(str(APP))
    monkeypatch.setenv("PROMPTARENA_REPO", str(repo))
    monkeypatch.setenv("PROMPTARENA_DB", str(db))


def app_page(page: str = "Overview.py", **query: str | list[str]) -> AppTest:
    """A page of ``app/``, not yet run, as the workbench opens it: from Overview, the entrypoint (so that links between
    pages resolve), with a link's query parameters."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP / "Overview.py"), default_timeout=60)
    if page != "Overview.py":
        at.switch_page(page)
    at.query_params.update(query)
    return at


def ok(at: AppTest) -> AppTest:
    """``at``, once checked that its last run raised nothing and showed no error."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at
