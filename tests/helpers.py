"""Building blocks for engine and CLI tests: a prompt repository with real commits and suites."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import GitRepo

EVALS = str(Path(sys.executable).with_name("evals"))

QA_V1 = """---
description: capitals
variables:
  country: the country
parameters:
  max_new_tokens: 16
answer:
  extract: first_line
---
user:
Capital of {{ country }}?
"""

QA_V2 = QA_V1.replace("Capital of {{ country }}?", "Name the capital city of {{ country }}.")

COUNTRIES = {
    "France": "Paris",
    "Japan": "Tokyo",
    "Italy": "Rome",
    "Spain": "Madrid",
    "Peru": "Lima",
    "Chile": "Santiago",
}


def qa_cases() -> list[dict[str, Any]]:
    return [{"id": c.lower(), "vars": {"country": c}, "reference": city} for c, city in COUNTRIES.items()]


def write_suite(repo: GitRepo, name: str = "qa", **fields: Any) -> Path:
    doc: dict[str, Any] = {
        "prompt": "qa",
        "cases": f"cases/{name}.jsonl",
        "metrics": ["exact_match"],
        "variants": ["plain"],
        "model": {"backend": "fake", "responses": {}},
    }
    doc.update(fields)
    if doc["cases"] == f"cases/{name}.jsonl" and not (repo.root / "evals" / doc["cases"]).exists():
        repo.write(f"evals/{doc['cases']}", "\n".join(json.dumps(c) for c in qa_cases()) + "\n")
    return repo.write(f"evals/{name}.yaml", yaml.safe_dump(doc, sort_keys=False))


def qa_repo(root: Path, responses: dict[str, Any] | None = None, **fields: Any) -> GitRepo:
    """Two committed versions of prompts/qa.prompt and a suite answered by the fake backend.

    By default v1 ("Capital of X?") is answered right for every country and v2 wrong for half of them.
    """
    repo = GitRepo(root)
    if responses is None:
        responses = {f"Capital of {c}?": city for c, city in COUNTRIES.items()}
        for i, (c, city) in enumerate(COUNTRIES.items()):
            responses[f"capital city of {c}."] = city if i % 2 else "I do not know"
    repo.write("prompts/qa.prompt", QA_V1)
    write_suite(repo, model={"backend": "fake", "responses": responses}, **fields)
    repo.commit("qa: first version")
    repo.write("prompts/qa.prompt", QA_V2)
    repo.commit("qa: ask for the city by name")
    return repo


def evals(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run the real `evals` console script in a subprocess."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([EVALS, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
