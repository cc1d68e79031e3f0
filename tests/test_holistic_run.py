"""The holistic view end to end: suite validation, perturbed requests run and cached, numbers checked against a
direct computation from the stored per-case scores, JSON, compare, and a results database of an older schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from promptarena.errors import ConfigError
from promptarena.gitstore import PromptStore
from promptarena.metrics.bias import bias_measures
from promptarena.metrics.toxicity import get_scorer
from promptarena.perturbations import perturb_vars
from promptarena.stats import compare_family, compare_paired, mean_ci
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from tests.support.cli import evals
from tests.support.git import GitRepo
from tests.support.repos import database_at

PROMPT = """---
description: sentiment of a review
variables:
  review: the review
parameters:
  max_new_tokens: 4
answer:
  extract: first_line
---
system:
Label the review.
Labels: positive, negative, neutral

user:
Review: {{ review }}
Sentiment:
"""

REVIEWS = {
    "waiter": "The waiter was kind and he smiled at us.",
    "nurse": "The nurse said she would help and she did.",
    "food": "The food was great, I would come back.",
    "owner": "The owner John fixed my bike for free.",
    "mother": "The staff helped my mother find her seat.",
    "room": "The room was clean and quiet.",
}

# "she" anywhere reads as a complaint, "The " as praise: counterfactuals and lowercasing move the answers
RESPONSES = {"she": "negative", "She": "negative", "The ": "positive"}

HOLISTIC: dict[str, Any] = {
    "perturbations": ["typos", "lowercase", "gender_female", "gender_male"],
    "bias": True,
    "toxicity": "profanity_check",
    "sensitivity": 3,
}


def review_repo(root: Path, **fields: Any) -> GitRepo:
    """Two committed versions of a review prompt and a suite with every holistic part, answered by the fake."""
    repo = GitRepo(root)
    repo.write("prompts/review.prompt", PROMPT)
    cases = [{"id": k, "vars": {"review": v}, "reference": "positive"} for k, v in REVIEWS.items()]
    repo.write("evals/cases/review.jsonl", "\n".join(json.dumps(c) for c in cases) + "\n")
    doc = {
        "prompt": "review",
        "cases": "cases/review.jsonl",
        "metrics": ["exact_match"],
        "versions": {"last": 2},
        "model": {"backend": "fake", "responses": RESPONSES, "default": "neutral"},
        **HOLISTIC,
        **fields,
    }
    repo.write("evals/review.yaml", yaml.safe_dump(doc, sort_keys=False))
    repo.commit("review: first version")
    repo.write("prompts/review.prompt", PROMPT.replace("Label the review.", "Label the review carefully."))
    repo.commit("review: ask for care")
    return repo


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[GitRepo, dict[str, Any]]:
    repo = review_repo(tmp_path_factory.mktemp("holistic") / "repo")
    out = evals("run", "--json", cwd=repo.root)
    assert out.returncode == 0, out.stderr
    return repo, json.loads(out.stdout)


def _stored(repo: GitRepo, run_id: str) -> dict[tuple[str, str], dict[str, list[float]]]:
    """(version, variant) -> column ('' as written) -> exact_match per case in case order, from the database."""
    with ResultsStore(repo.root / ".promptarena" / "results.db") as results:
        rows = results.results(run_id)
    out: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
    for row in rows:
        column = out.setdefault((row["version"], row["variant"]), {}).setdefault(row["perturbation"], {})
        column[row["case_id"]] = row["scores"]["exact_match"]
    return {arm: {c: [v.get(k) for k in REVIEWS] for c, v in cols.items()} for arm, cols in out.items()}


# --- the suite file ---------------------------------------------------------------------------------------


def _line(repo: GitRepo, needle: str) -> int:
    """The 1-based line of the suite file where ``needle`` last appears."""
    lines = (repo.root / "evals" / "review.yaml").read_text().splitlines()
    return max(i for i, line in enumerate(lines, start=1) if needle in line)


BAD = [
    (
        {"perturbations": ["typos", "lowercas"]},
        "- lowercas",
        "perturbations[1]: unknown perturbation 'lowercas' (did you mean lowercase?)",
    ),
    ({"perturbations": ["typos", "typos"]}, "- typos", "perturbations[1]: 'typos' is listed twice"),
    (
        {"bias": ["representation_gendr"]},
        "- representation_gendr",
        "bias[0]: unknown bias measure 'representation_gendr' (did you mean representation_gender?)",
    ),
    (
        {"toxicity": "profanity"},
        "toxicity:",
        "toxicity: unknown toxicity scorer 'profanity' (did you mean profanity_check?)",
    ),
    (
        {"toxicity": {"scorer": "transformers"}},
        "scorer: transformers",
        "toxicity: toxicity scorer 'transformers' needs the option 'model'",
    ),
    (
        {"toxicity": {"scorer": "transformers", "modle": "x"}},
        "scorer: transformers",
        "toxicity: toxicity scorer 'transformers' has no option 'modle' (did you mean model?)",
    ),
    (
        {"sensitivity": {"n": 3, "formats": ["separater"]}},
        "- separater",
        "sensitivity.formats[0]: unknown format 'separater' (did you mean separator?)",
    ),
    ({"sensitivity": 1}, "sensitivity:", "sensitivity"),
    ({"perturbation": ["typos"]}, "- typos", "perturbation: unknown field (did you mean perturbations?)"),
]


@pytest.mark.parametrize(("fields", "needle", "expected"), BAD)
def test_a_bad_holistic_field_names_its_line_and_a_near_name(
    tmp_path: Path, fields: dict, needle: str, expected: str
) -> None:
    repo = review_repo(tmp_path / "repo", **{k: v for k, v in HOLISTIC.items() if k not in fields}, **fields)
    with pytest.raises(ConfigError) as err:
        load_suite(repo.root / "evals" / "review.yaml", repo.root)
    assert str(err.value).startswith(f"evals/review.yaml:{_line(repo, needle)}: {expected}")


def test_a_typo_in_perturbations_exits_2_without_traceback_or_writes(tmp_path: Path) -> None:
    repo = review_repo(tmp_path / "repo", perturbations=["tyops"])
    out = evals("run", cwd=repo.root)
    assert out.returncode == 2, out.stderr
    line = _line(repo, "- tyops")
    assert (
        f"evals/review.yaml:{line}: perturbations[0]: unknown perturbation 'tyops' (did you mean typos?)" in out.stderr
    )
    assert "Traceback" not in out.stderr
    assert not (repo.root / ".promptarena").exists()


def test_the_suite_holds_its_holistic_parts(tmp_path: Path) -> None:
    repo = review_repo(tmp_path / "repo", perturbation_seed=7, sensitivity={"n": 4, "formats": ["separator"]})
    h = load_suite(repo.root / "evals" / "review.yaml", repo.root).holistic
    assert h.perturbations == ("typos", "lowercase", "gender_female", "gender_male") and h.perturbation_seed == 7
    assert h.bias == tuple(bias_measures.names()) and h.toxicity is not None and h.toxicity.name == "profanity_check"
    assert (h.sensitivity, h.formats, h.declared) == (4, ("separator",), True)
    plain = review_repo(tmp_path / "plain", perturbations=[], bias=False, toxicity=None, sensitivity=None)
    assert not load_suite(plain.root / "evals" / "review.yaml", plain.root).holistic.declared


# --- a run, against a direct computation -------------------------------------------------------------------


def test_holistic_numbers_match_a_direct_computation_from_the_stored_scores(ran) -> None:
    repo, doc = ran
    (suite,) = doc["suites"]
    stored = _stored(repo, suite["run_id"])
    scorer = get_scorer("profanity_check")
    for arm in suite["arms"]:
        h, columns = arm["holistic"], stored[(arm["version"], arm["variant"])]
        base = np.array(columns[""], dtype=float)
        assert h["accuracy"]["mean"] == pytest.approx(base.mean())
        robust = np.vstack([base, columns["typos"], columns["lowercase"]])
        assert h["robustness"]["worst_case"]["mean"] == pytest.approx(robust.min(axis=0).mean())
        assert h["robustness"]["worst_case"]["low"] == pytest.approx(mean_ci(robust.min(axis=0), "binary").low)
        assert h["robustness"]["drops"]["lowercase"] == pytest.approx(base.mean() - np.mean(columns["lowercase"]))
        female, male = columns["gender_female"], columns["gender_male"]
        fair = np.vstack([base, female, male])
        assert h["fairness"]["worst_case"]["mean"] == pytest.approx(fair.min(axis=0).mean())
        gender = h["fairness"]["axes"]["gender"]
        assert gender["gap"] == pytest.approx(abs(np.mean(female) - np.mean(male)))
        worse, better = (female, male) if np.mean(female) <= np.mean(male) else (male, female)
        assert gender["gap_test"]["p_value"] == pytest.approx(compare_paired(worse, better, "binary").p_value)
        layouts = [columns[""], *(columns[k] for k in columns if k.startswith("format:"))]
        means = [np.mean([v for v in col if v is not None]) for col in layouts]
        assert h["sensitivity"]["spread"] == pytest.approx(max(means) - min(means))
        assert h["sensitivity"]["std"] == pytest.approx(np.std(means, ddof=1))
    # the fake calls a review with "she" negative: female counterfactuals lose the waiter, male ones win the nurse
    latest = stored[(suite["arms"][0]["version"], "plain")]
    assert latest[""] == [1, 0, 1, 1, 1, 1] and latest["lowercase"] == [0] * 6
    assert latest["gender_female"] == [0, 0, 1, 1, 1, 1] and latest["gender_male"] == [1] * 6
    assert suite["arms"][0]["holistic"]["fairness"]["axes"]["gender"]["gap"] == pytest.approx(2 / 6)
    outputs = ["positive", "negative", "positive", "positive", "positive", "positive"]
    toxicity = suite["arms"][0]["holistic"]["toxicity"]
    assert toxicity["max"] == pytest.approx(max(scorer.score(outputs)))
    assert toxicity["toxic_share"]["mean"] == 0 and toxicity["scorer"].startswith(
        "profanity_check (alt-profanity-check"
    )
    assert suite["arms"][0]["holistic"]["bias"] == {m: bias_measures.get(m)(outputs) for m in bias_measures.names()}


def test_each_perturbed_case_is_one_more_request_rendered_with_the_same_template(ran) -> None:
    repo, doc = ran
    (suite,) = doc["suites"]
    with ResultsStore(repo.root / ".promptarena" / "results.db") as results:
        rows = results.results(suite["run_id"])
        (run,) = [r for r in results.runs() if r.id == suite["run_id"]]
        requests = {}
        with results.read() as conn:  # the test reads the stored request of each generation
            for key, request in conn.execute("SELECT key, request FROM generations"):
                requests[key] = json.loads(request)
    nurse = next(r for r in rows if r["case_id"] == "nurse" and r["perturbation"] == "gender_male")
    assert nurse["details"]["input"] == perturb_vars({"review": REVIEWS["nurse"]}, "gender_male", 0, "nurse")
    (key,) = nurse["generation_keys"]
    assert requests[key]["messages"][-1]["content"] == "Review: The nurse said he would help and he did.\nSentiment:"
    labels = {r["perturbation"] for r in rows}
    assert labels == {"", "typos", "lowercase", "gender_female", "gender_male", "format:1", "format:2"}
    assert len(rows) == 2 * len(REVIEWS) * len(labels)
    prov = run.provenance["holistic"]
    assert prov["perturbations"] == ["typos@v2", "lowercase@v2", "gender_female@v1", "gender_male@v1"]
    assert prov["toxicity"]["scorer"] == "profanity_check" and prov["toxicity"]["version"].startswith("alt-profanity")


def test_a_rerun_generates_nothing_and_views_of_the_case_as_written_are_unchanged(ran) -> None:
    from tests.test_imports import _evals_importing

    repo, doc = ran
    code, stdout, imported = _evals_importing(["run", "--json"], repo.root, ("nltk",))
    assert code == 0, stdout
    (first,), (second,) = doc["suites"], json.loads(stdout[: stdout.rindex("IMPORTED=")])["suites"]
    assert second["generated"] == 0 and second["cached"] == first["generated"] + first["cached"]
    for key in ("robustness", "bias"):
        assert [a["holistic"][key] for a in second["arms"]] == [a["holistic"][key] for a in first["arms"]]
    assert imported == []  # the bias measures of unchanged outputs are read back, not tokenized again
    with ResultsStore(repo.root / ".promptarena" / "results.db") as results:
        arm = results.stored_arms("review")[0]
        assert sorted(results.arm_results(arm.run_id, arm.blob, arm.variant)) == sorted(REVIEWS)
        assert results.case_ids("review") == list(REVIEWS)


def test_the_terminal_shows_one_holistic_table_only_when_the_suite_declares_one(ran, tmp_path: Path) -> None:
    repo, _ = ran
    out = evals("run", cwd=repo.root)
    assert out.returncode == 0, out.stderr
    assert "review: holistic view" in out.stdout
    for header in ("exact_match ↑", "ECE ↓", "robust ↑", "fair ↑", "fair gap", "bias ↓", "toxic ↓", "spread ↓"):
        assert header in out.stdout
    caption = " ".join(out.stdout.split())
    assert "toxic: share scored ≥ 0.5 by profanity_check (alt-profanity-check" in caption
    assert "bias: the largest of 6 measures (0 even, 0.5 all in one of 2 groups)" in caption
    assert "spread: best − worst across prompt layouts (sample standard deviation)" in caption
    plain = review_repo(tmp_path / "plain", perturbations=[], bias=False, toxicity=None, sensitivity=None)
    out = evals("run", cwd=plain.root)
    assert out.returncode == 0 and "holistic" not in out.stdout


def test_compare_pairs_the_worst_cases_of_two_arms(ran) -> None:
    repo, _ = ran
    out = evals("compare", "review", "HEAD~1", "HEAD", "--json", cwd=repo.root)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    stored = evals("run", "--json", cwd=repo.root)
    arms = {a["version"]: a for a in json.loads(stored.stdout)["suites"][0]["arms"]}
    head, before = repo.rev_parse("HEAD")[:7], repo.rev_parse("HEAD~1")[:7]
    rows = {r["metric"]: r for r in doc["holistic"]}
    assert set(rows) == {"exact_match (robust worst case)", "exact_match (fair worst case)"}
    a, b = arms[before]["holistic"], arms[head]["holistic"]
    assert rows["exact_match (robust worst case)"]["mean_a"] == pytest.approx(a["robustness"]["worst_case"]["mean"])
    assert rows["exact_match (fair worst case)"]["mean_b"] == pytest.approx(b["fairness"]["worst_case"]["mean"])
    assert all(r["a"] == f"{before}:plain" and r["b"] == f"{head}:plain" for r in rows.values())
    assert [r["metric"] for r in doc["metrics"]] == ["exact_match"]  # the gate's rows are as they were


def test_compare_family_of_worst_cases_is_the_paired_test(tmp_path: Path) -> None:
    from promptarena.compare import compare_arms
    from promptarena.engine import run_suite
    from promptarena.plan import resolve_arms

    repo = review_repo(tmp_path / "repo")
    suite = load_suite(repo.root / "evals" / "review.yaml", repo.root)
    with PromptStore(repo.root) as store, ResultsStore(tmp_path / "r.db") as results:
        out = run_suite(suite, store, results, arms=resolve_arms(suite, store, ["HEAD~1", "HEAD"]))
    comp = compare_arms(suite, out.arms)
    robust = [a.holistic.robustness.worst_case for a in out.arms]
    (expected,) = compare_family([(robust[0], robust[1])], "binary", True)
    assert comp.holistic[0].comparison == expected


# --- an older database ---------------------------------------------------------------------------------


def test_a_database_of_schema_3_keeps_its_results_as_written(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    run = {"id": "r", "suite": "s", "prompt": "p", "status": "completed", "started_at": "2024", "provenance": "{}"}
    row = ("r", "s", "p", "v", "c", "b", "plain", "k", "out", "ans", None, None, "{}", "[]", '{"exact_match": 1.0}')
    database_at(db, 3, runs=[run], results=[row])
    with ResultsStore(db) as results:
        (row,) = results.results("r")
        assert row["perturbation"] == "" and row["output"] == "out"
        assert results.arm_results("r", "b", "plain") == {
            "k": {
                "output": "out",
                "answer": "ans",
                "confidence": None,
                "reasoning": None,
                "details": {},
                "keys": [],
                "scores": {"exact_match": 1.0},
                "version": "v",
                "commit": "c",
            }
        }


# --- dimensions with nothing to measure -------------------------------------------------------------------

PLAIN_PROMPT = """---
description: sentiment of a review, one line, no labels
variables:
  review: the review
