"""The workbench with a suite scored by the repository's own code: the case explorer shows each metric's reason and
error beside the output, and no page breaks when the stored metrics are no longer the suite's, or the scorer no
longer loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.cli import cli, exited
from tests.support.repos import edit_suite, results_db
from tests.support.scorers import SCORERS, scorer_repo
from tests.support.workbench import app_page, ok, point_app_at

PAGES = [
    "Overview.py",
    "pages/1_Prompt_history.py",
    "pages/2_Compare.py",
    "pages/3_Case_explorer.py",
    "pages/4_Runs.py",
]


def page(path: str, **query: str) -> AppTest:
    return ok(app_page(path, **query).run())


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "success") for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


def test_pages_show_a_scorers_reasons_and_errors_and_survive_its_removal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metric = {"python": "evals/scorers.py:knows", "options": {"fail_on": "peru"}}
    repo = scorer_repo(tmp_path / "repo", ["exact_match", metric])
    exited(cli("run", "--repo", str(repo.root)), 0)
    point_app_at(monkeypatch, repo.root, results_db(repo))

    for path in PAGES:
        page(path)
    at = page("pages/3_Case_explorer.py", explorer_suite="qa", explorer_case="france")
    (why,) = [d.value for d in at.dataframe if "why" in d.value.columns]
    assert why.to_dict("records") == [{"metric": "knows", "score": "0.000", "why": "expected Paris, got I do not know"}]
    at = page("pages/3_Case_explorer.py", explorer_suite="qa", explorer_case="peru")
    assert "Scoring failed here on knows" in texts(at)
    errors = [d.value for d in at.dataframe if "why" in d.value.columns]
    assert len(errors) == 2  # both arms
    assert all(e["why"][0].startswith("ValueError: cannot judge Peru (evals/scorers.py:") for e in errors)
    assert all(e["score"][0] == "–" for e in errors)  # no score, never a 0

    # the stored runs name a metric the suite no longer has, and that no registry knows
    edit_suite(repo, metrics=["exact_match"])
    for path in PAGES:
        page(path)
    # the scorer no longer loads: the suite file is reported, the stored results are still shown
    edit_suite(repo, metrics=["exact_match", metric])
    repo.write("evals/scorers.py", SCORERS + "\ndef broken(:\n")
    for path in PAGES:
        page(path)
    assert "does not compile: SyntaxError" in texts(page("pages/2_Compare.py"))
