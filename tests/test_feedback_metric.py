"""thumbs_up is a metric like the others, registered with its values coming from people's votes."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptarena import feedback
from promptarena.errors import ConfigError
from promptarena.metrics import get_metric
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from tests.support.repos import qa_repo
from tests.support.votes import vote


def test_thumbs_up_is_a_registered_feedback_metric() -> None:
    metric = get_metric("thumbs_up")
    assert (metric.source, metric.kind, metric.higher_is_better, metric.score) == ("feedback", "binary", True, None)
    assert get_metric("exact_match").source == "prediction"


def test_a_suite_takes_a_feedback_threshold_but_not_a_feedback_metric(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "ok", thresholds={"thumbs_up": 0.5})
    assert load_suite(repo.root / "evals" / "qa.yaml").thresholds == {"thumbs_up": 0.5}
    listed = qa_repo(tmp_path / "listed", metrics=["exact_match", "thumbs_up"])
    with pytest.raises(ConfigError, match=r"qa.yaml:\d+: metrics\[1\]: 'thumbs_up' is people's votes"):
        load_suite(listed.root / "evals" / "qa.yaml")
    typo = qa_repo(tmp_path / "typo", thresholds={"thumbs_upp": 0.5})
    with pytest.raises(ConfigError, match=r"thresholds also take people's votes: thumbs_up\)"):
        load_suite(typo.root / "evals" / "qa.yaml")


def test_an_arms_votes_are_summarized_as_its_metric_says(tmp_path: Path) -> None:
    with ResultsStore(tmp_path / "r.db") as results:
        assert feedback.thumbs_up_shares(results, "qa") == {}
        for name, up in (("ada", True), ("bob", True), ("cy", False), ("dee", True)):
            vote(results, "b" * 40, "c", "o", up, name=name)
        ((arm, interval),) = feedback.thumbs_up_shares(results, "qa").items()
    assert (arm, interval.n, interval.mean) == (("qa", "b" * 40, "plain"), 4, 0.75)
    assert interval.low == pytest.approx(0.3006418, abs=1e-6)  # Wilson, as for any pass/fail metric
