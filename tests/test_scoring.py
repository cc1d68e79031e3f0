"""The scoring step's contract: a score may carry a reason, a failure on one case is that case's error, and the
score cache keeps values and reasons but never errors."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

from promptarena.backends.fake import FakeBackend
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.metrics import Metric, Score, as_score
from promptarena.store import ResultsStore
from promptarena.suite import Spec, load_suite
from tests.support.repos import COUNTRIES, qa_repo


def test_a_score_is_a_number_a_bool_none_or_a_score() -> None:
    assert as_score(1) == Score(1.0)
    assert as_score(True) == Score(1.0)
    assert as_score(None) == Score(None)
    assert as_score(Score(0.5, "half")) == Score(0.5, "half")
    for wrong in ("1", float("nan"), [1.0]):
        with pytest.raises(TypeError):
            as_score(wrong)


def test_reasons_are_stored_and_cached_errors_are_counted_and_scored_again(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    calls: list[str] = []

    def judge(predictions, cases, options):
        out = []
        for p, c in zip(predictions, cases, strict=True):
            calls.append(c.id)
            if c.id == "peru":
                out.append(Score(None, error="ValueError: no verdict"))
            else:
                out.append(Score(float(p.answer == c.references[0]), reason=f"{c.id} checked"))
        return out

    metric = Metric(name="checked", description="A scorer with reasons.", score=judge, kind="binary")
    suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
    suite = dataclasses.replace(suite, metrics=(Spec("checked", {}, metric),), gate=("checked",))
    with PromptStore(repo.root) as store, ResultsStore(tmp_path / "results.db") as results:
        head = [store.resolve("qa@HEAD~1")]
        out = run_suite(suite, store, results, backend=FakeBackend(default="Paris"), versions=head)
        arm = out.arms[0]
        assert arm.errors == {"checked": 1}
        assert arm.scores["checked"].count(None) == 1  # the failed case has no score, not a 0
        assert arm.summary["checked"].n == len(COUNTRIES) - 1
        assert sorted(calls) == sorted(c.lower() for c in COUNTRIES)
        rows = sqlite3.connect(results.path).execute("SELECT case_id, details FROM results").fetchall()
        details = {case: json.loads(d) for case, d in rows}
        assert details["france"]["reasons"] == {"checked": "france checked"}
        assert details["peru"]["errors"] == {"checked": "ValueError: no verdict"}
        assert "reasons" not in details["peru"]

        calls.clear()
        again = run_suite(suite, store, results, backend=FakeBackend(default="Paris"), versions=head)
        assert calls == ["peru"]  # values and reasons came from the cache; the error is scored again
        assert again.arms[0].errors == {"checked": 1}
        assert again.arms[0].scores["checked"] == arm.scores["checked"]
