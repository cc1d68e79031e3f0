"""Models as arms: one suite lists a base and a tuned model, and one run evaluates, stores and compares both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from promptarena import views
from promptarena.cli.common import BackendPool, with_backend
from promptarena.engine import run_suite
from promptarena.errors import ConfigError
from promptarena.gitstore import PromptStore
from promptarena.plan import SuitePlan, resolve_arms
from promptarena.report import suite_table, summary_json
from promptarena.store import MIGRATIONS, ResultsStore
from promptarena.suite import load_suite
from tests.support.cli import evals
from tests.support.git import GitRepo
from tests.support.repos import COUNTRIES, database_at, qa_repo

N = len(COUNTRIES)
RIGHT = {f"Capital of {c}?": city for c, city in COUNTRIES.items()}
HALF = {f"Capital of {c}?": city if i % 2 else "I do not know" for i, (c, city) in enumerate(COUNTRIES.items())}
MODELS = [
    {"name": "base", "backend": "fake", "model": "base", "responses": RIGHT},
    {"name": "tuned", "backend": "fake", "model": "tuned", "responses": HALF},
]


def _rewrite(repo: GitRepo, **changes: Any) -> Path:
    """The qa suite with ``changes`` applied (a ``None`` value removes that key)."""
    path = repo.root / "evals" / "qa.yaml"
    doc = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        doc.pop(key, None) if value is None else doc.__setitem__(key, value)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture()
def two_models(tmp_path: Path):
    """The qa repository whose suite evaluates v1 (HEAD~1) on a base model, right on every case, and a tuned
    one, wrong on half of them."""
    repo = qa_repo(tmp_path / "repo")
    _rewrite(repo, model=None, models=MODELS, versions=["HEAD~1"])
    store = PromptStore(repo.root)
    results = ResultsStore(tmp_path / "results.db")
    yield repo, store, load_suite(repo.root / "evals" / "qa.yaml", repo.root), results
    results.close()
    store.close()


def test_one_run_evaluates_every_model_into_one_table(two_models) -> None:
    repo, store, suite, results = two_models
    out = run_suite(suite, store, results)
    v1 = repo.rev_parse("HEAD~1")[:7]
    assert [a.arm.label for a in out.arms] == [f"{v1}:plain@base", f"{v1}:plain@tuned"]
    assert out.arm(f"{v1}:plain@base").summary["exact_match"].mean == 1.0
    assert out.arm(f"{v1}:plain@tuned").summary["exact_match"].mean == pytest.approx(0.5)
    assert out.generated == 2 * N and results.count("generations") == 2 * N  # one cache entry per model

    console = Console(width=200, record=True)
    console.print(suite_table(out))
    text = console.export_text()
    assert "model" in text and "base" in text and "tuned" in text
    doc = summary_json(out)
    assert [a["model"] for a in doc["arms"]] == ["base", "tuned"]
    assert out.model.startswith("base=fake:base:") and ", tuned=fake:tuned:" in out.model

    stored = results.results(out.run_id)
    assert {(r["model"], r["case_id"]) for r in stored} == {
        (m, c.lower()) for m in ("base", "tuned") for c in COUNTRIES
    }
    (run,) = results.runs()
    assert set(run.provenance["models"]) == {"base", "tuned"}


def test_a_rerun_generates_nothing_and_each_model_is_loaded_once(two_models) -> None:
    _, store, suite, results = two_models
    with BackendPool() as pool:
        backends = pool.get(suite)
        first = run_suite(suite, store, results, backend=backends)
        assert [len(b.history) for b in backends.values()] == [N, N]  # type: ignore[attr-defined]
        again = run_suite(suite, store, results, backend=pool.get(suite))
        assert pool.get(suite)["base"] is backends["base"]
    assert [len(b.history) for b in backends.values()] == [N, N]  # type: ignore[attr-defined]
    assert again.generated == 0 and again.cached == 2 * N
    assert [a.summary["exact_match"].mean for a in again.arms] == [a.summary["exact_match"].mean for a in first.arms]


def test_compare_pairs_the_base_and_the_tuned_model_case_by_case(two_models) -> None:
    repo, *_ = two_models
    out = evals("compare", "qa", "HEAD~1@base", "HEAD~1:plain@tuned", "--json", cwd=repo.root)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    v1 = repo.rev_parse("HEAD~1")[:7]
    assert doc["arms"] == [f"{v1}:plain@base", f"{v1}:plain@tuned"]
    (row,) = doc["metrics"]
    assert (row["mean_a"], row["mean_b"]) == (1.0, 0.5)
    assert (row["wins"], row["losses"]) == (0, N // 2)
    assert row["p_value"] == pytest.approx(0.25)  # exact McNemar: 0 vs 3 discordant pairs


def test_evals_run_shows_each_model_and_a_rerun_is_cached(two_models) -> None:
    repo, *_ = two_models
    first = evals("run", "--json", cwd=repo.root)
    assert first.returncode == 0, first.stderr
    (suite,) = json.loads(first.stdout)["suites"]
    assert [(a["model"], a["metrics"]["exact_match"]["mean"]) for a in suite["arms"]] == [("base", 1.0), ("tuned", 0.5)]
    assert "energy_j" in suite
    again = evals("run", cwd=repo.root)
    assert again.returncode == 0, again.stderr
    assert f"0 generated, {2 * N} from cache" in again.stdout
    assert "@tuned" not in again.stdout and "tuned" in again.stdout  # the table has a model column


def test_the_workbench_offers_one_arm_per_model(two_models) -> None:
    _, store, suite, results = two_models
    run_suite(suite, store, results)
    choices = views.arm_choices(results, suite.name, store)
    assert [c.label.split(":", 1)[1] for c in choices] == ["plain@base", "plain@tuned"]
    narrowed, arms = views.load_arms(results, suite, choices, store)
    assert [a.summary["exact_match"].mean for a in arms] == [1.0, pytest.approx(0.5)]
    assert [a.arm.model for a in arms] == ["base", "tuned"]
    samples = views.case_samples(results, choices, "france")
    assert [s.output for s in samples] == ["I do not know", "Paris"][::-1]


def test_a_baseline_pairs_each_model_with_itself(two_models) -> None:
    _, store, suite, _ = two_models
    now, before = store.resolve("qa@HEAD"), store.resolve("qa@HEAD~1")
    pairs = SuitePlan(suite, [now, before], before).baseline_pairs
    assert [(a.label, b.label) for a, b in pairs] == [
        (f"{before.label}:plain@base", f"{now.label}:plain@base"),
        (f"{before.label}:plain@tuned", f"{now.label}:plain@tuned"),
    ]


def test_a_model_on_the_command_line_replaces_the_suites_models(two_models) -> None:
    _, store, suite, results = two_models
    one = with_backend(suite, None, "other", None)
    assert one.models == {} and one.model["model"] == "other"
    (arm,) = resolve_arms(one, store, ["HEAD~1"])
    assert arm.label.endswith(":plain")


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["HEAD~1:plain@tunde"], "no model 'tunde' (did you mean tuned?)"),
        (["HEAD~1@base", "HEAD~1:plain@base"], "name the same version, variant and model twice"),
    ],
)
def test_bad_model_arms_are_refused(two_models, specs: list[str], message: str) -> None:
    _, store, suite, _ = two_models
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        resolve_arms(suite, store, specs)


def test_an_arm_without_a_model_takes_the_first_and_a_single_model_suite_takes_none(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    store = PromptStore(repo.root)
    single = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
    with pytest.raises(ConfigError, match="the suite has one model; drop '@tuned'"):
        resolve_arms(single, store, ["HEAD:plain@tuned"])
    _rewrite(repo, model=None, models=MODELS)
    several = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
    assert [a.model for a in resolve_arms(several, store, ["qa@HEAD", "HEAD~1:plain"])] == ["base", "base"]
    store.close()


@pytest.mark.parametrize(
    ("changes", "line", "message"),
    [
        ({"model": {"backend": "fake"}, "models": MODELS}, "name: base", "both `model:` and `models:`"),
        ({"models": [{"backend": "fake"}]}, "backend", "models[0].name: give each model a short name"),
        ({"models": [{"name": "a b", "backend": "fake"}]}, "name", "models[0].name: give each model a short name"),
        ({"models": [MODELS[0], {**MODELS[1], "name": "base"}]}, "name: base", "'base' is used twice"),
        ({"models": [MODELS[0], {"name": "t", "backend": "fake", "delay": 1}]}, "delay", "models[1].delay: unknown"),
        ({"models": [{"name": "t", "backend": "fakee"}]}, "backend", "models[0].backend: unknown backend 'fakee'"),
        ({"models": []}, "models", "models: List should have at least 1 item"),
    ],
)
def test_a_bad_models_section_names_its_file_and_line(tmp_path: Path, changes, line: str, message: str) -> None:
    repo = qa_repo(tmp_path / "repo")
    changes = {"model": None, **changes}
    path = _rewrite(repo, **changes)
    lines = path.read_text().splitlines()
    with pytest.raises(ConfigError) as err:
        load_suite(path, repo.root)
    text = str(err.value)
    assert message in text
    where = int(text.split(":")[1])
    assert line in lines[where - 1], (text, lines)
    out = evals("run", cwd=repo.root)
    assert out.returncode == 2 and "Traceback" not in out.stderr and message in out.stderr
    assert not (repo.root / ".promptarena").exists()


def test_a_schema_3_database_keeps_its_results_with_no_model(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    run = {"id": "r", "suite": "qa", "prompt": "qa", "status": "completed", "started_at": "2024", "provenance": "{}"}
    arm = ("abc1234", "abc1234", "b", "plain")  # version, commit, blob, variant
    row = ("r", "qa", "qa", *arm, "france", "Paris", "Paris", None, None, "{}", "[]", '{"exact_match": 1.0}')
    database_at(db, 3, runs=[run], results=[row])
    with ResultsStore(db) as results:
        (row,) = results.results("r")
        assert row["model"] == "" and row["answer"] == "Paris"
        assert results.arm_results("r", "b", "plain")["france"]["scores"] == {"exact_match": 1.0}
        assert results.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_perturbed_cases_of_two_models_are_stored_apart(tmp_path: Path) -> None:
    """Models and perturbations are both keys of a stored result: neither overwrites the other."""
    repo = qa_repo(tmp_path / "repo")
    _rewrite(repo, model=None, models=MODELS, versions=["HEAD~1"], perturbations=["lowercase"])
    with PromptStore(repo.root) as store, ResultsStore(tmp_path / "results.db") as results:
        out = run_suite(load_suite(repo.root / "evals" / "qa.yaml", repo.root), store, results)
        rows = results.results(out.run_id)
    keys = {(r["model"], r["perturbation"]) for r in rows}
    assert keys == {("base", ""), ("base", "lowercase"), ("tuned", ""), ("tuned", "lowercase")}
    assert len(rows) == 4 * N
    right = dict.fromkeys(keys, 0.0)
    for r in rows:
        right[r["model"], r["perturbation"]] += r["scores"]["exact_match"]
    assert right == {("base", ""): N, ("tuned", ""): N // 2, ("base", "lowercase"): 0, ("tuned", "lowercase"): 0}
    # The scripted answers match "Capital of France?" only: lowercased, every case is echoed back, wrong.
    assert [(a.arm.model, a.holistic.metric) for a in out.arms] == [("base", "exact_match"), ("tuned", "exact_match")]
    assert [a.holistic.robustness.means for a in out.arms] == [{"lowercase": 0.0}, {"lowercase": 0.0}]
    assert [a.holistic.robustness.unperturbed for a in out.arms] == [1.0, 0.5]
    assert [a.holistic.robustness.drops for a in out.arms] == [{"lowercase": 1.0}, {"lowercase": 0.5}]


def test_the_holistic_view_keeps_one_series_per_model(tmp_path: Path) -> None:
    """Like the overview, the holistic view charts each model apart instead of keeping the first one seen."""
    repo = qa_repo(tmp_path / "repo")
    _rewrite(repo, model=None, models=MODELS, versions=["HEAD~1"], perturbations=["lowercase"])
    with PromptStore(repo.root) as store, ResultsStore(tmp_path / "results.db") as results:
        run_suite(load_suite(repo.root / "evals" / "qa.yaml", repo.root), store, results)
        holistic = {c.variant for c in views.holistic_cells(results, "qa")}
        overview = {c.variant for c in views.overview(results)}
    assert holistic == overview == {"plain@base", "plain@tuned"}
