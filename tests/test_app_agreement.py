"""The workbench's Judge agreement page through Streamlit's AppTest: each arm's kappa against people's votes equal to
statsmodels, and the outputs on which a judge that gives reasons and the people disagree, with the reason beside
the votes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa
from streamlit.testing.v1 import AppTest

from promptarena import metrics
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.metrics import Metric, Score
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from promptarena.types import Case, Prediction
from tests.support.repos import COUNTRIES, HEAD_ANSWERS, qa_repo, results_db
from tests.support.votes import vote
from tests.support.workbench import APP, XSS_SCRIPT, app_page, build_workbench, ok, point_app_at

PAGE = APP / "pages" / "7_Judge_agreement.py"
# people's votes on HEAD's outputs: italy and spain are where the one-word judge and people disagree
VOTES = {
    "france": [("ann", False)],
    "japan": [("ann", True)],
    "italy": [("ann", True)],
    "spain": [("ann", False), ("bob", False)],
    "peru": [("ann", False)],
    "chile": [("ann", True), ("bob", False)],  # a tie: left out
}


def one_word(predictions: Sequence[Prediction], cases: Sequence[Case], options: dict) -> list[Score]:
    """A judge with reasons: passes a one-word answer."""
    out = []
    for p in predictions:
        words = len(p.answer.split())
        out.append(Score(float(words == 1), reason=f"{words} word{'s' if words != 1 else ''}: {p.answer!r}"))
    return out


@pytest.fixture
def judged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A qa repository run with exact_match and a reason-giving judge; people's votes cast on HEAD's outputs."""
    judge = Metric(name="one_word", description="One word?", score=one_word, kind="binary")
    responses = {f"Capital of {c}?": city for c, city in COUNTRIES.items()}
    responses.update({f"capital city of {c}.": answer for c, answer in HEAD_ANSWERS.items()})
    repo = qa_repo(tmp_path / "repo", responses, metrics=["exact_match", "one_word"])
    db = results_db(repo)
    with metrics.metrics.added("one_word", judge):
        with PromptStore(repo.root) as store, ResultsStore(db) as results:
            run_suite(load_suite(repo.root / "evals" / "qa.yaml", repo.root), store, results)
        point_app_at(monkeypatch, repo.root, db)
        yield repo.root


def cast_votes(root: Path) -> None:
    blob = PromptStore(root).resolve("qa@HEAD").blob
    with ResultsStore(root / ".promptarena" / "results.db") as results:
        for case, votes in VOTES.items():
            for name, up in votes:
                vote(results, blob, case, HEAD_ANSWERS[case.capitalize()], up, name=name)


def page(**query: str) -> AppTest:
    return ok(app_page(str(PAGE.relative_to(APP)), **query).run())


def test_the_judge_is_checked_against_the_votes_and_its_disagreements_listed_with_its_reasons(judged: Path) -> None:
    cast_votes(judged)
    at = page(agree_judge="one_word")
    frame = at.dataframe[0].value
    head = PromptStore(judged).resolve("qa@HEAD").commit[:7]
    row = frame[frame["arm"].str.startswith(f"{head}:plain")].iloc[0]
    res = cohens_kappa(np.array([[1, 1], [1, 2]]))  # one_word x people: japan | spain / italy | france, peru
    half = stats.norm.ppf(0.975) * res.std_kappa
    expected = f"{res.kappa:.2f} [{max(-1, res.kappa - half):.2f}, {min(1, res.kappa + half):.2f}]"
    assert row["κ [95% CI]"] == expected
    assert (row["outputs"], row["✓✓"], row["✓✗"], row["✗✓"], row["✗✗"], row["ties"]) == (5, 1, 1, 1, 2, 1)
    assert row["agree"] == "0.60" and row["note"] == "1 output left out, its voters split evenly"
    base = frame[~frame["arm"].str.startswith(f"{head}:plain")].iloc[0]
    assert (base["outputs"], base["note"]) == (0, "no output judged by both one_word and people")

    said = "\n".join(e.value for kind in ("markdown", "caption", "subheader") for e in at.get(kind))
    assert "Outputs where one_word and people disagree (2)" in said
    assert "**Case** `italy`" in said and "**Case** `spain`" in said and "`chile`" not in said
    assert "one_word: ✗ fail (score 0.00)" in said and "people: ✓ pass" in said
    codes = [c.value for c in at.code]
    assert "3 words: 'It is Rome'" in codes and "It is Rome" in codes  # the judge's reason, then the output
    assert "1 word: 'Madrid'" in codes
    votes = [d.value for d in at.dataframe[1:]]
    assert list(votes[0]["vote"]) == ["👍"] and list(votes[0]["voter"]) == ["ann"]
    assert sorted(votes[1]["voter"]) == ["ann", "bob"] and set(votes[1]["vote"]) == {"👎"}


def test_two_judges_are_compared_on_the_same_page(judged: Path) -> None:
    at = page(agree_judge="one_word", agree_against="exact_match")
    frame = at.dataframe[0].value
    assert set(frame["outputs"]) == {6}
    head = PromptStore(judged).resolve("qa@HEAD").commit[:7]
    row = frame[frame["arm"].str.startswith(f"{head}:plain")].iloc[0]
    assert (
        row["note"] == "one_word and exact_match never disagreed on 6 outputs: the asymptotic interval has no "
        "width, so none is shown"
    )
    assert row["κ [95% CI]"] == "1.00"
    said = "\n".join(e.value for kind in ("caption", "subheader") for e in at.get(kind))
    assert "Outputs where one_word and exact_match disagree (0)" in said and "None on this arm's latest run." in said


def test_no_votes_yet_says_how_to_get_some(judged: Path) -> None:
    at = page()
    assert "Nobody has voted on these outputs yet" in "\n".join(e.value for e in at.info)
    assert set(at.dataframe[0].value["outputs"]) == {0}


def test_an_empty_database_is_a_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = qa_repo(tmp_path / "repo")
    point_app_at(monkeypatch, repo.root, tmp_path / "missing.db")
    at = page()
    assert "No results yet" in at.info[0].value


def test_html_in_a_disagreeing_output_is_shown_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = build_workbench(tmp_path)
    point_app_at(monkeypatch, bench.repo.root, bench.db)
    with ResultsStore(bench.db) as results:
        arm = next(a for a in results.stored_arms("math") if a.version == "worktree" and a.variant == "plain")
        vote(results, arm.blob, "html_script", XSS_SCRIPT, suite="math", name="ann")  # exact_match fails it
    at = page(agree_suite="math")
    assert XSS_SCRIPT in [c.value for c in at.code]
    assert all(XSS_SCRIPT not in m.value and "<script" not in m.value for m in at.markdown)
