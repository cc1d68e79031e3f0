"""Text that people write (prompt text, commit messages, suite descriptions, case ids) is shown as written, never
as Markdown: a ``---`` line stays a line of dashes, ``# x`` no heading, ``**x**`` keeps its stars, and leading
spaces stay (AppTest on a repository whose texts are full of Markdown)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from promptarena.backends.fake import FakeBackend
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from tests.support.git import GitRepo
from tests.support.workbench import APP, point_app_at
from tests.test_app import diff_rows

HEAD = "---\ndescription: Notes.\nvariables:\n  topic: what to write about\n---\nuser:\n"
BEFORE = HEAD + "Write notes on {{ topic }}.\n"
AFTER = HEAD + "# Notes\n---\n**Bold** notes on {{ topic }}.\n    - indented\n"
SUITE = """description: "**Loud** suite # not a heading"
prompt: notes
cases:
  - {id: "**star**_case_", vars: {topic: cats}}
metrics: [contains]
variants: [plain]
versions: {last: 2}
model: {backend: fake, default: "done"}
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    repo = GitRepo(tmp_path_factory.mktemp("text") / "repo")
    repo.write("prompts/notes.prompt", BEFORE)
    repo.write("evals/notes.yaml", SUITE)
    repo.commit("First **notes** prompt")
    repo.write("prompts/notes.prompt", AFTER)
    repo.commit("# Headings_and_rules_")
    with PromptStore(repo.root) as store, ResultsStore(repo.root / "results.db") as results:
        suite = load_suite(repo.root / "evals" / "notes.yaml", repo.root)
        run_suite(suite, store, results, backend=FakeBackend(default="done"))
    return repo


@pytest.fixture
def repo(built: GitRepo, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    point_app_at(monkeypatch, built.root, built.root / "results.db")
    return built


def _page(path: str) -> AppTest:
    at = AppTest.from_file(str(APP / "Overview.py"), default_timeout=60)
    if path:
        at.switch_page(path)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _markdown(at: AppTest) -> list[str]:
    """Every text the page hands to Markdown: markdown, captions, infos, warnings, table cells."""
    kinds = ("markdown", "caption", "info", "warning", "success", "error")
    return [str(e.value) for kind in kinds for e in at.get(kind)]


def test_the_prompt_diff_shows_every_character_as_written(repo: GitRepo) -> None:
    at = _page("pages/1_Prompt_history.py")
    assert not at.get("table")  # st.table renders its cells as Markdown
    newer = [row[3] for row in diff_rows(at)]
    assert {"# Notes", "---", "**Bold** notes on {{ topic }}.", "    - indented"} <= set(newer)


def test_commit_messages_suite_descriptions_and_case_ids_are_not_markdown(repo: GitRepo) -> None:
    texts = _markdown(_page("")) + _markdown(_page("pages/3_Case_explorer.py")) + _markdown(_page("pages/9_Review.py"))
    for written in ("**Loud** suite # not a heading", "# Headings_and_rules_", "**star**_case_"):
        assert not any(written in text for text in texts), f"{written!r} went to Markdown unescaped"
    assert any(r"\*\*Loud\*\* suite \# not a heading" in text for text in texts)
