"""The wheel is the product: built from this checkout, installed into a clean virtual environment, it runs a
user's repository elsewhere on disk and serves the workbench that it carries, seen in Chromium.

The new environment gets the third-party packages through a `.pth` line naming the development environment's
site-packages: a path line adds that folder without running its editable-install hook, so `promptarena` itself
can only come from the wheel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.support.browser import chromium_page, open_page, screenshots_dir, workbench_server
from tests.support.git import GitRepo
from tests.support.repos import prompt_file

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SUITE = "wheel_capitals"
PAGES = [
    ("", "Overview"),
    ("Prompt_history", "Commits"),
    ("Compare", "Outputs side by side"),
    ("Case_explorer", "Extracted answer"),
    ("Runs", "Run details"),
    ("Start_a_run", "Start run"),
    ("Holistic", "Holistic"),
    ("Judge_agreement", "Judge agreement"),
    ("Review", "outputs left to review"),
]


def build_wheel(dest: Path) -> Path:
    """The wheel of this checkout's sources, built offline with the development environment's setuptools."""
    source = dest / "source"
    for folder in ("src", "app"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for file in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / file, source / file)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["-w", str(dest / "dist"), str(source)],
        check=True,
        capture_output=True,
    )
    return next((dest / "dist").glob("promptarena-*.whl"))


def install(wheel: Path, env_dir: Path) -> Path:
    """A new virtual environment with the wheel alone installed; returns its bin folder."""
    venv.create(env_dir, with_pip=False, symlinks=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "dev-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir / "bin"


def user_repository(root: Path) -> GitRepo:
    """A team's repository: a prompt with two commits and a suite answered by the fake backend."""
    repo = GitRepo(root)
    cases = [{"id": c.lower(), "vars": {"country": c}, "reference": city} for c, city in [("France", "Paris")]]
    repo.write("evals/cases/capitals.jsonl", "".join(json.dumps(c) + "\n" for c in cases))
    suite = {
        "description": "Capitals, answered by a scripted model.",
        "prompt": "capitals",
        "cases": "cases/capitals.jsonl",
        "metrics": ["exact_match"],
        "variants": ["plain"],
        "model": {"backend": "fake", "responses": {"Capital of France?": "Paris"}},
    }
    repo.write(f"evals/{SUITE}.yaml", yaml.safe_dump(suite, sort_keys=False))
    repo.write("prompts/capitals.prompt", prompt_file("Hello. Capital of {{ country }}?", max_new_tokens=8))
    repo.commit("capitals: first version")
    repo.write("prompts/capitals.prompt", prompt_file("Hi! Capital of {{ country }}?", max_new_tokens=8))
    repo.commit("capitals: a shorter greeting")
    return repo


def test_the_installed_wheel_runs_a_repository_and_serves_the_workbench(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the checkout's sources must not shadow the wheel
    monkeypatch.delenv("PROMPTARENA_DB", raising=False)
    wheel = build_wheel(tmp_path / "build")
    names = zipfile.ZipFile(wheel).namelist()
    assert "promptarena/app/Overview.py" in names and "promptarena/app/_workbench.py" in names
    pages = sorted(p.name for p in (ROOT / "app" / "pages").glob("*.py"))
    assert sorted(Path(n).name for n in names if n.startswith("promptarena/app/pages/")) == pages

    bin_dir = install(wheel, tmp_path / "venv")
    code = "import promptarena; from promptarena.cli.ui import app_entry; print(promptarena.__file__, app_entry())"
    found = subprocess.run([str(bin_dir / "python"), "-c", code], check=True, capture_output=True, text=True)
    package, entry = map(Path, found.stdout.split())
    assert package.is_relative_to(tmp_path / "venv"), package
    assert entry == package.parent / "app" / "Overview.py"

    repo = user_repository(tmp_path / "team")
    run = subprocess.run(
        [str(bin_dir / "evals"), "run", "--json"], cwd=repo.root / "evals", capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert [s["suite"] for s in json.loads(run.stdout)["suites"]] == [SUITE]
    db = repo.root / ".promptarena" / "results.db"
    assert db.is_file() and repo.git("status", "--porcelain") == ""

    log = tmp_path / "streamlit.log"
    evals = [str(bin_dir / "evals")]
    with workbench_server(repo.root / "prompts", db, log, evals=evals) as url, chromium_page(tmp_path / "p") as page:
        bodies = {}
        for path, marker in PAGES:
            open_page(page, f"{url}/{path}", marker)
            assert page.locator('[data-testid="stException"]').count() == 0, path
            bodies[path] = page.inner_text("body")
            page.screenshot(path=str(screenshots_dir(tmp_path) / f"wheel_{path or 'overview'}.png"))
    assert SUITE in bodies[""] and "Capitals, answered by a scripted model." in bodies[""]
    assert str(repo.root) in bodies[""]  # the repository's top folder, found from its prompts/ folder
    first, second = (repo.rev_parse(rev)[:7] for rev in ("HEAD~1", "HEAD"))
    for path in ("Compare", "Case_explorer"):
        assert f"{first}:plain" in bodies[path] and f"{second}:plain" in bodies[path], bodies[path]
    assert "capitals: a shorter greeting" in bodies["Case_explorer"]
    assert SUITE in bodies["Runs"]
