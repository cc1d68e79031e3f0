"""Shared fixtures; the builders they use live in tests/support."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

from tests.support.git import GitRepo
from tests.support.llama_server import LlamaServer, server_missing

if TYPE_CHECKING:
    from tests.support.workbench import Workbench

# In CI the property tests draw the same examples every run, so a build's result does not depend on chance;
# elsewhere they draw new ones each run and keep exploring.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    """Never reach the Hugging Face Hub, also for commands run in this process (the Hub reads it at import)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run one after another on one worker (``--dist loadgroup``): two Chromiums and two Streamlit
    servers at once on two cores make clicks race their pages' reruns."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    """An empty real git repository on branch ``main`` in ``tmp_path / "repo"``."""
    return GitRepo(tmp_path / "repo")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """A running llama.cpp server for the module's tests; a missing install fails the test, CI must run it."""
    missing = server_missing()
    if missing:
        pytest.fail(missing)
    server = LlamaServer(log=tmp_path_factory.mktemp("llama") / "server.log")
    with server:
        yield server


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    """The workbench repository and database (``tests.support.workbench``), built once per module."""
    from tests.support.workbench import build_workbench

    return build_workbench(tmp_path_factory.mktemp("bench"))


@pytest.fixture
def bench(built: Workbench, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workbench]:
    """The module's workbench, which the pages read; each test starts without votes and leaves none."""
    from promptarena.store import ResultsStore
    from tests.support.workbench import point_app_at

    point_app_at(monkeypatch, built.repo.root, built.db)
    yield built
    with ResultsStore(built.db) as results, results.write() as conn:
        conn.execute("DELETE FROM feedback")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[tuple[str, Workbench]]:
    """`evals ui` serving a workbench of the module's own: (its base URL, the workbench)."""
    from tests.support.browser import served_workbench

    with served_workbench(tmp_path_factory, request.module.__name__.rpartition(".")[2]) as served:
        yield served


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A Playwright page in Chromium with a fresh profile, shared by the module's tests."""
    from tests.support.browser import chromium_page

    with chromium_page(tmp_path_factory.mktemp("chromium-profile")) as page:
        yield page
