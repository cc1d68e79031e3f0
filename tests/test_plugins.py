"""Plugins: an installed package adds metrics, metric factories, backends, variants, perturbations, answer extractors
and toxicity scorers through entry points, read by the registries only when a name is missing or listed. The
packages are real distributions (a ``*.dist-info`` folder and a module) on PYTHONPATH; `evals run` runs as a
subprocess, and as a background job of the workbench, which must see the same plugins and scorers."""

from __future__ import annotations

import importlib
import json
import time
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptarena import jobs
from promptarena.errors import ConfigError
from promptarena.registry import Registry
from promptarena.store import ResultsStore
from tests.support.cli import evals
from tests.support.git import GitRepo
from tests.support.plugins import write_distribution
from tests.support.repos import QA_V1, results_db

ACME = '''"""A plugin of promptarena: one entry of each kind."""

import os
from dataclasses import replace
from typing import ClassVar

import promptarena
from promptarena.backends.fake import FakeBackend
from promptarena.metrics import Metric
from promptarena.metrics.toxicity import ToxicityScorer
from promptarena.perturbations import Perturbation
from promptarena.variants import Plain

if os.environ.get("ACME_IMPORTS"):
    with open(os.environ["ACME_IMPORTS"], "a") as log:
        log.write("imported\\n")

CAPITALS = {"france": "Paris", "japan": "Tokyo", "peru": "Lima"}


def _capital(request):
    text = request.messages[-1].content.lower()
    city = next((c for country, c in CAPITALS.items() if country in text), "nowhere")
    return f"The capital is {city}"


class EchoBackend(FakeBackend):
    """Names the capital in a sentence; ``shout`` answers in capitals."""

    name = "acme_echo"

    def __init__(self, shout: bool = False):
        super().__init__(fn=_capital, model="shouting" if shout else "calm")
        self.shout = shout

    def _answer(self, request):
        text = super()._answer(request)
        return text.upper() if self.shout else text


class Loud(Plain):
    """The plain prompt, its output shouted (the answer is read before)."""

    name: ClassVar[str] = "loud"

    def reduce(self, item, history):
        prediction = super().reduce(item, history)
        return replace(prediction, output=prediction.output.upper())


def last_word(text, spec):
    words = text.split()
    return words[-1] if words else ""


UPPER = Perturbation("acme_upper", "robustness", lambda text, rng: text.upper(), "Every letter a capital.")


def caps(threshold: float = 0.5):
    return ToxicityScorer("caps", "1", lambda texts: [1.0 if t.isupper() else 0.0 for t in texts])


@promptarena.metric(kind="binary")
def shouty(output):
    return output.isupper()


LENGTH = Metric(
    "acme_length", "Characters in the output.", lambda ps, cs, o: [len(p.output) for p in ps], range=None
)


def keyword_metric(entry, context):
    word = entry["keyword"]
    return Metric(
        entry.get("name", f"says_{word}"),
        f"Whether the output says {word}.",
        lambda ps, cs, o: [word in p.output for p in ps],
        kind="binary",
    )
'''

ENTRY_POINTS = {
    "promptarena.metrics": {
        "shouty": "acme_promptarena:shouty",
        "acme_length": "acme_promptarena:LENGTH",
        "exact_match": "acme_promptarena:shouty",  # a built-in name: the built-in keeps it
    },
    "promptarena.metric_factories": {"keyword": "acme_promptarena:keyword_metric"},
    "promptarena.backends": {"acme_echo": "acme_promptarena:EchoBackend"},
    "promptarena.variants": {"loud": "acme_promptarena:Loud"},
    "promptarena.perturbations": {"acme_upper": "acme_promptarena:UPPER"},
    "promptarena.extractors": {"last_word": "acme_promptarena:last_word"},
    "promptarena.toxicity_scorers": {"caps": "acme_promptarena:caps"},
}

PROMPT = QA_V1.replace("extract: first_line", "extract: last_word")

CASES = [
    {"id": "france", "vars": {"country": "France"}, "reference": "Paris"},
    {"id": "japan", "vars": {"country": "Japan"}, "reference": "Tokyo"},
    {"id": "peru", "vars": {"country": "Peru"}, "reference": "Lima"},
]

