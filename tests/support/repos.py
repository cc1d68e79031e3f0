"""Prompt repositories for engine and CLI tests: two committed versions of a prompt and a suite for the fake model."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.support.git import GitRepo


def prompt_file(
    user: str, system: str = "", description: str = "capitals", max_new_tokens: int = 16, extract: str = "first_line"
) -> str:
    """The text of a prompt file with one variable, ``country``: front matter, a system message if any, the user's."""
    front = (
        f"---\ndescription: {description}\nvariables:\n  country: the country\n"
        f"parameters:\n  max_new_tokens: {max_new_tokens}\nanswer:\n  extract: {extract}\n---\n"
    )
    return front + (f"system:\n{system}\n\n" if system else "") + f"user:\n{user}\n"


def sums_prompt(description: str = "Add two numbers.", problem: str = "the sum", max_new_tokens: int = 16) -> str:
    """The text of a prompt file that asks for the sum in its variable ``problem``, under an ``{instruction}`` left
    for ``str.format`` (so versions differ by their instruction); the answer is the last number."""
    front = (
        f"---\ndescription: {description}\nvariables:\n  problem: {problem}\n"
        f"parameters:\n  max_new_tokens: {max_new_tokens}\nanswer:\n  extract: last_number\n---\n"
    )
    return front + "user:\n{instruction}\n{{{{ problem }}}}\n"


QA_V1 = prompt_file("Capital of {{ country }}?")

QA_V2 = QA_V1.replace("Capital of {{ country }}?", "Name the capital city of {{ country }}.")

COUNTRIES = {
    "France": "Paris",
    "Japan": "Tokyo",
    "Italy": "Rome",
    "Spain": "Madrid",
    "Peru": "Lima",
    "Chile": "Santiago",
}


# v2's answers in the judge tests: exact_match passes japan and spain, contains also italy and chile.
HEAD_ANSWERS = {
    "France": "I do not know",
    "Japan": "Tokyo",
    "Italy": "It is Rome",
    "Spain": "Madrid",
    "Peru": "I do not know",
    "Chile": "Santiago, of course",
}


def qa_responses(head: dict[str, str]) -> dict[str, str]:
    """The fake model's script: v1 ("Capital of X?") answered right, v2 with ``head`` (country -> answer)."""
    responses = {f"Capital of {c}?": city for c, city in COUNTRIES.items()}
    responses.update({f"capital city of {c}.": answer for c, answer in head.items()})
    return responses


def qa_cases() -> list[dict[str, Any]]:
    """One case per country in ``COUNTRIES``, its capital as the reference."""
    return [{"id": c.lower(), "vars": {"country": c}, "reference": city} for c, city in COUNTRIES.items()]


def write_suite(repo: GitRepo, name: str = "qa", **fields: Any) -> Path:
    """Write ``evals/<name>.yaml`` (and the qa cases when the suite points at the default case file)."""
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


def edit_suite(repo: GitRepo, name: str = "qa", **fields: Any) -> None:
    """Change fields of a stored suite, keeping the rest (its scripted model) as it is."""
    path = repo.root / "evals" / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **fields}, sort_keys=False))


def qa_repo(root: Path, responses: dict[str, Any] | None = None, **fields: Any) -> GitRepo:
    """Two committed versions of prompts/qa.prompt and a suite answered by the fake backend.

    By default v1 ("Capital of X?") is answered right for every country and v2 wrong for half of them.
    """
    repo = GitRepo(root)
    if responses is None:
        responses = qa_responses(
            {c: city if i % 2 else "I do not know" for i, (c, city) in enumerate(COUNTRIES.items())}
        )
    repo.write("prompts/qa.prompt", QA_V1)
    write_suite(repo, model={"backend": "fake", "responses": responses}, **fields)
    repo.commit("qa: first version")
    repo.write("prompts/qa.prompt", QA_V2)
    repo.commit("qa: ask for the city by name")
    return repo


def results_db(repo: GitRepo) -> Path:
    """The repository's default results database."""
    return repo.root / ".promptarena" / "results.db"


def count_rows(db: Path, table: str) -> int:
    """Rows in ``table``; 0 when the database or the table does not exist yet (not migrated).

    Read-only: a poll must never create the empty file a run then refuses as emptied.
    """
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return 0
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def statuses(repo: GitRepo) -> list[str]:
    """The status of each run in the repository's results database, oldest first."""
    con = sqlite3.connect(results_db(repo))
    try:
        return [row[0] for row in con.execute("SELECT status FROM runs ORDER BY started_at, rowid")]
    finally:
        con.close()


def database_at(db: Path, version: int, **tables: Sequence[Mapping[str, Any] | Sequence[Any]]) -> None:
    """A results database as promptarena at schema ``version`` left it, holding each table's rows: a row maps
    columns to values, or gives a value for every column of that schema in order."""
    from promptarena.store import MIGRATIONS

    conn = sqlite3.connect(db)
    try:
        conn.executescript("".join(MIGRATIONS[:version]) + f"PRAGMA user_version = {version};")
        for table, rows in tables.items():
            for row in rows:
                columns = f" ({', '.join(row)})" if isinstance(row, Mapping) else ""
                values = list(row.values()) if isinstance(row, Mapping) else list(row)
                conn.execute(f"INSERT INTO {table}{columns} VALUES ({', '.join('?' * len(values))})", values)
        conn.commit()
    finally:
        conn.close()


def corrupt_a_page(db: Path) -> None:
    """Overwrite the header of the page that holds the results table, in the middle of the file."""
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'results'").fetchone()[0]
    conn.close()
    with db.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xff" * 64)
