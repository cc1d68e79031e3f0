"""A run in chunks: the same results as in one piece, and its outputs are not all held in memory at once."""

from __future__ import annotations

import dataclasses
import tracemalloc
from pathlib import Path

import pytest

from promptarena.backends.fake import FakeBackend
from promptarena.compare import compare_arms
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.report import comparison_json, summary_json
from promptarena.store import ResultsStore
from promptarena.suite import Spec, load_suite
from promptarena.types import Case, GenerationRequest
from tests.support.repos import qa_repo

PAD = 4000  # characters of filler per output: a long answer, as a real model writes


def answer(request: GenerationRequest) -> str:
    """A city that depends on the question and the sample, then a long tail of words."""
    text = request.messages[-1].content
    city = ["Paris", "Rome", "Oslo"][(len(text) + request.sample_index) % 3]
    return city + " " + ("filler " * (PAD // 7))


def _cases(n: int) -> tuple[Case, ...]:
    return tuple(Case(f"c{i:05d}", {"country": f"Country {i}"}, ("Paris",)) for i in range(n))


@pytest.fixture()
def setup(tmp_path: Path):
    repo = qa_repo(tmp_path / "repo")
    store = PromptStore(repo.root)
    suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
    yield tmp_path, store, suite
    store.close()


def _stored(results: ResultsStore, run_id: str) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "run_id"} for row in results.results(run_id)]


def test_a_run_in_chunks_equals_the_run_in_one_piece(setup) -> None:
    tmp, store, suite = setup
    suite = dataclasses.replace(suite, cases=_cases(23))
    variants = [Spec("plain"), Spec("self_consistency", {"samples": 3}), Spec("judge", {"samples": 2})]
    outcomes, stored, compared = [], [], []
    for name, chunk_size in (("whole", 10_000), ("chunked", 7)):
        with ResultsStore(tmp / f"{name}.db") as results:
            out = run_suite(
                suite, store, results, backend=FakeBackend(fn=answer), variants=variants, chunk_size=chunk_size
            )
            stored.append(_stored(results, out.run_id))
            compared.append(comparison_json(compare_arms(suite, out.arms)))
        outcomes.append(out)
    whole, chunked = outcomes
    assert stored[0] == stored[1] and len(stored[0]) == 2 * 3 * 23
    assert compared[0] == compared[1] and len(compared[0]["cases"]) == 23
    assert (
        (chunked.generated, chunked.cached) == (whole.generated, whole.cached) == (2 * 23 * (1 + 3 + 1), 0)
    )  # the judge's samples are the vote's
    assert chunked.generated_tokens == whole.generated_tokens
    for a, b in zip(whole.arms, chunked.arms, strict=True):
        assert a.scores == b.scores and len(a.scores["exact_match"]) == 23
        assert a.summary == b.summary and a.mean_output_tokens == b.mean_output_tokens
        assert [(p.output, p.answer, p.confidence, p.details) for p in a.predictions] == [
            (p.output, p.answer, p.confidence, p.details) for p in b.predictions
        ]
    # the predictions are read back from the store after it is closed, and match the stored rows
    first = chunked.arms[2].predictions[4]
    assert first.details["judge_output"] and len(first.generations) == 3
    timing = ("latency_p50_s", "latency_p95_s", "tokens_per_s")
    arms = [[{k: v for k, v in a.items() if k not in timing} for a in summary_json(o)["arms"]] for o in outcomes]
    assert arms[0] == arms[1]


def _peak_bytes(tmp: Path, store: PromptStore, suite, cases: int, chunk_size: int) -> int:
    """The Python heap's peak while running ``cases`` cases of one arm, over its size before the run."""
    suite = dataclasses.replace(suite, cases=_cases(cases))
    with ResultsStore(tmp / f"peak-{cases}-{chunk_size}.db") as results:
        version = [store.resolve("qa@HEAD")]
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            out = run_suite(
                suite, store, results, backend=FakeBackend(fn=answer), versions=version, chunk_size=chunk_size
            )
            peak = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
    assert out.generated == cases
    return peak


def test_a_run_does_not_hold_its_outputs(setup) -> None:
    tmp, store, suite = setup
    small, large = _peak_bytes(tmp, store, suite, 1000, 100), _peak_bytes(tmp, store, suite, 3000, 100)
    outputs = 2000 * PAD  # the 2,000 more outputs, each once: what a run holding them all needs at the least
    growth = large - small  # cases and their rendered prompts grow with the suite; outputs must not
    assert growth < outputs / 2, f"{growth / 2**20:.1f} MiB more for {outputs / 2**20:.1f} MiB more outputs"
