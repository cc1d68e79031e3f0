"""The engine end to end on the fake backend and real git repositories."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from promptarena.backends.fake import FakeBackend
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.results import ResultsStore
from promptarena.suite import Spec, load_suite
from tests.helpers import COUNTRIES, qa_repo


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


def test_metric_scores_are_cached(setup, monkeypatch) -> None:
    _, store, suite, results = setup
    suite = dataclasses.replace(suite, metrics=(Spec("exact_match"), Spec("rougeL")))
    run_suite(suite, store, results, backend=_backend(suite))
    scores = sqlite3.connect(results.path).execute("SELECT count(*) FROM scores").fetchone()[0]
    assert scores > 0
    run_suite(suite, store, results, backend=_backend(suite))
    assert sqlite3.connect(results.path).execute("SELECT count(*) FROM scores").fetchone()[0] == scores
