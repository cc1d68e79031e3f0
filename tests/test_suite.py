"""Suite files: validated at load, every error naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptarena.errors import ConfigError
from promptarena.suite import load_suite


def _suite(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> Path:
    for name, body in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_inline_and_csv_cases(tmp_path: Path) -> None:
    inline = load_suite(
        _suite(
            tmp_path,
            "prompt: qa\nmetrics: [exact_match]\ncases:\n  - vars: {q: a}\n    reference: A\n"
            "  - id: two\n    vars: {q: b}\n    references: [B, bee]\n",
        )
    )
    assert [c.id for c in inline.cases] == ["case-1", "two"]
    assert inline.cases[1].references == ("B", "bee")
    assert inline.variants[0].name == "plain" and inline.gate == ("exact_match",)
    csv = load_suite(
        _suite(
            tmp_path,
            "prompt: qa\nmetrics: [rougeL]\ncases: c.csv\n",
            {"c.csv": "id,text,reference\nx,hello there,hi\ny,good bye,bye\n"},
        )
    )
    assert csv.cases[0].vars == {"text": "hello there"} and csv.cases[1].references == ("bye",)
    assert csv.case_file == tmp_path / "c.csv"


@pytest.mark.parametrize(
    ("text", "files", "expected"),
    [
        ("prompt: qa\nmetrics: [exact_match]\ncases: c.jsonl\n", {"c.jsonl": '{"vars": {}}\n{oops\n'}, "c.jsonl:2"),
        ("prompt: qa\nmetrics: [exact_match]\ncases: []\n", {}, "no cases"),
        (
            "prompt: qa\nmetrics: [exact_match]\ncases:\n  - {id: a}\n  - {id: a}\n",
            {},
            "duplicate case id 'a'",
        ),
        (
            "prompt: qa\nmetrics: [exact_match]\nthresholds: {rougeL: 0.2}\ncases:\n  - {id: a}\n",
            {},
            "s.yaml:3: thresholds: 'rougeL' is not among",
        ),
        (
            "prompt: qa\nmetrics: [exact_match]\ncases:\n  - {id: a}\nvariant: [plain]\n",
            {},
            "s.yaml:5: variant: unknown field (did you mean variants?)",
        ),
        (
            "prompt: qa\nmetrics: [exact_match]\ncases:\n  - id: a\n    vars: [1, 2]\n",
            {},
            "s.yaml:5: cases[0].vars",
        ),
        (
            "prompt: qa\nmetrics:\n  - exact_match\n  - regex: {patern: x}\ncases:\n  - {id: a}\n",
            {},
            "s.yaml:4: metrics[1]",
        ),
        (
            "prompt: qa\nmetrics: [exact_match]\nvariants: [{self_consistency: {samples: 0}}]\ncases:\n  - {id: a}\n",
            {},
            "s.yaml:3: variants[0]",
        ),
    ],
)
def test_errors_name_the_place(tmp_path: Path, text: str, files: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_suite(_suite(tmp_path, text, files))
    assert expected in str(err.value)
