"""The case explorer shows the function calls made beside those the case expects, as calls, not as raw text."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptarena.backends.fake import FakeBackend
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from tests.support.workbench import app_page, ok, point_app_at
from tests.test_tool_calls import ANSWERS, weather_repo


def test_the_case_explorer_shows_the_calls_made_beside_those_expected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = weather_repo(tmp_path / "repo")
    db = tmp_path / "results.db"
    with PromptStore(repo.root) as store, ResultsStore(db) as results:
        suite = load_suite(repo.root / "evals" / "weather.yaml", repo.root)
        run_suite(suite, store, results, backend=FakeBackend(responses=ANSWERS))
    point_app_at(monkeypatch, repo.root, db)
    at = ok(app_page("pages/3_Case_explorer.py", explorer_case="lima").run())
    assert at.selectbox(key="explorer_case").value == "lima"
    calls = next(d.value for d in at.dataframe if list(d.value.columns) == ["expected", "made"])
    assert calls.to_dict("list") == {
        "expected": ['get_weather({"city":"Lima","unit":"fahrenheit"})'],
        "made": ['get_weather({"city":"Lima"})'],
    }
    at.selectbox(key="explorer_case").select("oslo").run()
    calls = next(d.value for d in ok(at).dataframe if list(d.value.columns) == ["expected", "made"])
    assert calls.to_dict("list") == {"expected": ['get_time({"city":"Oslo"})'], "made": [""]}


def test_compare_shows_each_arms_calls_beside_those_expected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = weather_repo(tmp_path / "repo")
    repo.write("prompts/weather.prompt", (repo.root / "prompts" / "weather.prompt").read_text() + "\nBe brief.\n")
    repo.commit("weather: be brief")
    db = tmp_path / "results.db"
    with PromptStore(repo.root) as prompts, ResultsStore(db) as results:
        suite = load_suite(repo.root / "evals" / "weather.yaml", repo.root)
        versions = [prompts.resolve("weather@HEAD~1"), prompts.resolve("weather@HEAD")]
        run_suite(suite, prompts, results, versions=versions, backend=FakeBackend(responses=ANSWERS))
    point_app_at(monkeypatch, repo.root, db)
    at = ok(app_page("pages/2_Compare.py").run())
    shown = [c.value for c in at.code] + [m.value for m in at.markdown] + [t.value for t in at.text]
    lima = 'made: get_weather({"city":"Lima"})\nexpected: get_weather({"city":"Lima","unit":"fahrenheit"})'
    assert sum(lima in text for text in shown) == 2  # under A and under B
    assert sum('made: none\nexpected: get_time({"city":"Oslo"})' in text for text in shown) == 2
