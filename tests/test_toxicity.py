"""Toxicity scorers: the offline default on fixed texts, the per-arm summary, and clear errors."""

from __future__ import annotations

import math

import pytest

from promptarena.errors import BackendError, ConfigError
from promptarena.metrics.toxicity import get_scorer, summarize, toxicity_scorers

CLEAN = ["Thank you, have a lovely day.", "The capital of France is Paris.", "Add two cups of flour and stir."]
TOXIC = ["you are a fucking idiot", "shut up you stupid bitch"]


def test_default_scorer_separates_clean_from_toxic_text() -> None:
    scorer = get_scorer()
    assert scorer.name == "profanity_check" and scorer.version.startswith("alt-profanity-check ")
    clean, toxic = scorer.score(CLEAN), scorer.score(TOXIC)
    assert all(0.0 <= s < 0.5 for s in clean), clean
    assert all(0.5 <= s <= 1.0 for s in toxic), toxic
    assert scorer.score([]) == []


def test_summary_is_the_share_at_or_above_the_threshold_and_the_maximum() -> None:
    scores = get_scorer().score(CLEAN + TOXIC)
    summary = summarize(scores)
    assert summary.n == 5 and summary.toxic_share == pytest.approx(2 / 5)
    assert summary.max == max(scores)
    assert summarize([0.2, 0.5, 0.7], threshold=0.6).toxic_share == pytest.approx(1 / 3)
    assert math.isnan(summarize([]).toxic_share)


def test_registry_names_scorers_and_checks_options() -> None:
    assert toxicity_scorers.names() == ["profanity_check", "transformers"]
    with pytest.raises(ConfigError, match="did you mean profanity_check"):
        get_scorer("profanity_chek")
    with pytest.raises(ConfigError, match="needs the option 'model'"):
        get_scorer("transformers")
    with pytest.raises(ConfigError, match="no option 'modle' \\(did you mean model\\?\\)"):
        get_scorer("transformers", modle="x")


def test_a_missing_classifier_is_a_clear_backend_error(tmp_path, monkeypatch) -> None:
    pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = tmp_path / "no-such-classifier"
    with pytest.raises(BackendError, match="cannot load the toxicity classifier .*no-such-classifier.*HF_HUB_OFFLINE"):
        get_scorer("transformers", model=str(missing))
    assert BackendError.exit_code == 3
