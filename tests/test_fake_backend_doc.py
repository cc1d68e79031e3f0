"""docs/fake-backend.md stays true: its example repository and pytest test run as written, and every suite
snippet in it holds options that the fake backend accepts."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from promptarena.backends.options import validate_options
from tests.support.docs import documented_files, users_pytest
from tests.support.git import GitRepo

DOC = Path(__file__).resolve().parents[1] / "docs" / "fake-backend.md"
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_documented_user_test_passes(tmp_path: Path) -> None:
    files = documented_files(DOC)
    assert set(files) == {
        "prompts/capitals.prompt",
        "evals/cases/capitals.jsonl",
        "evals/capitals.yaml",
        "tests/test_prompts.py",
    }
    repo = GitRepo(tmp_path / "team")
    for path, text in files.items():
        repo.write(path, text)
    repo.commit("capitals")
    result = users_pytest(repo.root, "tests/test_prompts.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_every_snippet_holds_options_the_fake_backend_accepts() -> None:
    snippets = [yaml.safe_load(block) for block in YAML_BLOCK.findall(DOC.read_text(encoding="utf-8"))]
    models = [s["model"] for s in snippets if "model" in s]
    models += [{k: v for k, v in m.items() if k != "name"} for s in snippets for m in s.get("models", [])]
    assert len(models) >= 6
    for options in models:
        rest = dict(options)
        assert rest.pop("backend") == "fake"
        validate_options("fake", rest)
