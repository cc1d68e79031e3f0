"""Comparison reports and the regression gate on real git repositories and the fake backend: one decision
(verdict = interval excludes 0) everywhere, labels from the confidence used, and the detectable-difference
advice beside every comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from promptarena.backends.fake import FakeBackend
from promptarena.compare import compare_arms
from promptarena.engine import run_suite
from promptarena.gate import evaluate_suite, regression_gates
from promptarena.gitstore import PromptStore
from promptarena.plan import plan_suite
from promptarena.report import gate_detail, outcome_json, print_comparison, write_junit, write_markdown
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from tests.support.cli import cli, exited
from tests.support.repos import QA_V2, qa_repo, write_suite

COUNTRIES = {f"Land{i}": f"City{i}" for i in range(20)}


def _repo(root: Path, wrong: dict[str, int]):
    """A qa repository on 20 cases; ``wrong[fragment]`` = how many cases the prompt text with it gets wrong."""
    responses = {}
    for fragment, n_wrong in wrong.items():
        for i, (country, city) in enumerate(COUNTRIES.items()):
            responses[fragment.format(c=country)] = "no idea" if i < n_wrong else city
    repo = qa_repo(root, responses=responses)
    cases = [{"id": c, "vars": {"country": c}, "reference": city} for c, city in COUNTRIES.items()]
    repo.write("evals/cases/qa.jsonl", "\n".join(json.dumps(c) for c in cases) + "\n")
    write_suite(repo, model={"backend": "fake", "responses": responses})
    repo.git("commit", "-qam", "20 cases")
    return repo


def _backend(suite) -> FakeBackend:
    options = dict(suite.model)
    options.pop("backend")
    return FakeBackend(**options)


@pytest.fixture()
def opened(tmp_path: Path):
    def open_repo(wrong: dict[str, int]):
        repo = _repo(tmp_path / "repo", wrong)
        store, results = PromptStore(repo.root), ResultsStore(tmp_path / "results.db")
        closers.extend([store.close, results.close])
        return repo, store, load_suite(repo.root / "evals" / "qa.yaml", repo.root), results

    closers: list = []
    yield open_repo
    for close in closers:
        close()


@pytest.mark.parametrize(("n_wrong", "fails"), [(5, False), (6, True)])
def test_gate_fails_exactly_when_the_interval_excludes_0_on_the_worse_side(opened, n_wrong, fails, tmp_path) -> None:
    # v1 right everywhere; v2 wrong on n_wrong of 20: 5 discordant gives p = 0.0625, 6 gives p = 0.031.
    _, store, suite, results = opened({"Capital of {c}?": 0, "capital city of {c}.": n_wrong})
    plan = plan_suite(suite, store, [], "HEAD~2")
    outcome = evaluate_suite(plan, store, results, _backend(suite), alpha=0.05)
    (comp,) = outcome.comparisons
    (row,) = comp.rows
    c = row.comparison
    assert (c.ci_high < 0) == fails == (c.verdict == "worse") == (c.p_value < 0.05)
    (gate,) = [g for g in outcome.gates if g.name.startswith("no regression")]
    assert gate.passed is not fails
    assert regression_gates(comp, suite.gate) == [gate]
    detail = gate_detail(gate)
    assert "(95% CI)" in detail and "cases needed to detect the observed -0." in detail


def test_labels_follow_alpha_in_table_markdown_junit_and_json(opened, tmp_path: Path) -> None:
    _, store, suite, results = opened({"Capital of {c}?": 0, "capital city of {c}.": 2})
    plan = plan_suite(suite, store, [], "HEAD~2")
    outcome = evaluate_suite(plan, store, results, _backend(suite), alpha=0.1)
    md, junit = tmp_path / "pr.md", tmp_path / "junit.xml"
    write_markdown(md, [outcome], "HEAD~2")
    write_junit(junit, [outcome])
    console = Console(record=True, width=200)
    print_comparison(console, outcome.comparisons[0])
    text = console.export_text()
    for doc in (md.read_text(), junit.read_text(), text):
        assert "90% CI" in doc and "95%" not in doc.replace("mean [95% CI]", "")
    assert "could detect" in md.read_text() or "too few to detect" in md.read_text()
    assert "~" in text and "cases needed to detect the observed -0.10" in text
    (row,) = outcome_json(outcome)["comparisons"]
    assert row["ci_confidence"] == pytest.approx(0.9) and row["cases_needed"] > 20
    assert row["power_note"].endswith("cases needed to detect the observed -0.10")


def test_holm_gives_each_interval_its_level_and_the_table_says_so(opened) -> None:
    repo, store, suite, results = opened(
        {"Capital of {c}?": 0, "capital city of {c}.": 12, "Which city is the capital of {c}?": 1}
    )
    repo.write(
        "prompts/qa.prompt",
        QA_V2.replace("Name the capital city of {{ country }}.", "Which city is the capital of {{ country }}?"),
    )
    repo.commit("qa: a third wording")
    out = run_suite(
        suite,
        store,
        results,
        versions=[store.resolve(f"qa@{r}") for r in ("HEAD~3", "HEAD~1", "HEAD")],
        backend=_backend(suite),
    )
    comp = compare_arms(suite, out.arms, alpha=0.05)
    strong, weak = (r.comparison for r in comp.rows)
    assert strong.verdict == "worse" and strong.confidence == pytest.approx(1 - 0.05 / 2) and strong.ci_high < 0
    assert weak.verdict == "no significant difference" and weak.confidence == pytest.approx(0.95)
    console = Console(record=True, width=220)
    print_comparison(console, comp)
    text = console.export_text()
    assert "B − A [CI]" in text and "97.5%" in text and "(Holm)" in text


def test_evals_compare_prints_the_advice_line(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    out = cli("compare", "qa", "HEAD~1", "HEAD", "--alpha", "0.1", "--repo", str(repo.root), env={"COLUMNS": "200"})
    exited(out, 0)
    text = " ".join(out.stdout.split())
    assert "B − A [90% CI]" in text and "95%" not in text
    assert "3 of 6 cases differ, too few to detect any difference at 80% power" in text
    assert "cases needed to detect the observed -0.50" in text


# --- a bound next to 0 ------------------------------------------------------------------------------------

WORDS = " ".join(f"w{i}" for i in range(1200))  # rouge1 of WORDS + one more word against WORDS: 1 - 1/2401


def _near_zero_repo(root: Path):
    """Two versions on six cases: v1 recites every reference, v2 only one (with a word too many).

    v2 - v1 on rouge1 is [-1]*5 + [-1/2401]: the exact sign-flip test has p = 2/64, and its interval ends at
    -1/2401 = -0.0004, which three decimals would print as -0.000."""
    from tests.support.git import GitRepo

    repo = GitRepo(root)
    prompt = (
        "---\nvariables:\n  key: what to say\nparameters:\n  max_new_tokens: 2000\n---\nuser:\n{verb} {{{{ key }}}}.\n"
    )
    responses = {f"Recite k{i}.": WORDS for i in range(6)}
    responses |= {f"Say k{i}.": "nothing" for i in range(5)} | {"Say k5.": WORDS + " extra"}
    cases = [{"id": f"k{i}", "vars": {"key": f"k{i}"}, "reference": WORDS} for i in range(6)]
    repo.write("prompts/qa.prompt", prompt.format(verb="Recite"))
    write_suite(repo, cases=cases, metrics=["rouge1"], model={"backend": "fake", "responses": responses})
    repo.commit("recite")
    repo.write("prompts/qa.prompt", prompt.format(verb="Say"))
    repo.commit("say")
    return repo


def test_a_bound_next_to_0_prints_enough_digits_to_exclude_it_in_every_report(tmp_path: Path, monkeypatch) -> None:
    repo = _near_zero_repo(tmp_path / "repo")
    with PromptStore(repo.root) as store, ResultsStore(tmp_path / "results.db") as results:
        suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
        outcome = evaluate_suite(plan_suite(suite, store, [], "HEAD~1"), store, results, _backend(suite))
    (row,) = outcome.comparisons[0].rows
    c = row.comparison
    assert c.verdict == "worse" and c.ci_high == pytest.approx(-1 / 2401, rel=1e-6)
    expected = "-0.833 [-1.000, -0.0004]"

    md, junit = tmp_path / "pr.md", tmp_path / "junit.xml"
    write_markdown(md, [outcome], "HEAD~1")
    write_junit(junit, [outcome])
    console = Console(record=True, width=200)
    print_comparison(console, outcome.comparisons[0])
    for doc in (console.export_text(), md.read_text(), junit.read_text()):
        assert expected in doc and "-0.000]" not in doc

    from streamlit.testing.v1 import AppTest

    from tests.support.workbench import APP, point_app_at

    point_app_at(monkeypatch, repo.root, tmp_path / "results.db")
    at = AppTest.from_file(str(APP / "Overview.py"), default_timeout=60)
    at.switch_page("pages/2_Compare.py")
    at.run()
    assert not at.exception and not at.error
    metrics = at.dataframe[0].value.set_index("metric")
    assert metrics.loc["rouge1", "B − A [95% CI]"] == expected


@pytest.mark.parametrize(
    ("diff", "low", "high", "text"),
    [
        (0.039, 0.00036, 0.078, "+0.039 [+0.0004, +0.078]"),  # significant: the bound visibly above 0
        (0.039, -0.00036, 0.078, "+0.039 [-0.0004, +0.078]"),  # not: the bound visibly below 0
        (0.0002, 0.00001, 0.0004, "+0.0002 [+0.00001, +0.0004]"),  # the estimate too
        (0.039, 0.0, 0.078, "+0.039 [+0.000, +0.078]"),  # exactly 0 stays three decimals
        (-0.04, -0.08, -0.0, "-0.040 [-0.080, +0.000]"),  # -0.0 is 0, not a negative bound
        (0.25, 0.0104, 0.45, "+0.250 [+0.010, +0.450]"),  # far from 0: three decimals as before
        (1e-15, 1e-16, 1e-14, "+1e-15 [+1e-16, +1e-14]"),
    ],
)
def test_difference_digits_at_the_boundary(diff, low, high, text) -> None:
    from dataclasses import replace

    from promptarena.report import fmt_difference
    from promptarena.stats import compare_paired

    c = replace(compare_paired([0.0] * 6, [1.0] * 6, "continuous"), diff=diff, ci_low=low, ci_high=high)
    assert fmt_difference(c) == text


def test_the_advice_does_not_print_a_small_difference_as_0() -> None:
    from promptarena.report import fmt_detect
    from promptarena.stats import compare_paired

    advice = fmt_detect(compare_paired([0.5] * 20, [0.5] * 19 + [0.51], "continuous"))
    assert advice.endswith("to detect the observed +0.0005") and "±0.00 " not in advice


def test_a_mean_next_to_0_does_not_print_as_0() -> None:
    from promptarena.report import fmt_interval
    from promptarena.stats import Interval

    assert fmt_interval(Interval(0.0003, 0.0001, 0.001, 6)) == "0.0003 [0.0001, 0.001]"
    assert fmt_interval(Interval(0.0, 0.0, 0.0, 6)) == "0.000 [0.000, 0.000]"
    assert fmt_interval(Interval(0.004, 0.0, 0.012, 6), 2) == "0.004 [0.00, 0.01]"
