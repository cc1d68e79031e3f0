"""The planner on real git repositories: which versions and arms each suite evaluates, and what its gate compares."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptarena.errors import ConfigError
from promptarena.gitstore import PromptStore
from promptarena.plan import parse_arm, plan_suite, resolve_arms, select_versions
from promptarena.suite import load_suite
from tests.support.repos import qa_repo, write_suite


@pytest.fixture()
def planned(tmp_path: Path):
    """A qa repository (v1 at HEAD~1, v2 at HEAD) whose suite runs plain and cot, its store and its suite."""
    repo = qa_repo(tmp_path / "repo", variants=["plain", "cot"])
    store = PromptStore(repo.root)
    yield repo, store, load_suite(repo.root / "evals" / "qa.yaml", repo.root)
    store.close()


def _labels(arms) -> list[str]:
    return [a.label for a in arms]


def test_a_changed_prompt_is_planned_now_and_at_the_baseline_with_one_pair_per_variant(planned) -> None:
    _, store, suite = planned
    now, then = store.resolve("qa@HEAD").label, store.resolve("qa@HEAD~1").label
    plan = plan_suite(suite, store, [], "HEAD~1")
    assert plan.skipped is None and plan.baseline is not None and plan.baseline.label == then
    assert _labels(plan.arms) == [f"{now}:plain", f"{now}:cot", f"{then}:plain", f"{then}:cot"]
    assert [(a.label, b.label) for a, b in plan.baseline_pairs] == [
        (f"{then}:plain", f"{now}:plain"),
        (f"{then}:cot", f"{now}:cot"),
    ]


def test_an_unchanged_suite_is_skipped_with_nothing_to_run(planned) -> None:
    _, store, suite = planned
    plan = plan_suite(suite, store, [], "HEAD")
    assert plan.skipped == "unchanged since HEAD"
    assert plan.arms == [] and plan.baseline_pairs == []


def test_changed_cases_rerun_the_current_prompt_against_thresholds_only(planned) -> None:
    repo, store, suite = planned
    repo.write("evals/cases/qa.jsonl", (repo.root / "evals/cases/qa.jsonl").read_text() + "\n")
    repo.commit("qa: touch the cases")
    suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
    plan = plan_suite(suite, store, [], "HEAD~1")
    assert plan.skipped is None
    assert [v.label for v in plan.versions] == [store.resolve("qa@HEAD").label]
    assert plan.baseline_pairs == []


def test_a_prompt_new_since_the_baseline_is_gated_by_thresholds_only(planned) -> None:
    repo, store, _ = planned
    repo.write("prompts/fresh.prompt", "user:\nCapital of {{ country }}?\n")
    write_suite(repo, name="fresh", prompt="fresh")
    repo.commit("fresh: a new prompt and its suite")
    suite = load_suite(repo.root / "evals" / "fresh.yaml", repo.root)
    plan = plan_suite(suite, store, [], "HEAD~1")
    assert plan.baseline is None and len(plan.versions) == 1 and plan.baseline_pairs == []


def test_revisions_naming_one_version_twice_plan_it_once(planned) -> None:
    repo, store, suite = planned
    repo.write("README.md", "not a prompt\n")
    repo.commit("docs")  # HEAD and HEAD~1 now hold the same prompt text
    versions = select_versions(suite, store, ["HEAD", "HEAD~1", "HEAD~2"])
    assert [v.label for v in versions] == [store.resolve("qa@HEAD").label, store.resolve("qa@HEAD~2").label]


def test_arms_default_to_plain_and_take_any_registered_variant(planned) -> None:
    _, store, suite = planned
    now, then = store.resolve("qa@HEAD").label, store.resolve("qa@HEAD~1").label
    arms = resolve_arms(suite, store, ["HEAD~1", "qa@HEAD:cot", "HEAD:self_consistency"])
    assert _labels(arms) == [f"{then}:plain", f"{now}:cot", f"{now}:self_consistency"]
    assert arms[1].variant is suite.variants[1]  # the suite's own configuration of cot


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["HEAD", "HEAD:plain"], "name the same version and variant twice"),
        (["HEAD~1", "HEAD:no_such_variant"], "no_such_variant"),
        (["HEAD~1", ":cot"], "write it as REV or REV:VARIANT"),
    ],
)
def test_bad_arms_are_refused_before_any_work(planned, specs: list[str], message: str) -> None:
    _, store, suite = planned
    with pytest.raises(ConfigError, match=message):
        resolve_arms(suite, store, specs)


def test_parse_arm_drops_the_prompt_name_and_splits_the_variant() -> None:
    assert parse_arm("summarize@v2:plain") == ("v2", "plain")
    assert parse_arm("HEAD~1") == ("HEAD~1", None)
