"""Messages for bad input name the file and line and the fix (exit 2, no traceback), and tables fit $COLUMNS.

Each repository is real git in tmp_path, answered by the fake backend; commands run as a user types them.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import Result

from tests.support.cli import cli, exited
from tests.support.git import GitRepo
from tests.support.repos import QA_V1, qa_cases, qa_repo, write_suite


def run_in(repo: GitRepo, *args: str, env: dict[str, str | None] | None = None) -> Result:
    """`evals ARGS --repo ROOT`, in this process."""
    return cli(*args, "--repo", str(repo.root), env=env)


def test_a_prompt_that_is_not_utf8_is_named_by_line_and_column(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    latin1 = QA_V1.replace("Capital of", "Capitàl of").encode("latin-1")  # line 11 of the file, column 6
    (repo.root / "prompts" / "qa.prompt").write_bytes(latin1)
    message = exited(run_in(repo, "run"), 2)
    assert "prompts/qa.prompt:11: not UTF-8 (byte 0xe0 at column 6); save the file as UTF-8." in message
    sha = repo.commit("qa: saved in Latin-1")[:7]
    message = exited(cli("prompts", "show", "qa@HEAD", "--repo", str(repo.root)), 2)
    assert f"prompts/qa.prompt@{sha}:11: not UTF-8 (byte 0xe0 at column 6)" in message
    # fixed in a new commit: the history still lists the old one, and a run of the versions that read passes
    (repo.root / "prompts" / "qa.prompt").write_text(latin1.decode("latin-1"))
    fixed = repo.commit("qa: saved as UTF-8")[:7]
    log, listing = (cli("prompts", what, *args, "--repo", str(repo.root)) for what, *args in (("log", "qa"), ("list",)))
    assert exited(log, 0) == exited(listing, 0) == "" and sha in log.stdout and fixed in listing.stdout
    message = exited(run_in(repo, "run", "--rev", "HEAD~1", "--rev", "HEAD"), 2)
    assert f"prompts/qa.prompt@{sha}:11: not UTF-8" in message
    assert "leave this version out (`evals run --rev`" in message
    exited(run_in(repo, "run", "--rev", "HEAD"), 0)


def test_a_case_missing_a_template_variable_names_its_file_and_line(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    cases = qa_cases()
    cases[2]["vars"] = {"contry": cases[2]["vars"]["country"]}
    repo.write("evals/cases/qa.jsonl", "".join(json.dumps(c) + "\n" for c in cases))
    message = exited(run_in(repo, "run"), 2)
    assert (
        "error: evals/cases/qa.jsonl:3: prompt 'qa' needs variable 'country', missing in case 'italy' "
        "(it has 'contry': a typo?)"
    ) in message
    write_suite(repo, cases=cases, model={"backend": "fake", "responses": {}})  # the same cases, inline
    line = 1 + (repo.root / "evals" / "qa.yaml").read_text().splitlines().index("- id: italy")
    message = exited(run_in(repo, "run"), 2)
    assert f"error: evals/qa.yaml:{line}: prompt 'qa' needs variable 'country', missing in case 'italy'" in message


def test_a_misspelt_reference_gets_a_did_you_mean(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    cases = qa_cases()
    cases[1]["refrence"] = cases[1].pop("reference")
    repo.write("evals/cases/qa.jsonl", "".join(json.dumps(c) + "\n" for c in cases))
    message = exited(run_in(repo, "run"), 2)
    assert "evals/cases/qa.jsonl:2: refrence: unknown field (did you mean reference?); fix that case." in message

    write_suite(repo, cases=cases, model={"backend": "fake", "responses": {}})
    line = 1 + (repo.root / "evals" / "qa.yaml").read_text().splitlines().index("  refrence: Tokyo")
    message = exited(run_in(repo, "run"), 2)
    assert f"evals/qa.yaml:{line}: cases[1].refrence: unknown field (did you mean reference?)." in message

    # a flat row of columns: `refrence` is read as a variable the prompt never uses, and the warning says so
    rows = [{"id": c["id"], **c["vars"], "reference": c["reference"]} for c in qa_cases()]
    rows[1]["refrence"] = rows[1].pop("reference")
    repo.write("evals/cases/qa.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    write_suite(repo, model={"backend": "fake", "responses": {}})
    message = exited(run_in(repo, "run"), 0)
    assert "'refrence' (did you mean reference?), first in evals/cases/qa.jsonl:2" in message


def test_compare_on_an_orphan_branch_resolves_the_other_branches(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    main = repo.rev_parse("main")[:7]
    repo.git("checkout", "-q", "--orphan", "rewrite")
    out = run_in(repo, "compare", "qa", "main", "worktree")
    exited(out, 0)
    (row,) = (line for line in out.stdout.splitlines() if line.startswith("│ exact_match"))
    assert f"{main}:plain" in row and "worktree:plain" in row, out.stdout
    message = exited(cli("compare", "qa", "HEAD", "worktree", "--repo", str(repo.root)), 2)
    assert "the current branch has no commits yet, so 'qa@HEAD' cannot be resolved" in message


def test_a_prompts_submodule_is_named_with_the_command_that_reads_its_history(tmp_path: Path) -> None:
    prompts = GitRepo(tmp_path / "prompts-repo")
    prompts.write("qa.prompt", QA_V1)
    sha = prompts.commit("qa: first version")[:7]
    repo = GitRepo(tmp_path / "repo")
    write_suite(repo)
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(prompts.root), "prompts")
    repo.commit("suite, and the prompts as a submodule")
    for args in (("prompts", "log", "qa"), ("run",)):
        message = exited(cli(*args, "--repo", str(repo.root)), 2)
        assert message.startswith("error: prompts/ is a git repository of its own (a submodule)"), message
        assert "commit prompts/qa.prompt" not in message
    suggested = "`evals prompts --repo prompts --prompts-dir . log NAME`"
    assert suggested in message
    out = cli("prompts", "--repo", str(repo.root / "prompts"), "--prompts-dir", ".", "log", "qa", "--json")
    exited(out, 0)
    assert [v["commit"][:7] for v in json.loads(out.stdout)["versions"]] == [sha]


def test_tables_take_the_width_of_columns_when_not_a_terminal(tmp_path: Path) -> None:
    variants = ["plain", {"cot": {"max_new_tokens": 32}}, {"self_consistency": {"samples": 3, "temperature": 0.7}}]
    repo = qa_repo(tmp_path / "repo", variants=variants)
    arms = ("HEAD:plain", "HEAD:cot", "HEAD:self_consistency")
    head = repo.rev_parse("HEAD")[:7]
    narrow = run_in(repo, "compare", "qa", *arms)
    exited(narrow, 0)
    assert max(map(len, narrow.stdout.splitlines())) <= 150  # no COLUMNS: 150, as before
    wide = run_in(repo, "compare", "qa", *arms, env={"COLUMNS": "240"})
    exited(wide, 0)
    lines = wide.stdout.splitlines()
    assert 150 < max(map(len, lines)) <= 240
    rows = [line for line in lines if line.startswith("│ exact_match")]
    assert len(rows) == 2 and all(f"{head}:plain" in row for row in rows), rows
    assert f"{head}:cot" in rows[0] and f"{head}:self_consistency" in rows[1], rows
    assert "…" not in "".join(rows)
    table = run_in(repo, "run", env={"COLUMNS": "60"})
    exited(table, 0)
    assert max(map(len, table.stdout.splitlines())) <= 60
