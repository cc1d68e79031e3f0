"""What `evals` imports: help and a fully cached run stay fast because heavy libraries load only where used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.repos import qa_repo

HEAVY = ("scipy", "pandas", "torch", "transformers", "streamlit", "sqlite_utils")
"""Never needed by `evals --help` or by a cached run without a comparison."""
HELP_ALSO = ("git", "jinja2", "pydantic", "yaml", "rich", "numpy")
"""Needed by commands as they run, never to list them."""

_WATCH = (
    "import atexit, json, sys\n"
    "watch = json.loads(sys.argv.pop(1))\n"
    "atexit.register(lambda: print('IMPORTED=' + json.dumps(sorted(m for m in watch if m in sys.modules))))\n"
    "from promptarena.cli import main\n"
    "main()\n"
)


def _evals_importing(args: list[str], cwd: Path, watch: tuple[str, ...]) -> tuple[int, str, list[str]]:
    """Run `evals ARGS` in a fresh interpreter; its exit code, output and which of ``watch`` it imported."""
    out = subprocess.run(
        [sys.executable, "-c", _WATCH, json.dumps(watch), *args],
        cwd=cwd,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    marker = [line for line in out.stdout.splitlines() if line.startswith("IMPORTED=")]
    assert marker, out.stdout + out.stderr
    return out.returncode, out.stdout, json.loads(marker[-1].removeprefix("IMPORTED="))


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    code, output, imported = _evals_importing(["--help"], tmp_path, HEAVY + HELP_ALSO)
    assert code == 0 and "run" in output and "compare" in output
    assert imported == []


def test_a_cached_run_without_a_comparison_imports_nothing_heavy(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo", metrics=["exact_match", "latency_s"])
    first, output, imported = _evals_importing(["run"], repo.root, HEAVY)
    assert first == 0 and "12 generated" in output
    again, output, imported = _evals_importing(["run"], repo.root, HEAVY)
    assert again == 0 and "0 generated, 12 from cache" in output
    assert imported == []
    # the watch itself works: a comparison needs scipy's tests
    compared, _, imported = _evals_importing(["compare", "qa", "HEAD~1", "HEAD"], repo.root, HEAVY)
    assert compared == 0 and imported == ["scipy"]


def test_the_package_root_loads_the_scorer_api_only_when_it_is_asked_for() -> None:
    code = (
        "import sys, promptarena\n"
        "before = sorted(m for m in sys.modules if m.startswith('promptarena'))\n"
        "from promptarena import Score, metric\n"
        "print(before, metric.__module__, Score.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["['promptarena']", "promptarena.scorers", "promptarena.metrics"]
