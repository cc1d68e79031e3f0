"""A core install without the extras: `evals` works without torch, and each missing extra names its pip line.

Each test runs the real `evals` in a subprocess whose interpreter cannot import the extras' packages: a
``sitecustomize.py`` on PYTHONPATH (run by Python at startup) puts a finder first on ``sys.meta_path``
that refuses them, as if they were not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.cli import evals
from tests.support.repos import qa_repo, write_suite

EXTRAS = ("torch", "transformers", "gguf", "safetensors", "sentence_transformers", "streamlit", "altair")
LOCAL = "pip install 'promptarena[local]'"
UI = "pip install 'promptarena[ui]'"

BLOCKER = f"""
import sys
from importlib.abc import MetaPathFinder

BLOCKED = {EXTRAS!r}


class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
"""


@pytest.fixture
def core_env(tmp_path: Path) -> dict[str, str]:
    """Environment for an `evals` that cannot import any extra's package, with an empty model cache."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(BLOCKER), encoding="utf-8")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    env = {"PYTHONPATH": path, "PROMPTARENA_CACHE": str(tmp_path / "cache")}
    probe = subprocess.run([sys.executable, "-c", "import torch"], env={**os.environ, **env}, capture_output=True)
    assert probe.returncode != 0, "the blocker did not take effect"
    return env


def assert_clean(out: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in out.stdout + out.stderr, out.stderr


def test_a_fake_backend_suite_runs_without_the_extras(tmp_path: Path, core_env: dict[str, str]) -> None:
    repo = qa_repo(tmp_path / "repo")
    out = evals("run", "--json", cwd=repo.root, env=core_env)
    assert out.returncode == 0, out.stderr
    (suite,) = json.loads(out.stdout)["suites"]
    assert suite["generated"] > 0
    assert_clean(out)


@pytest.mark.parametrize("model", ["default", "directory"])
def test_the_transformers_backend_names_the_local_extra(model: str, tmp_path: Path, core_env: dict[str, str]) -> None:
    """The embedded GGUF needs the extra to be converted; a model directory needs it to count tokens."""
    if model == "directory":
        model_dir = tmp_path / "model"
        model_dir.mkdir()
        (model_dir / "config.json").write_text('{"max_position_embeddings": 2048}', encoding="utf-8")
        (model_dir / "model.safetensors").write_bytes(b"weights")
        model = str(model_dir)
    repo = qa_repo(tmp_path / "repo")
    out = evals("run", "--backend", "transformers", "--model", model, cwd=repo.root, env=core_env)
    assert out.returncode == 3, out.stderr
    assert "the transformers backend needs the local-model extra (No module named" in out.stderr
    assert LOCAL in out.stderr
    assert_clean(out)


def test_evals_ui_names_the_ui_extra(tmp_path: Path, core_env: dict[str, str]) -> None:
    repo = qa_repo(tmp_path / "repo")
    out = evals("ui", "--repo", str(repo.root), cwd=repo.root, env=core_env, timeout=60)
    assert out.returncode == 3, out.stderr
    assert "`evals ui` needs the workbench extra" in out.stderr and UI in out.stderr
    assert_clean(out)


def test_semantic_similarity_names_the_local_extra(tmp_path: Path, core_env: dict[str, str]) -> None:
    repo = qa_repo(tmp_path / "repo")
    write_suite(repo, metrics=["semantic_similarity"])
    repo.commit("qa: score by meaning")
    out = evals("run", cwd=repo.root, env=core_env)
    assert out.returncode == 3, out.stderr
    assert "semantic_similarity metric needs the local-model extra" in out.stderr and LOCAL in out.stderr
    assert_clean(out)
