"""The workbench's holistic page and the case explorer's perturbed runs, through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from promptarena import feedback
from promptarena.store import ResultsStore
from tests.support.cli import evals
from tests.support.workbench import APP, ok, point_app_at
from tests.test_holistic_run import review_repo


@pytest.fixture(scope="module")
def repo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    repo = review_repo(tmp_path_factory.mktemp("bench") / "repo")
    out = evals("run", cwd=repo.root)
    assert out.returncode == 0, out.stderr
    return repo.root, repo.root / ".promptarena" / "results.db"


@pytest.fixture
def bench(repo_db: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    point_app_at(monkeypatch, repo_db[0], repo_db[1])
    return repo_db


def test_holistic_page_charts_each_dimension_over_the_commits(bench) -> None:
    at = ok(AppTest.from_file(str(APP / "pages" / "6_Holistic.py"), default_timeout=60).run())
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "accuracy",
        "robustness (worst case)",
        "fairness (worst case)",
        "fairness gap",
        "toxicity (share)",
        "sensitivity (spread)",
        "latency p50 (s)",
        "tokens/s",
    ]
    assert len(table) == 2 and table["fairness gap"].iloc[0] == "0.33"
    assert table["robustness (worst case)"].iloc[0].startswith("0.00 [0.00, ")
    (chart,) = at.get("vega_lite_chart")
    assert "robustness (worst case)" in chart.proto.spec
    assert '"format": ".3~f"' in chart.proto.spec  # a constant dimension's ticks read 0, not 0.000000


def test_a_text_tried_before_its_commit_is_shown_under_that_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = review_repo(tmp_path / "repo")
    prompt = repo.root / "prompts" / "review.prompt"
    prompt.write_text(prompt.read_text().replace("carefully", "with care"))
    assert evals("run", "--rev", "worktree", cwd=repo.root).returncode == 0  # tried, then committed as it was
    sha = repo.commit("review: with care")[:7]
    point_app_at(monkeypatch, repo.root, repo.root / ".promptarena" / "results.db")
    at = ok(AppTest.from_file(str(APP / "pages" / "6_Holistic.py"), default_timeout=60).run())
    assert list(at.dataframe[0].value.index.get_level_values("version")) == [sha]


def test_case_explorer_shows_perturbed_inputs_and_outputs_with_feedback(bench) -> None:
    at = AppTest.from_file(str(APP / "pages" / "3_Case_explorer.py"), default_timeout=60).run()
    at.selectbox(key="explorer_case").select("nurse").run()
    ok(at)
    labels = [e.label for e in at.expander]
    assert "Perturbed inputs and outputs (6)" in labels
    codes = [c.value for c in at.code]
    assert '{\n "review": "The nurse said he would help and he did."\n}' in codes
    assert any(c.startswith("system:\nLabel the review") and "Review" in c for c in codes)  # a layout
    buttons = [b.key for b in at.button if b.key and b.key.endswith("-gender_male-up")]
    at.button(key=buttons[0]).click().run()
    ok(at)
    with ResultsStore(bench[1]) as results:
        (vote,) = feedback.votes(results, "review", case_id="nurse")
        with results.write() as conn:
            conn.execute("DELETE FROM feedback")
    assert vote.thumbs_up and vote.output_hash == feedback.output_hash("positive")