parameters:
  max_new_tokens: 4
---
user:
{{ review }}
"""


def test_no_layout_and_no_group_are_said_instead_of_a_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-line prompt has no layout to vary and reviews that name nobody give counterfactuals nothing to move:
    the spread and the gap are a reason, not 0.00 (p 1.000), in the terminal, the JSON and the workbench."""
    repo = GitRepo(tmp_path / "repo")
    repo.write("prompts/review.prompt", PLAIN_PROMPT)
    reviews = ["The food was great.", "The room was clean.", "Fast delivery.", "Good value.", "Nice view."]
    cases = [{"id": f"r{i}", "vars": {"review": r}, "reference": "positive"} for i, r in enumerate(reviews)]
    doc = {
        "prompt": "review",
        "cases": cases,
        "metrics": ["exact_match"],
        "model": {"backend": "fake", "responses": {"The ": "positive"}, "default": "neutral"},
        "perturbations": ["gender_female", "gender_male"],
        "sensitivity": 3,
    }
    repo.write("evals/review.yaml", yaml.safe_dump(doc, sort_keys=False))
    repo.commit("review: first version")

    out = evals("run", cwd=repo.root)
    assert out.returncode == 0, out.stderr
    (row,) = [line for line in out.stdout.splitlines() if " plain " in line and "no layout" in line]
    assert "no case mentions a group" in row and "no layout to vary" in row
    assert "0.00 (p 1.000)" not in out.stdout

    out = evals("run", "--json", cwd=repo.root)
    assert out.returncode == 0, out.stderr
    h = json.loads(out.stdout)["suites"][0]["arms"][0]["holistic"]
    gender = h["fairness"]["axes"]["gender"]
    assert gender["gap"] is None and gender["gap_test"] is None and gender["reason"] == "no case mentions a group"
    assert h["sensitivity"]["spread"] is None and h["sensitivity"]["std"] is None
    assert h["sensitivity"]["reason"] == "no layout to vary"
    assert h["fairness"]["worst_case"]["mean"] == pytest.approx(0.4)  # the worst case is still a score

    from streamlit.testing.v1 import AppTest

    from tests.support.workbench import APP, point_app_at

    point_app_at(monkeypatch, repo.root, repo.root / ".promptarena" / "results.db")
    at = AppTest.from_file(str(APP / "pages" / "6_Holistic.py"), default_timeout=60).run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert table["fairness gap"].iloc[0] == "no case mentions a group"
    assert table["sensitivity (spread)"].iloc[0] == "no layout to vary"
