"""A judge checked against people's votes, in `evals run` and `evals compare` as a user runs them: votes cast through
the public vote API before and after a run on real git and SQLite, the numbers in `--json`, the terminal and the
Markdown summary equal to statsmodels on the table built by hand, and every bad `--agreement` refused with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa

from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from tests.support.cli import cli, exited
from tests.support.git import GitRepo
from tests.support.repos import COUNTRIES, HEAD_ANSWERS, count_rows, qa_repo, qa_responses, results_db
from tests.support.votes import vote as cast

EXACT = {"france": 0, "japan": 1, "italy": 0, "spain": 1, "peru": 0, "chile": 0}
CONTAINS = {"france": 0, "japan": 1, "italy": 1, "spain": 1, "peru": 0, "chile": 1}


def judged_repo(root: Path) -> GitRepo:
    return qa_repo(root, qa_responses(HEAD_ANSWERS), metrics=["exact_match", "contains", "rouge1"])


def vote(repo: GitRepo, case: str, name: str, up: bool, output: str | None = None, rev: str = "HEAD") -> None:
    """One person's vote on the output the fake model gives ``case`` at ``rev`` (or on ``output``)."""
    country = case.capitalize()
    blob = PromptStore(repo.root).resolve(f"qa@{rev}").blob
    text = output if output is not None else HEAD_ANSWERS[country] if rev == "HEAD" else COUNTRIES[country]
    with ResultsStore(results_db(repo)) as results:
        cast(results, blob, case, text, up, name=name)


def reference(people: dict[str, bool], judge: dict[str, int]) -> tuple[tuple[int, int, int, int], float, float, float]:
    """The confusion table built by hand and statsmodels' kappa with its 95% interval (cut to [-1, 1])."""
    pairs = [(bool(judge[c]), up) for c, up in people.items()]
    table = (
        sum(a and b for a, b in pairs),
        sum(a and not b for a, b in pairs),
        sum(b and not a for a, b in pairs),
        sum(not a and not b for a, b in pairs),
    )
    res = cohens_kappa(np.array([[table[0], table[1]], [table[2], table[3]]]))
    half = stats.norm.ppf(0.975) * res.std_kappa
    return table, res.kappa, max(-1.0, res.kappa - half), min(1.0, res.kappa + half)


def row(doc: dict, arm_version: str, a: str, b: str) -> dict:
    return next(r for r in doc["agreement"] if r["version"] == arm_version and (r["a"], r["b"]) == (a, b))


def check_row(got: dict, people: dict[str, bool], judge: dict[str, int], ties: int) -> None:
    table, kappa, low, high = reference(people, judge)
    assert (got["outputs"], got["ties"]) == (len(people), ties)
    assert tuple(got["confusion"].values()) == table
    assert got["agreement"] == pytest.approx((table[0] + table[3]) / len(people))
    assert got["kappa"] == pytest.approx(kappa, abs=1e-12)
    assert got["ci"] == pytest.approx([low, high], abs=1e-9) and got["ci_confidence"] == 0.95


def terminal_row(stdout: str, version: str, a: str, b: str) -> str:
    return next(line for line in stdout.splitlines() if version in line and f" {a} " in line and f" {b} " in line)


def test_votes_cast_before_and_after_a_run_are_checked_against_each_pass_fail_metric(tmp_path: Path) -> None:
    repo = judged_repo(tmp_path / "repo")
    head = repo.rev_parse("HEAD")[:7]
    vote(repo, "japan", "ann", True)  # before any run: the vote is on the text, which the run then stores

    first = cli("run", "--json", "--repo", str(repo.root))
    exited(first, 0)
    (suite,) = json.loads(first.stdout)["suites"]
    pairs = {(r["a"], r["b"]) for r in suite["agreement"]}
    assert pairs == {("exact_match", "thumbs_up"), ("contains", "thumbs_up")}  # rouge1 is no pass/fail metric
    only = row(suite, head, "exact_match", "thumbs_up")
    assert (only["outputs"], only["voted"], only["kappa"]) == (1, 1, None)
    assert only["note"] == "only 1 output judged by both exact_match and people: too few for kappa (it needs 2)"
    untouched = row(suite, repo.rev_parse("HEAD~1")[:7], "exact_match", "thumbs_up")
    assert (untouched["outputs"], untouched["voted"], untouched["note"]) == (
        0,
        0,
        "no output judged by both exact_match and people",
    )

    vote(repo, "france", "ann", False)
    vote(repo, "france", "bob", False)
    vote(repo, "italy", "ann", True)
    vote(repo, "italy", "dee", False)
    vote(repo, "italy", "dee", False)  # the same thumb again withdraws it: no tie on italy
    vote(repo, "spain", "ann", False)
    vote(repo, "peru", "ann", False)
    vote(repo, "peru", "cy", True, output="Lima")  # cast on another output of the case: does not pair
    vote(repo, "peru", "cy", True, output="I do not know", rev="HEAD~1")  # HEAD~1 answered "Lima": no pair
    vote(repo, "chile", "ann", True)
    vote(repo, "chile", "bob", False)  # an even split: left out, counted as a tie
    people = {"france": False, "japan": True, "italy": True, "spain": False, "peru": False}

    second = cli("run", "--json", "--repo", str(repo.root))
    exited(second, 0)
    (suite,) = json.loads(second.stdout)["suites"]
    assert suite["generated"] == 0  # votes are read when shown: a cached run reports them
    check_row(row(suite, head, "exact_match", "thumbs_up"), people, EXACT, ties=1)
    check_row(row(suite, head, "contains", "thumbs_up"), people, CONTAINS, ties=1)
    assert row(suite, head, "contains", "thumbs_up")["voted"] == 6
    assert row(suite, head, "exact_match", "thumbs_up")["note"] == "1 output left out, its voters split evenly"
    stale = row(suite, repo.rev_parse("HEAD~1")[:7], "exact_match", "thumbs_up")
    assert (stale["outputs"], stale["voted"]) == (0, 0)

    vote(repo, "chile", "cy", True)  # after the run: the tie breaks towards pass
    people["chile"] = True
    terminal = cli("run", "--repo", str(repo.root))
    exited(terminal, 0)
    as_json = json.loads(cli("run", "--json", "--repo", str(repo.root)).stdout)["suites"][0]
    check_row(row(as_json, head, "exact_match", "thumbs_up"), people, EXACT, ties=0)
    for judge, scores in (("exact_match", EXACT), ("contains", CONTAINS)):
        table, kappa, low, high = reference(people, scores)
        line = terminal_row(terminal.stdout, head, judge, "people")
        agree = (table[0] + table[3]) / len(people)
        cells = [str(len(people)), f"{agree:.2f}", f"{kappa:.2f} [{low:.2f}, {high:.2f}]", *map(str, table), "0"]
        assert [cell.strip() for cell in line.split("│")[1:-1]][4:] == cells
    assert "judges checked against people's votes" in terminal.stdout
    assert repo.rev_parse("HEAD~1")[:7] not in "".join(
        line for line in terminal.stdout.splitlines() if " people " in line
    )  # an arm without votes on its outputs gets no line


