"""What a person does on Edit and try, in a real browser: edit a prompt, see a template error with its line, fix it,
try the draft on ten cases, read the comparison with the newest commit, save with a message, and find a commit of
that file alone whose results the workbench already has."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from promptarena import jobs
from promptarena.draft import parse_selection, select_cases
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from tests.support.browser import chromium_page, open_page, screenshots_dir, settle, settle_rerun, workbench_server
from tests.support.git import GitRepo
from tests.support.repos import COUNTRIES, QA_V1, QA_V2

pytestmark = pytest.mark.browser

CAPITALS = {**COUNTRIES, "Kenya": "Nairobi", "Egypt": "Cairo", "Canada": "Ottawa", "Norway": "Oslo"}
CAPITALS |= {"Poland": "Warsaw", "Greece": "Athens"}  # twelve: ten to try, and some left over


def capitals_repo(root: Path, db: Path) -> GitRepo:
    """prompts/qa.prompt whose newest commit the fake model answers wrong for every other country (of 12), and
    right for the first version's wording; its newest commit evaluated."""
    repo = GitRepo(root)
    responses = {f"Capital of {c}?": city for c, city in CAPITALS.items()}
    responses |= {
        f"capital city of {c}.": city if i % 2 else "I do not know" for i, (c, city) in enumerate(CAPITALS.items())
    }
    cases = [{"id": c.lower(), "vars": {"country": c}, "reference": city} for c, city in CAPITALS.items()]
    repo.write("evals/cases/qa.jsonl", "\n".join(json.dumps(c) for c in cases) + "\n")
    suite = {"prompt": "qa", "cases": "cases/qa.jsonl", "metrics": ["exact_match"], "variants": ["plain"]}
    suite["model"] = {"backend": "fake", "responses": responses}
    repo.write("evals/qa.yaml", yaml.safe_dump(suite, sort_keys=False))
    repo.write("prompts/qa.prompt", QA_V2)
    repo.commit("qa: ask for the city by name")
    with PromptStore(repo.root) as store, ResultsStore(db) as results:
        run_suite(load_suite(repo.root / "evals/qa.yaml", repo.root), store, results, versions=[store.resolve("qa")])
    return repo


def type_into(page, text: str) -> None:  # noqa: ANN001 - a Playwright page
    editor = page.get_by_role("textbox", name="Front matter and template")
    editor.fill(text)
    editor.press("Control+Enter")  # Streamlit takes a text area's value on Ctrl+Enter (or when it loses focus)
    settle_rerun(page)


def test_edit_see_the_error_fix_try_on_ten_cases_compare_and_save(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    repo = capitals_repo(tmp_path / "repo", db)
    repo.write("notes.txt", "an unrelated edit that stays uncommitted\n")
    head = repo.rev_parse("HEAD")
    with (
        workbench_server(repo.root, db, tmp_path / "streamlit.log") as url,
        chromium_page(tmp_path / "profile") as page,
    ):
        open_page(page, f"{url}/Edit_and_try", "Front matter and template")
        type_into(page, QA_V1.replace("{{ country }}", "{{ country }"))
        page.get_by_text("line 11: prompts/qa.prompt:11").wait_for(timeout=30_000)
        assert page.get_by_role("button", name="Try the draft").count() == 0  # nothing runs while it is wrong

        type_into(page, QA_V1)
        page.get_by_text("Capital of France?").first.wait_for(timeout=30_000)  # the messages follow the draft
        page.get_by_text("the first N").click()
        settle_rerun(page)
        assert page.get_by_label("N", exact=True).input_value() == "10"
        page.get_by_role("button", name="Try the draft").click()
        page.get_by_text("The draft beside the newest commit").wait_for(timeout=60_000)  # the page follows the job
        settle(page)
        (job,) = jobs.jobs(repo.root)
        assert job.exit_code == 0 and "first:10" in job.argv
        page.get_by_text("10 cases tried; 5 differ.").wait_for(timeout=30_000)
        page.screenshot(path=str(screenshots_dir(tmp_path) / "edit_and_try_loop.png"), full_page=True)

        message = page.get_by_role("textbox", name="Commit message")
        message.fill("qa: ask as the first version did")
        message.press("Enter")
        settle_rerun(page)
        page.get_by_role("button", name="Save and commit").click()
        page.get_by_text("Committed").wait_for(timeout=30_000)

        saved = repo.rev_parse("HEAD")
        assert repo.rev_parse("HEAD~1") == head
        assert repo.git("show", "--name-only", "--format=%s", saved).split("\n")[:3] == [
            "qa: ask as the first version did",
            "",
            "prompts/qa.prompt",
        ]
        assert repo.git("status", "--porcelain") == "?? notes.txt\n"

        open_page(page, f"{url}/Compare?suite=qa", "Outputs side by side")  # the results are there, under the commit
        assert f"B · {saved[:7]}:plain · exact_match 1.000" in page.inner_text("body")
    with PromptStore(repo.root) as store, ResultsStore(db) as results:
        suite = load_suite(repo.root / "evals/qa.yaml", repo.root)
        first_ten = select_cases(suite, parse_selection("first:10"))
        assert run_suite(first_ten, store, results, versions=[store.resolve("qa")]).generated == 0
    assert page.dialogs == []  # type: ignore[attr-defined]