SUITE: dict[str, Any] = {
    "prompt": "capitals",
    "cases": CASES,
    "metrics": [
        "exact_match",
        "shouty",
        "acme_length",
        {"keyword": "Paris", "name": "says_paris"},
        {"python": "evals/scorers.py:sentence"},
    ],
    "variants": ["plain", "loud"],
    "perturbations": ["acme_upper"],
    "toxicity": "caps",
    "model": {"backend": "acme_echo", "shout": False},
}

SCORERS = '''def sentence(output):
    """Whether the output is a sentence of four words or more."""
    return len(output.split()) >= 4
'''


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The acme-promptarena package, and one whose module does not import, installed into one folder."""
    site = write_distribution(tmp_path / "site", "acme-promptarena", "1.2", {"acme_promptarena.py": ACME}, ENTRY_POINTS)
    broken = {"promptarena.metrics": {"wobbly": "broken_plugin:wobbly"}}
    return write_distribution(site, "broken-plugin", "0.1", {"broken_plugin.py": "import no_such_thing\n"}, broken)


def plugin_repo(root: Path) -> GitRepo:
    """A repository whose suite names one entry of every kind the acme package adds, and a scorer of its own;
    and a second suite that names none of them."""
    repo = GitRepo(root)
    repo.write("prompts/capitals.prompt", PROMPT)
    repo.write("prompts/plain.prompt", QA_V1)
    repo.write("evals/scorers.py", SCORERS)
    repo.write("evals/capitals.yaml", yaml.safe_dump(SUITE, sort_keys=False))
    plain = {"prompt": "plain", "cases": CASES, "metrics": ["exact_match"], "model": {"backend": "fake"}}
    repo.write("evals/plain.yaml", yaml.safe_dump(plain, sort_keys=False))
    repo.commit("capitals")
    return repo


def check_capitals(arms: list[dict[str, Any]]) -> None:
    """What the acme plugin's entries make of the capitals suite (see ACME)."""
    plain, loud = arms
    assert plain["variant"] == "plain" and loud["variant"] == "loud"
    for arm in arms:
        assert arm["metrics"]["exact_match"]["mean"] == 1.0  # the answer is the output's last word
        assert arm["metrics"]["acme_length"]["mean"] == pytest.approx((20 + 20 + 19) / 3)
        assert arm["metrics"]["sentence"]["mean"] == 1.0
    assert plain["metrics"]["shouty"]["mean"] == 0.0 and loud["metrics"]["shouty"]["mean"] == 1.0
    assert plain["metrics"]["says_paris"]["mean"] == pytest.approx(1 / 3) and loud["metrics"]["says_paris"]["n"] == 3
    assert loud["metrics"]["says_paris"]["mean"] == 0.0  # PARIS
    assert plain["holistic"]["toxicity"]["scorer"].startswith("caps")
    assert plain["holistic"]["toxicity"]["toxic_share"]["mean"] == 0.0
    assert loud["holistic"]["toxicity"]["toxic_share"]["mean"] == 1.0
    assert "acme_upper" in plain["holistic"]["robustness"]["means"]


def test_an_installed_package_adds_an_entry_of_every_kind(tmp_path: Path, site: Path) -> None:
    repo = plugin_repo(tmp_path / "repo")
    imports = tmp_path / "imports.txt"
    env = {"PYTHONPATH": str(site), "ACME_IMPORTS": str(imports)}

    other = evals("run", "plain", "--json", cwd=repo.root, env=env)
    assert other.returncode == 0, other.stderr
    assert not imports.exists()  # a suite that names none of its entries does not import the package

    out = evals("run", "capitals", "--json", cwd=repo.root, env=env)
    assert out.returncode == 0, out.stderr
    assert imports.read_text() == "imported\n"
    (suite,) = json.loads(out.stdout)["suites"]
    check_capitals(suite["arms"])

    # the backend's options come from its constructor: an unknown one is refused at load, naming its line
    doc = {**SUITE, "model": {"backend": "acme_echo", "shoutt": True}}
    repo.write("evals/capitals.yaml", yaml.safe_dump(doc, sort_keys=False))
    bad = evals("run", "capitals", cwd=repo.root, env=env)
    assert bad.returncode == 2, bad.stderr
    assert "evals/capitals.yaml:" in bad.stderr and "model.shoutt: unknown field (did you mean shout?)" in bad.stderr
    doc = {**SUITE, "model": {"backend": "acme_echo", "shout": True}}
    repo.write("evals/capitals.yaml", yaml.safe_dump(doc, sort_keys=False))
    shouting = evals("run", "capitals", "--json", cwd=repo.root, env=env)
    assert shouting.returncode == 0, shouting.stderr
    assert json.loads(shouting.stdout)["suites"][0]["arms"][0]["metrics"]["shouty"]["mean"] == 1.0


