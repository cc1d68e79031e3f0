"""What the workbench's tables and charts print: no "None" for a figure a run did not measure, numbers to three
digits, axes without six zeros, and page titles as the sidebar names them (AppTest, the workbench fixture)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from promptarena.backends.fake import FakeBackend
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from tests.support.workbench import APP, Workbench, build_workbench, fake_answer, point_app_at


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    bench = build_workbench(tmp_path_factory.mktemp("tables"))
    with PromptStore(bench.repo.root) as store, ResultsStore(bench.db) as results:  # a second run, all cached
        suite = load_suite(bench.repo.root / "evals" / "math.yaml", bench.repo.root)
        run_suite(suite, store, results, backend=FakeBackend(fn=fake_answer))
    return bench


@pytest.fixture
def bench(built: Workbench, monkeypatch: pytest.MonkeyPatch) -> Workbench:
    point_app_at(monkeypatch, built.repo.root, built.db)
    return built


def _page(path: str, **query: str) -> AppTest:
    at = AppTest.from_file(str(APP / "Overview.py"), default_timeout=60)
    if path:
        at.switch_page(path)
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_cached_runs_arms_show_no_none_for_tokens_per_second(bench: Workbench) -> None:
    at = _page("pages/4_Runs.py")
    runs = at.dataframe[0].value
    cached = runs[runs["generated"] == "0"].iloc[0]  # the newest run generated nothing: no speed to show
    assert cached["tokens/s"] == "" and cached["cached"] == "120"
    arms = at.dataframe[1].value
    assert arms["tokens/s"].tolist() == [""] * 9
    assert set(arms["exact_match"]) <= {"0.375", "0.500", "0.625", "0.750"}
    assert None not in arms.to_numpy().tolist()


def test_chart_axes_print_at_most_three_decimals(bench: Workbench) -> None:
    (chart,) = _page("").get("vega_lite_chart")
    assert '"format": ".3~f"' in chart.proto.spec and '"tickMinStep": 0.001' in chart.proto.spec


def test_the_votes_table_shows_each_answer_with_an_output_that_gave_it(bench: Workbench) -> None:
    v1 = bench.commits[0][:7]
    at = _page("pages/3_Case_explorer.py", explorer_arms=f"{v1}:self_consistency — Add the math prompt")
    votes = next(d.value for d in at.dataframe if "votes" in d.value.columns)
    assert votes.to_dict("list") == {
        "answer": ["2", "4"],
        "votes": [2, 1],
        "output": ["The answer is 2.", "The answer is 4."],
    }
