"""The score cache and the results table's row format, on a real results database."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptarena.metrics import Score, scores_through_cache
from promptarena.store import ResultRow, ResultsStore, stored_prediction
from promptarena.types import Generation


@pytest.fixture
def results(tmp_path: Path) -> ResultsStore:
    return ResultsStore(tmp_path / "results.db")


def test_each_identity_is_scored_once_and_then_read_from_the_cache(results: ResultsStore) -> None:
    asked: list[list[int]] = []

    def compute(todo: list[int]) -> list[Score]:
        asked.append(todo)
        return [Score(float(len(texts[i])), reason=f"length of {texts[i]}") for i in todo]

    texts = ["a", "bbb", "a", "cc"]
    identities = [{"scorer": "length", "text": t} for t in texts]
    first = scores_through_cache(results, "length", identities, compute)
    assert [s.value for s in first] == [1.0, 3.0, 1.0, 2.0]
    assert asked == [[0, 1, 3]]  # the repeated text once, at its first place

    again = scores_through_cache(results, "length", [{"text": "cc", "scorer": "length"}], compute)
    assert again == [Score(2.0, reason="length of cc")]  # the same identity written in another order
    assert asked == [[0, 1, 3]]


def test_a_failed_score_is_not_kept_and_is_scored_again(results: ResultsStore) -> None:
    calls: list[int] = []

    def failing(todo: list[int]) -> list[Score]:
        calls.append(len(todo))
        return [Score(None, error="the scorer raised") for _ in todo]

    def working(todo: list[int]) -> list[Score]:
        calls.append(len(todo))
        return [Score(1.0) for _ in todo]

    assert scores_through_cache(results, "m", [{"x": 1}], failing)[0].error == "the scorer raised"
    assert scores_through_cache(results, "m", [{"x": 1}], working) == [Score(1.0)]
    assert scores_through_cache(results, "m", [{"x": 1}], working) == [Score(1.0)]
    assert calls == [1, 1]


def _row(run_id: str, details: dict, rounds: list[int], keys: list[str]) -> ResultRow:
    return ResultRow(
        run_id=run_id,
        suite="qa",
        prompt="capital_qa",
        version="abc1234",
        commit_sha="abc1234" * 5,
        blob="b" * 40,
        variant="judge",
        model="",
        case_id="france",
        perturbation="",
        output="Paris",
        answer="Paris",
        confidence=0.5,
        reasoning=None,
        details=details,
        rounds=rounds,
        generation_keys=keys,
        scores={"exact_match": 1.0},
    )


def test_a_result_row_is_written_column_by_column_and_read_back_as_its_prediction(results: ResultsStore) -> None:
    run_id = results.start_run("qa", "capital_qa", {})
    generations = {f"k{i}": Generation(f"text {i}", 5, 2, latency) for i, latency in enumerate([1.0, 3.0, 0.5])}
    # details may hold any key of a variant's: it stays inside the details column
    results.put_results([_row(run_id, {"picked": 1, "run_id": "not a column"}, [2, 1], ["k0", "k1", "k2"])])

    (stored,) = results.results(run_id)
    assert stored["run_id"] == run_id and stored["scores"] == {"exact_match": 1.0}
    assert stored["details"] == {"picked": 1, "run_id": "not a column", "rounds": [2, 1]}
    read = results.result_row(run_id, ("b" * 40, "judge", ""), "france")
    prediction = stored_prediction(read, generations)
    assert prediction.details == {"picked": 1, "run_id": "not a column"}
    assert [g.text for g in prediction.generations] == ["text 0", "text 1", "text 2"]
    assert prediction.latency_s == 3.0 + 0.5  # the slowest of the first round, then the second


def test_a_row_stored_before_round_sizes_reads_as_one_round() -> None:
    generations = {"k0": Generation("a", 1, 1, 2.0), "k1": Generation("b", 1, 1, 4.0)}
    row = {"output": "a", "answer": "a", "confidence": None, "reasoning": None, "details": {}, "keys": ["k0", "k1"]}
    assert stored_prediction(row, generations).latency_s == 4.0
