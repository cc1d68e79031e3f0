"""People's votes are read from the store when they are shown or gated, never frozen into a run: an arm voted on
before its latest run shows its current thumbs-up share once, on every page and in `evals run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from promptarena import feedback, views
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from tests.support.cli import cli, exited
from tests.support.repos import qa_repo, results_db
from tests.support.workbench import APP, point_app_at


def _vote(db: Path, blob: str, name: str, up: bool) -> None:
    with ResultsStore(db) as results:
        feedback.record(
            results,
            suite="qa",
            prompt="qa",
            blob=blob,
            variant="plain",
            case_id="france",
            output="Paris",
            thumbs_up=up,
            name=name,
        )


def _page(path: str) -> AppTest:
    at = AppTest.from_file(str(APP / "Overview.py"), default_timeout=60)
    if path != "Overview.py":
        at.switch_page(path)
    at.run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    return at


@pytest.fixture
def voted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, str, dict]:
    """A suite gated on thumbs_up, one vote up before its run, two down after: 1 of 3 is up now."""
    repo = qa_repo(tmp_path / "repo", thresholds={"thumbs_up": 0.5})
    head = PromptStore(repo.root).resolve("qa@HEAD")
    db = results_db(repo)
    _vote(db, head.blob, "ada", True)
    out = cli("run", "--json", "--repo", str(repo.root))
    exited(out, 0)
    _vote(db, head.blob, "bob", False)
    _vote(db, head.blob, "cy", False)
    point_app_at(monkeypatch, repo.root, db)
    return repo.root, db, head.blob, json.loads(out.stdout)


def test_a_run_shows_the_votes_of_its_time_and_stores_none(voted: tuple[Path, Path, str, dict]) -> None:
    root, db, blob, doc = voted
    (suite,) = doc["suites"]
    head = next(a for a in suite["arms"] if a["blob"] == blob)
    assert (head["metrics"]["thumbs_up"]["mean"], head["metrics"]["thumbs_up"]["n"]) == (1.0, 1)
    assert "thumbs_up" not in next(a for a in suite["arms"] if a["blob"] != blob)["metrics"]
    with ResultsStore(db) as results:
        (run,) = results.runs()
    assert all("thumbs_up" not in arm.metrics for arm in run.record.arms)  # the record freezes no votes


def test_evals_run_shows_and_gates_the_current_share_once(voted: tuple[Path, Path, str, dict]) -> None:
    root, db, blob, _ = voted
    table = cli("run", "--repo", str(root))
    exited(table, 1)
    header = next(line for line in table.stdout.splitlines() if "exact_match" in line)
    assert header.count("thumbs_up") == 1
    assert table.stdout.count("0.333 [0.061, 0.792]") == 2  # its cell, and the gate that fails on it
    assert "thumbs_up >= 0.5: 0.333 below the threshold 0.5" in " ".join(table.stdout.split())
    out = cli("run", "--json", "--repo", str(root))
    exited(out, 1)
    (suite,) = json.loads(out.stdout)["suites"]
    head = next(a for a in suite["arms"] if a["blob"] == blob)
    assert (head["metrics"]["thumbs_up"]["n"], round(head["metrics"]["thumbs_up"]["mean"], 3)) == (3, 0.333)
    (gate,) = [g for g in suite["gates"] if "thumbs_up" in g["name"]]
    assert gate["passed"] is False and gate["detail"].startswith("0.333 below")


def test_every_view_and_page_shows_the_current_share_once(voted: tuple[Path, Path, str, dict]) -> None:
    root, db, blob, _ = voted
    with ResultsStore(db) as results, PromptStore(root) as store:
        cells = [c for c in views.overview(results) if c.metric == views.THUMBS_UP]
        points = [p for p in views.metric_history(cells, store, "qa") if p.metric == views.THUMBS_UP]
    assert [(c.blob, c.interval.n, round(c.interval.mean, 3)) for c in cells] == [(blob, 3, 0.333)]
    assert [(p.blob, p.n) for p in points] == [(blob, 3)]

    grid = _page("Overview.py").dataframe[0].value
    (share,) = [s for s in grid["thumbs_up · plain"] if s != "–"]
    assert share.startswith("0.33 [")
    assert [c for c in grid.columns if c.startswith("thumbs_up")] == ["thumbs_up · plain"]

    history = _page("pages/1_Prompt_history.py").dataframe[0].value
    shares = history["qa · thumbs_up · plain"].dropna().round(3).tolist()
    assert shares == [0.333]

    compare = _page("pages/2_Compare.py").dataframe[0].value.set_index("metric")
    (thumbs,) = [m for m in compare.index if "thumbs_up" in m]
    assert compare.loc[thumbs, "B"].startswith("0.33 [") and "(3 votes)" in compare.loc[thumbs, "B"]

    runs = _page("pages/4_Runs.py")
    arms = runs.dataframe[1].value
    assert [c for c in arms.columns if c == "thumbs_up"] == ["thumbs_up"]
    assert [v for v in arms["thumbs_up"].tolist() if v != ""] == ["0.333"]  # drawn to three digits; blank: no votes


def test_each_model_of_a_voted_variant_shows_its_votes(tmp_path: Path) -> None:
    """Votes name a suite, version and variant, not a model: the overview shows them beside each model's series."""
    repo = qa_repo(tmp_path / "repo")
    models = [{"name": name, "backend": "fake", "model": name, "responses": {}} for name in ("base", "tuned")]
    path = repo.root / "evals" / "qa.yaml"
    doc = {k: v for k, v in yaml.safe_load(path.read_text()).items() if k != "model"}
    path.write_text(yaml.safe_dump({**doc, "models": models, "versions": ["HEAD"]}, sort_keys=False))
    head = PromptStore(repo.root).resolve("qa@HEAD")
    db = results_db(repo)
    _vote(db, head.blob, "ada", True)
    exited(cli("run", "--repo", str(repo.root)), 0)
    with ResultsStore(db) as results:
        cells = [c for c in views.overview(results) if c.metric == views.THUMBS_UP]
    assert sorted((c.variant, c.interval.n) for c in cells) == [("plain@base", 1), ("plain@tuned", 1)]
