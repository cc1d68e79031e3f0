"""The engine end to end on the fake backend and real git repositories."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from promptarena.backends.fake import FakeBackend
from promptarena.engine import run_suite
from promptarena.errors import ConfigError
from promptarena.gitstore import PromptStore
from promptarena.metrics import get_metric, metrics
from promptarena.report import suite_table, summary_json
from promptarena.store import ResultsStore
from promptarena.suite import Spec, load_suite
from tests.support.clock import FakeClock
from tests.support.repos import COUNTRIES, qa_repo


@pytest.fixture()
def setup(tmp_path: Path):
    repo = qa_repo(tmp_path / "repo")
    store = PromptStore(repo.root)
    suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
    results = ResultsStore(tmp_path / "results.db")
    yield repo, store, suite, results
    results.close()
    store.close()


def _backend(suite) -> FakeBackend:
    options = dict(suite.model)
    options.pop("backend")
    return FakeBackend(**options)


def test_versions_are_scored_on_the_same_cases(setup) -> None:
    repo, store, suite, results = setup
    out = run_suite(suite, store, results, backend=_backend(suite))
    labels = [a.arm.label for a in out.arms]
    head, prev = repo.rev_parse("HEAD")[:7], repo.rev_parse("HEAD~1")[:7]
    assert labels == [f"{head}:plain", f"{prev}:plain"]
    assert out.arm(f"{prev}:plain").summary["exact_match"].mean == 1.0
    assert out.arm(f"{head}:plain").summary["exact_match"].mean == pytest.approx(0.5)
    assert out.generated == 2 * len(COUNTRIES) and out.cached == 0


def test_an_unchanged_rerun_generates_nothing(setup) -> None:
    _, store, suite, results = setup
    run_suite(suite, store, results, backend=_backend(suite))
    backend = _backend(suite)
    again = run_suite(suite, store, results, backend=backend)
    assert backend.history == []
    assert again.generated == 0 and again.cached == 2 * len(COUNTRIES)
    assert results.count("generations") == 2 * len(COUNTRIES)


def test_same_prompt_text_in_two_commits_is_one_cache_entry(setup) -> None:
    repo, _, suite, results = setup
    repo.write("prompts/qa.prompt", (repo.root / "prompts/qa.prompt").read_text() + "\n")
    repo.commit("qa: trailing newline only")
    store = PromptStore(repo.root)
    backend = _backend(suite)
    run_suite(suite, store, results, backend=backend, versions=[store.resolve("qa@HEAD~1")])
    backend2 = _backend(suite)
    run_suite(suite, store, results, backend=backend2, versions=[store.resolve("qa@HEAD")])
    assert backend2.history == []  # the rendered messages are the same, so are the cache keys


def test_sampled_arms_are_cached_per_sample(setup) -> None:
    _, store, suite, results = setup
    sc = Spec("self_consistency", {"samples": 3, "temperature": 0.7})
    calls = []

    def answer(request):
        calls.append(request.sample_index)
        return ["Paris", "Lyon", "Paris"][request.sample_index]

    first = run_suite(suite, store, results, backend=FakeBackend(fn=answer), variants=[sc])
    assert sorted(set(calls)) == [0, 1, 2]
    assert len(calls) == 3 * 2 * len(COUNTRIES)
    calls.clear()
    run_suite(suite, store, results, backend=FakeBackend(fn=answer), variants=[sc])
    assert calls == []
    pred = first.arms[0].predictions[0]
    assert pred.answer == "Paris" and pred.confidence == pytest.approx(2 / 3)
    assert pred.details["maj_at_k"] == ["Paris", "Paris", "Paris"]
    assert pred.details["votes"] == {"paris": 2, "lyon": 1}


def test_run_records_provenance(setup) -> None:
    repo, store, suite, results = setup
    out = run_suite(suite, store, results, backend=_backend(suite))
    (run,) = results.runs()
    assert run.status == "completed" and run.id == out.run_id
    head = repo.rev_parse("HEAD")
    assert run.provenance["versions"][head[:7]]["commit"] == head
    assert run.provenance["suite_hash"] == suite.suite_hash
    assert run.provenance["model"].startswith("fake:")
    assert "sqlite" not in run.provenance["packages"]
    rows = results.results(out.run_id)
    assert len(rows) == 2 * len(COUNTRIES)
    assert all(len(r["generation_keys"]) == 1 for r in rows)


@pytest.mark.parametrize("variant", [Spec("plain"), Spec("self_consistency", {"samples": 3, "temperature": 0.7})])
def test_a_failing_backend_keeps_what_was_generated(setup, variant: Spec) -> None:
    _, store, suite, results = setup
    suite = dataclasses.replace(suite, variants=(variant,))
    per_case = variant.options.get("samples", 1)
    seen = []
    broken = [True]

    def answer(request):
        seen.append(request)
        if broken[0] and len(seen) > 4:
            raise RuntimeError("model went away")
        return "Paris"

    with pytest.raises(RuntimeError):
        run_suite(suite, store, results, backend=FakeBackend(fn=answer))
    stored = results.count("generations")
    assert stored == 4
    assert results.runs()[0].status == "failed"
    broken[0] = False
    backend = FakeBackend(fn=answer)
    run_suite(suite, store, results, backend=backend)
    assert len(backend.history) == 2 * len(COUNTRIES) * per_case - stored
    assert results.count("generations") == 2 * len(COUNTRIES) * per_case


def test_metric_scores_are_cached(setup) -> None:
    """A rerun reads scores from the cache: the metric's function is not called again (the generations are cached
    too, so only a recomputed score could call it)."""
    _, store, suite, results = setup
    exact = get_metric("exact_match")
    scored: list[str] = []

    def counting(predictions, cases, options):  # noqa: ANN001, ANN202 - a ScoreFn
        scored.extend(case.id for case in cases)
        return exact.score(predictions, cases, options)

    suite = dataclasses.replace(suite, metrics=(Spec("counted"), Spec("rougeL")))
    with metrics.added("counted", dataclasses.replace(exact, name="counted", score=counting)):
        first = run_suite(suite, store, results, backend=_backend(suite))
        assert sorted(scored) == sorted(2 * [c.id for c in suite.cases])  # both versions, each case once
        scored.clear()
        again = run_suite(suite, store, results, backend=_backend(suite))
    assert scored == []
    assert [a.scores for a in again.arms] == [a.scores for a in first.arms]
    assert again.arms[1].summary["counted"].mean == 1.0


# --- latency and throughput: the fake backend's delays pass on a fake clock, which the engine reads too ----


def test_concurrent_samples_give_one_samples_latency_not_their_sum(setup) -> None:
    _, store, suite, results = setup
    sc = Spec("self_consistency", {"samples": 5, "temperature": 0.7})
    suite = dataclasses.replace(suite, cases=suite.cases[:1])
    clock = FakeClock()
    backend = FakeBackend(default="Paris", delay_s=0.05, concurrency=5, clock=clock)
    version = [store.resolve("qa@HEAD")]
    out = run_suite(suite, store, results, backend=backend, variants=[sc], versions=version, clock=clock)
    (pred,) = out.arms[0].predictions
    assert [g.latency_s for g in pred.generations] == pytest.approx([0.05] * 5)  # one wave of five
    assert pred.latency_s == pytest.approx(0.05)  # the slowest sample's, not the sum
    assert out.arms[0].latency_p50 == pytest.approx(0.05)
    assert clock.now() == pytest.approx(1000.05)


def test_a_queued_batch_counts_each_requests_wait(setup) -> None:
    _, store, suite, results = setup
    suite = dataclasses.replace(suite, cases=suite.cases[:3])
    clock = FakeClock()
    backend = FakeBackend(default="Paris", delay_s=0.03, clock=clock)
    out = run_suite(suite, store, results, backend=backend, versions=[store.resolve("qa@HEAD")], clock=clock)
    latencies = [p.latency_s for p in out.arms[0].predictions]
    assert latencies == pytest.approx([0.03, 0.06, 0.09])  # one at a time: queue wait plus own delay


def test_judge_rounds_add_up(setup) -> None:
    _, store, suite, results = setup
    suite = dataclasses.replace(suite, cases=suite.cases[:1])
    judge = Spec("judge", {"samples": 3, "temperature": 0.7})
    clock = FakeClock()
    backend = FakeBackend(default="1. Paris", delay_s=0.04, concurrency=8, clock=clock)
    version = [store.resolve("qa@HEAD")]
    out = run_suite(suite, store, results, backend=backend, variants=[judge], versions=version, clock=clock)
    (pred,) = out.arms[0].predictions
    assert [g.latency_s for g in pred.generations] == pytest.approx([0.04] * 4)  # 3 candidates, then the verdict
    assert pred.latency_s == pytest.approx(0.08)  # the candidates' round, then the verdict's
    (row,) = results.results(out.run_id)
    assert row["details"]["rounds"] == [3, 1]


def test_arm_throughput_is_tokens_over_the_span_they_were_generated_in(setup) -> None:
    _, store, suite, results = setup
    clock = FakeClock()
    backend = FakeBackend(default="one two three four", delay_s=0.02, concurrency=3, clock=clock)
    version = [store.resolve("qa@HEAD")]
    out = run_suite(suite, store, results, backend=backend, versions=version, clock=clock)
    arm = out.arms[0]
    assert arm.tokens_per_s == pytest.approx(4 * len(suite.cases) / 0.04)  # six cases in two 0.02 s waves of 3
    assert out.generation_s == pytest.approx(0.04)
    assert summary_json(out)["arms"][0]["tokens_per_s"] == arm.tokens_per_s
    cached = run_suite(suite, store, results, backend=backend, versions=version, clock=clock)
    assert math.isnan(cached.arms[0].tokens_per_s)
    assert cached.arms[0].latency_p50 == pytest.approx(arm.latency_p50)  # from the stored generations
    assert "tok/s" in [c.header for c in suite_table(out).columns]


# --- context ------------------------------------------------------------------------------------------


def test_a_prompt_over_the_context_is_refused_before_any_generation(setup) -> None:
    _, store, suite, results = setup
    backend = FakeBackend(default="Paris", context_length=40)
    long_case = dataclasses.replace(suite.cases[2], vars={"country": "word " * 60})
    suite = dataclasses.replace(suite, cases=(suite.cases[0], suite.cases[1], long_case))
    with pytest.raises(ConfigError) as info:
        run_suite(suite, store, results, backend=backend)
    message = str(info.value)
    assert message.startswith(f"{long_case.meta['where']}: case {long_case.id!r} (version qa@")
    assert "max_new_tokens is 16, over the model's context of 40 tokens" in message
    assert "set `model: {truncate: left}`" in message
    assert backend.history == [] and results.count("generations") == 0 and results.runs() == []


def test_truncate_left_lets_a_long_prompt_through(setup) -> None:
    _, store, suite, results = setup
    backend = FakeBackend(default="Paris", context_length=40, truncate="left")
    long_case = dataclasses.replace(suite.cases[0], vars={"country": "word " * 60})
    suite = dataclasses.replace(suite, cases=(long_case,))
    out = run_suite(suite, store, results, backend=backend, versions=[store.resolve("qa@HEAD")])
    (pred,) = out.arms[0].predictions
    assert pred.prompt_tokens == 40 - 16