def test_two_judges_are_compared_the_same_way_in_evals_compare(tmp_path: Path) -> None:
    repo = judged_repo(tmp_path / "repo")
    out = cli(
        "compare", "qa", "HEAD~1", "HEAD", "--agreement", "exact_match", "contains", "--json", "--repo", str(repo.root)
    )
    exited(out, 0)
    doc = json.loads(out.stdout)
    head, base = repo.rev_parse("HEAD")[:7], repo.rev_parse("HEAD~1")[:7]
    both = row(doc, head, "exact_match", "contains")
    check_row(both, {c: bool(v) for c, v in CONTAINS.items()}, EXACT, ties=0)
    assert both["voted"] == 0 and both["kappa"] == pytest.approx(0.4)
    flat = row(doc, base, "exact_match", "contains")  # v1 answers every case right: both judges pass all
    assert flat["kappa"] is None and flat["agreement"] == 1.0
    assert flat["note"] == (
        "exact_match passed all 6 outputs and contains passed all of them: kappa is undefined, since it needs "
        "both verdicts from each side; raw agreement 1.00"
    )
    text = cli("compare", "qa", "HEAD~1", "HEAD", "--agreement", "exact_match", "contains", "--repo", str(repo.root))
    exited(text, 0)
    line = terminal_row(text.stdout, head, "exact_match", "contains")
    assert f"{both['kappa']:.2f} [{both['ci'][0]:.2f}, {both['ci'][1]:.2f}]" in line
    assert " exact_match vs contains: exact_match passed all 6 outputs" in " ".join(text.stdout.split())


def test_a_judge_that_passes_everything_gets_no_kappa_and_the_reason(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")  # v1 answers every case right
    exited(cli("run", "--repo", str(repo.root)), 0)
    for case, up in (("france", True), ("japan", False), ("italy", True)):
        vote(repo, case, "ann", up, rev="HEAD~1")
    out = cli("run", "--repo", str(repo.root), "--markdown", str(tmp_path / "pr.md"))
    exited(out, 0)
    said = " ".join(out.stdout.split())
    assert "exact_match vs people: exact_match passed all 3 outputs: kappa is undefined" in said
    assert "raw agreement 0.67" in said
    markdown = (tmp_path / "pr.md").read_text()
    base = repo.rev_parse("HEAD~1")[:7]
    assert f"| `{base}:plain` | exact_match | people | 3 | 0.67 | – | 2 | 1 | 0 | 0 | 0 |" in markdown


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        (
            ("exact_match", "rouge1"),
            "--agreement exact_match rouge1: 'rouge1' is not a pass/fail metric of evals/qa.yaml; name two of: "
            "contains, exact_match, thumbs_up (people's votes).",
        ),
        (
            ("exact_matc", "thumbs_up"),
            "'exact_matc' is not a pass/fail metric of evals/qa.yaml (did you mean exact_match?)",
        ),
        (("contains", "contains"), "--agreement contains contains: name two different raters"),
    ],
)
def test_a_bad_agreement_pair_exits_2_before_anything_runs(tmp_path: Path, pair: tuple[str, str], message: str) -> None:
    repo = judged_repo(tmp_path / "repo")
    for command in (["run"], ["compare", "qa", "HEAD~1", "HEAD"]):
        err = exited(cli(*command, "--agreement", *pair, "--repo", str(repo.root)), 2)
        assert message in err
    assert count_rows(results_db(repo), "runs") == 0
