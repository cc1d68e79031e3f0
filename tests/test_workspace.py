"""The one context every command opens: the repository found from any path inside it, its prompt store, and its
results database, each looked up only when the command first needs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptarena.cli.common import Workspace
from promptarena.errors import ConfigError
from tests.support.cli import cli, exited
from tests.support.repos import qa_repo


def test_a_workspace_finds_the_repository_from_a_subfolder_and_its_default_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMPTARENA_DB", raising=False)
    repo = qa_repo(tmp_path / "repo")
    with Workspace(repo.root / "evals") as ws:
        assert ws.root == repo.root.resolve()
        assert ws.db == repo.root.resolve() / ".promptarena" / "results.db"
        assert ws.prompts is ws.prompts and ws.prompts.list_prompts() == ["qa"]
        with ws.results() as results:
            assert results.runs() == []
    assert ws.db.is_file()  # opening the results made and migrated the database


def test_a_database_named_on_the_command_line_needs_no_repository(tmp_path: Path) -> None:
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    ws = Workspace(outside, tmp_path / "mine.db")
    assert ws.db == tmp_path / "mine.db"
    with pytest.raises(ConfigError, match="is not inside a git repository"):
        _ = ws.root
    # the commands that need only the database run outside a repository when --db names it, and fail with 2 when not
    assert "no runs yet in" in cli("runs", "--repo", str(outside), "--db", str(tmp_path / "mine.db")).stdout
    err = exited(cli("runs", "--repo", str(outside)), 2)
    assert "is not inside a git repository" in err
