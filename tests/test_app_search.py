"""Filters and search on Compare and the Case explorer, and the grid of arms x cases, through Streamlit's AppTest
against the workbench fixture (in plain, the newest version fixes 9+9; both versions answer the two HTML cases
with no number, so they fail)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from promptarena import feedback, views
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from tests.support.workbench import APP, Workbench, build_workbench, point_app_at
from tests.test_app import app, ok, texts


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    return build_workbench(tmp_path_factory.mktemp("search"))


@pytest.fixture
def bench(built: Workbench, monkeypatch: pytest.MonkeyPatch) -> Workbench:
    point_app_at(monkeypatch, built.repo.root, built.db)
    return built


def listed(at) -> list[str]:  # noqa: ANN001 - an AppTest
    """The case ids in Compare's cases table."""
    frame = at.dataframe[1].value
    return sorted(frame["case"]) if "case" in frame else []


def test_compare_filters_each_narrow_the_cases_and_live_in_the_url(bench: Workbench) -> None:
    at = ok(app("compare").run())
    assert len(listed(at)) == 8
    at.toggle(key="compare_differ").set_value(True).run()
    assert listed(ok(at)) == ["nine_plus_nine"] and at.query_params["compare_differ"] == "1"
    assert "1 of 8 cases pass the filters." in texts(at)
    at.toggle(key="compare_differ").set_value(False).run()
    at.toggle(key="compare_failing").set_value(True).run()
    assert listed(ok(at)) == ["html_img", "html_script", "nine_plus_nine"]
    at.toggle(key="compare_failing").set_value(False).run()
    at.text_input(key="compare_q").input("alert").run()
    assert listed(ok(at)) == ["html_img", "html_script"] and at.query_params["compare_q"] == "alert"
    at.text_input(key="compare_q").input("19").run()  # A's wrong sum
    assert listed(ok(at)) == ["nine_plus_nine"]
    at.text_input(key="compare_q").input("nowhere-to-be-found").run()
    assert listed(ok(at)) == [] and "No case passes the filters." in texts(at)
    at.text_input(key="compare_q").input("").run()
    at.number_input(key="compare_max").set_value(0.0).run()
    assert listed(ok(at)) == ["html_img", "html_script", "nine_plus_nine"]
    assert at.query_params["compare_max"] == "0.0"
    assert "compare_q" not in at.query_params  # a filter at its default leaves no parameter


def test_a_link_with_filters_opens_them_and_votes_filter_the_outputs(bench: Workbench) -> None:
    at = ok(app("compare", compare_q="answer", compare_differ="1").run())
    assert at.text_input(key="compare_q").value == "answer" and at.toggle(key="compare_differ").value
    assert listed(at) == ["nine_plus_nine"]
    at = ok(app("compare", compare_votes="has votes").run())
    assert listed(at) == []
    choice = next(c for c in _choices(bench) if c.label.startswith("worktree") and c.variant == "plain")
    with ResultsStore(bench.db) as results:
        output = results.arm_results(choice.run_id, choice.blob, "plain", "six_halves")["six_halves"]["output"]
        feedback.record(
            results, suite="math", prompt="math", blob=choice.blob, variant="plain", case_id="six_halves",
            output=output, thumbs_up=True, comment="tidy", name="Ann", voter=None,
        )  # fmt: skip
    assert listed(ok(app("compare", compare_votes="has votes").run())) == ["six_halves"]
    assert listed(ok(app("compare", compare_votes="has comments").run())) == ["six_halves"]
    assert len(listed(ok(app("compare", compare_votes="unvoted").run()))) == 8  # A's output there has no vote


def _choices(bench: Workbench):  # noqa: ANN202
    """The suite's arms in the order the workbench lists them."""
    with ResultsStore(bench.db) as results, PromptStore(bench.repo.root) as store:
        return views.arm_choices(results, "math", store)


def test_case_explorer_lists_only_the_cases_that_pass_its_filters(bench: Workbench) -> None:
    at = ok(app("explorer").run())
    assert len(at.selectbox(key="explorer_case").options) == 8
    at.text_input(key="explorer_q").input("alert").run()
    assert ok(at).selectbox(key="explorer_case").options == ["html_script", "html_img"]
    assert at.selectbox(key="explorer_case").value == "html_script"
    assert "2 of 8 cases pass the filters." in texts(at)
    at = ok(app("explorer", explorer_case="one_plus_one", explorer_q="alert").run())  # the link's case fails it
    assert at.selectbox(key="explorer_case").value == "html_script" and "not here any more" not in texts(at)
    at = ok(app("explorer", explorer_q="nowhere-to-be-found").run())
    assert "No case passes the filters." in texts(at)


def grid(**query: str | list[str]):  # noqa: ANN201 - an AppTest
    """The grid page, run as in the workbench, with a link's query parameters."""
    at = AppTest.from_file(str(APP / "Overview.py"), default_timeout=60)
    at.switch_page("pages/10_Grid.py")
    at.query_params.update(query)
    return at.run()


def test_grid_holds_every_case_under_every_arm_and_a_click_opens_the_case(bench: Workbench) -> None:
    at = ok(grid())
    frame = at.dataframe[0].value
    labels = [c.label for c in _choices(bench)]
    plain = [label for label in labels if label.endswith(":plain")]  # the versions of the newest arm's variant
    assert list(frame.columns) == ["case", *plain] and len(frame) == 8
    plain = frame.set_index("case")[plain]
    assert plain.loc["nine_plus_nine"].tolist() == ["🟩 1", "🟥 0", "🟥 0"]  # worktree fixed it, v2 and v1 did not
    assert plain.loc["one_plus_one"].tolist() == ["🟩 1", "🟩 1", "🟩 1"]
    at.toggle(key="grid_parts").set_value(True).run()
    first = ok(at).dataframe[0].value["case"].tolist()
    assert set(first[:3]) == {"two_plus_three", "ten_minus_three", "nine_plus_nine"}  # v1 missed these three
    at = ok(grid(grid_q="alert", grid_colour="contains"))
    assert sorted(at.dataframe[0].value["case"]) == ["html_img", "html_script"]
    second = [label for label in labels if label.endswith(":plain")][1]
    at.session_state["grid_pick"] = {"selection": {"cells": [[1, second]]}}
    at.run()
    assert at.query_params["explorer_case"] == "html_img"  # the second row
    assert at.query_params["explorer_arms"][0].startswith(second)
    assert ok(at).selectbox(key="explorer_case").value == "html_img"