def test_a_package_that_fails_to_load_is_bad_input_naming_it(tmp_path: Path, site: Path) -> None:
    repo = plugin_repo(tmp_path / "repo")
    doc = {**SUITE, "metrics": ["exact_match", "wobbly"]}
    repo.write("evals/capitals.yaml", yaml.safe_dump(doc, sort_keys=False))
    out = evals("run", "capitals", cwd=repo.root, env={"PYTHONPATH": str(site)})
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert "evals/capitals.yaml:" in out.stderr and "metrics[1]: metric 'wobbly' comes from broken-plugin 0.1" in (
        " ".join(out.stderr.split())
    )
    assert "ModuleNotFoundError: No module named 'no_such_thing'" in out.stderr
    # without the packages, their names are unknown: the first one the suite names is refused
    gone = evals("run", "capitals", cwd=repo.root)
    assert gone.returncode == 2 and "unknown backend 'acme_echo'; known: fake, openai, transformers." in gone.stderr


def test_a_background_run_of_the_workbench_sees_the_same_plugins_and_scorers(
    tmp_path: Path, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = plugin_repo(tmp_path / "repo")
    monkeypatch.setenv("PYTHONPATH", str(site))  # as `evals ui` started in an environment with the package
    db = results_db(repo)
    job = jobs.start(repo.root, db, "capitals")
    deadline = time.monotonic() + 120
    while jobs.job_state(job, db).active and time.monotonic() < deadline:
        time.sleep(0.2)
    state = jobs.job_state(job, db)
    assert state.state == "completed" and job.exit_code == 0, job.log.read_text()
    with ResultsStore(db) as results:
        (run,) = results.runs("capitals")
        check_capitals(results.completed_runs("capitals")[0].record.plain()["arms"])
        rows = results.results(run.id)
    assert {r["scores"]["sentence"] for r in rows if not r["perturbation"]} == {1.0}


# --- the registry --------------------------------------------------------------------------------------------


def test_a_registry_reads_its_group_only_on_a_miss_and_keeps_its_own_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry: Registry[int] = Registry("thing", "promptarena.test_things")
    registry.register("builtin", 0)
    assert registry.get("builtin") == 0
    # installed only now: a registry that had read its group when made, or on a hit, would not know of it
    points = {"promptarena.test_things": {"thing": "things_plugin:THING", "builtin": "things_plugin:OTHER"}}
    site = write_distribution(tmp_path / "site", "things", "1.0", {"things_plugin.py": "THING, OTHER = 1, 2\n"}, points)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    assert "thing" in registry and registry.get("thing") == 1
    assert registry.names() == ["builtin", "thing"] and registry.get("builtin") == 0  # a plugin cannot replace it
    with pytest.raises(ConfigError, match=r"unknown thing 'thinng' \(did you mean thing\?\); known: builtin, thing"):
        registry.get("thinng")


def test_a_registry_takes_an_entry_point_and_adds_an_entry_for_a_while(tmp_path: Path) -> None:
    registry: Registry[object] = Registry("thing")
    registry.register("json", EntryPoint(name="json", value="json:dumps", group="anything"))
    assert registry.get("json")({"a": 1}) == '{"a": 1}'
    with registry.added("extra", 42):
        assert registry.get("extra") == 42 and "extra" in registry.names()
        with pytest.raises(ValueError, match="already registered"), registry.added("extra", 43):
            pass
    assert "extra" not in registry
