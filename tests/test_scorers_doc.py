"""docs/scorers.md stays true: its repository, scorers and pytest test run as written, and its plugin package installs
with pip and scores in a suite that names it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support import docs
from tests.support.cli import evals
from tests.support.git import GitRepo

DOC = Path(__file__).resolve().parents[1] / "docs" / "scorers.md"
REPOSITORY = {
    "evals/scorers.py",
    "evals/replies.yaml",
    "prompts/reply.prompt",
    "evals/cases/replies.jsonl",
    "tests/test_scorers.py",
}
PLUGIN = {"acme-scorers/pyproject.toml", "acme-scorers/src/acme_scorers/__init__.py"}


def documented_files() -> dict[str, str]:
    files = docs.documented_files(DOC)
    assert set(files) == REPOSITORY | PLUGIN
    return files


def test_the_documented_scorers_and_their_test_pass(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "team")
    for path, text in documented_files().items():
        if path in REPOSITORY:
            repo.write(path, text)
    repo.commit("replies")
    result = docs.users_pytest(repo.root, "tests/test_scorers.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    # the table the doc shows, and the message it quotes for a misspelled function
    table = evals("run", "replies", cwd=repo.root)
    assert table.returncode == 0, table.stderr
    doc = " ".join(DOC.read_text(encoding="utf-8").split())
    for row in table.stdout.splitlines()[:6]:
        if "│" in row or "┃" in row:
            cells = [c.strip() for c in re.split(r"[│┃]", row)[3:6]]
            assert all(cell in doc for cell in cells), (cells, table.stdout)
    suite = (repo.root / "evals/replies.yaml").read_text().replace("scorers.py:polite", "scorers.py:polit")
    (repo.root / "evals/replies.yaml").write_text(suite)
    bad = evals("run", "replies", cwd=repo.root)
    assert bad.returncode == 2
    quoted = "evals/scorers.py: there is no function 'polit' (did you mean polite at evals/scorers.py:10?)"
    assert quoted in bad.stderr and quoted in doc


def test_the_documented_plugin_installs_and_scores(tmp_path: Path) -> None:
    files = documented_files()
    for path in PLUGIN:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(files[path])
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--target", str(site), str(tmp_path / "acme-scorers")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    repo = GitRepo(tmp_path / "team")
    for path in ("prompts/reply.prompt", "evals/cases/replies.jsonl"):
        repo.write(path, files[path])
    suite = yaml.safe_load(files["evals/replies.yaml"])
    repo.write("evals/replies.yaml", yaml.safe_dump({**suite, "metrics": ["acme_polite"], "thresholds": {}}))
    repo.commit("replies")
    out = evals("run", "replies", "--json", cwd=repo.root, env={"PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr
    assert '"acme_polite": {' in out.stdout and '"mean": 0.6666666666666666' in out.stdout
    missing = evals("run", "replies", cwd=repo.root)
    assert missing.returncode == 2 and "unknown metric 'acme_polite'" in missing.stderr
