"""End to end on the real embedded SmolLM2 model: plain, cot and self-consistency arms, then a cached rerun."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from promptarena.backends.transformers._weights import resolve_model
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from tests.support.cli import evals
from tests.support.git import GitRepo

pytestmark = pytest.mark.model

PROMPT = """---
description: small sums
variables:
  problem: the problem
parameters:
  max_new_tokens: 24
answer:
  extract: last_number
---
system:
Solve the problem. End with "The answer is" and the number.

user:
{{ problem }}
"""

CASES = [
    ("apples", "Tom has 3 apples and buys 5 more. How many apples does he have?", "8"),
    ("eggs", "A box holds 6 eggs. How many eggs are in 2 boxes?", "12"),
    ("pens", "Ana had 9 pens and gave away 4. How many pens are left?", "5"),
]


# Greedy outputs of the plain and cot arms on CASES, recorded once from this code, per "dtype:device[:mode]" of
# the model's fingerprint: greedy decoding is deterministic for one dtype and decoding mode on one kind of
# device, and a change in the prompt rendering, the tokenizer, the weights' conversion or the decoding loop
# changes them.
GOLDEN = {
    "bfloat16:cpu:batch-invariant": {
        "plain": [
            "Tom has 3 apples and buys 5 more apples, so he has 3 + 5 = 8 apples",
            "To solve this problem, we need to consider the total number of eggs in the box and the number of eggs in "
            "the",
            "Ana gave away 4 pens, so she gave away 4 x 9 = 36 pens.\n",
        ],
        "cot": [
            "1. First, we need to find the total number of apples Tom has.\n2. We know that Tom has 3 apples, so we "
            "can add 3 apples to the total number of apples.\n3. Now we know",
            "1. First, find the total number of eggs in the box.\n2. Then, find the number of boxes that contain 2 "
            "eggs.\n3. Finally, find the number of boxes that contain 4 eggs.\n\n",
            "1. 9 - 4 = 4\n2. 9 - 4 = 4\n3. 9 - 4 = 3\n4. 9 - 4 = 3\n5. 9",
        ],
        "answers": {"plain": ["8", "", "36"], "cot": ["3", "4", "9"]},
    },
}


def _suite_repo(root: Path) -> GitRepo:
    repo = GitRepo(root)
    repo.write("prompts/sums.prompt", PROMPT)
    repo.write(
        "evals/cases/sums.jsonl",
        "\n".join(json.dumps({"id": i, "vars": {"problem": p}, "reference": r}) for i, p, r in CASES),
    )
    suite_doc = {
        "prompt": "sums",
        "cases": "cases/sums.jsonl",
        "metrics": ["exact_match", "completion_tokens"],
        "variants": [
            "plain",
            {"cot": {"max_new_tokens": 48}},
            {"self_consistency": {"samples": 3, "temperature": 0.8}},
        ],
        "model": {"backend": "transformers", "model": "default"},
    }
    repo.write("evals/sums.yaml", yaml.safe_dump(suite_doc))
    repo.commit("sums")
    return repo


def test_real_model_runs_plain_cot_and_self_consistency(tmp_path: Path) -> None:
    repo = _suite_repo(tmp_path / "repo")
    store = PromptStore(repo.root)
    suite = load_suite(repo.root / "evals/sums.yaml", repo.root)
    references = [r for _, _, r in CASES]
    with ResultsStore(tmp_path / "r.db") as results:
        out = run_suite(suite, store, results)
        # 3 cases x (1 plain + 1 cot + 3 samples)
        assert out.generated == 15 and out.model.startswith("transformers:default:")
        plain, cot, sc = out.arms
        golden = GOLDEN.get(out.model.split(":", 3)[3])
        if golden is not None:
            assert [p.output for p in plain.predictions] == golden["plain"]
            assert [p.output for p in cot.predictions] == golden["cot"]
            assert [p.answer for p in plain.predictions] == golden["answers"]["plain"]
            assert [p.answer for p in cot.predictions] == golden["answers"]["cot"]
        (run,) = results.runs()  # the provenance names the decoding mode, as the fingerprint does
        assert run.provenance["decoding"] == ("batch-invariant" if out.model.endswith(":batch-invariant") else "fast")
        for arm in out.arms:  # on a dtype or device without goldens, what holds for any greedy model output
            assert all(p.output.strip() for p in arm.predictions)
            right = [p.answer == r for p, r in zip(arm.predictions, references, strict=True)]
            assert arm.summary["exact_match"].mean == pytest.approx(sum(right) / len(right))
            assert arm.summary["completion_tokens"].mean > 0
        # the prompt's max_new_tokens (24) for plain, the variant's (48) for cot: a small model talks to the limit
        assert all(g.completion_tokens <= 24 for p in plain.predictions for g in p.generations)
        assert all(g.completion_tokens <= 48 for p in cot.predictions for g in p.generations)
        assert all(p.reasoning is not None for p in cot.predictions)
        assert all(p.confidence in (1 / 3, 2 / 3, 1.0) or p.confidence == 0.0 for p in sc.predictions)
        assert all(len(p.details["samples"]) == 3 and len(p.generations) == 3 for p in sc.predictions)
        # samples at temperature 0.8 are not all the same text
        assert any(len({g.text for g in p.generations}) > 1 for p in sc.predictions)
        again = run_suite(suite, store, results)
        assert again.generated == 0 and again.cached == 15
        assert [p.answer for p in again.arms[2].predictions] == [p.answer for p in sc.predictions]
        assert [p.output for p in again.arms[0].predictions] == [p.output for p in plain.predictions]


def test_a_prompt_over_the_models_context_exits_2_fast_and_stores_nothing(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("prompts/sums.prompt", PROMPT)
    long_problem = "How many apples? " * 2400  # ~40,000 characters: well over SmolLM2's 8,192 positions
    cases = [{"id": "short", "vars": {"problem": CASES[0][1]}}, {"id": "long", "vars": {"problem": long_problem}}]
    repo.write("evals/cases/sums.jsonl", "\n".join(json.dumps(c) for c in cases))
    suite_doc = {"prompt": "sums", "cases": "cases/sums.jsonl", "metrics": ["exact_match"], "variants": ["plain"]}
    repo.write("evals/sums.yaml", yaml.safe_dump({**suite_doc, "model": {"backend": "transformers"}}))
    repo.commit("sums")
    resolve_model("default")  # the one-time conversion of the embedded GGUF is not what is timed
    started = time.monotonic()
    out = evals("run", cwd=repo.root, timeout=120)
    assert out.returncode == 2, out.stderr
    assert time.monotonic() - started < 60  # only the tokenizer is loaded, nothing is generated
    assert "Traceback" not in out.stderr
    message = " ".join(out.stderr.split())
    assert re.search(
        r"evals/cases/sums\.jsonl:2: case 'long' \(version sums@\w+\): the prompt is [\d,]+ tokens and "
        r"max_new_tokens is 24, over the model's context of 8,192 tokens; shorten the input, lower "
        r"max_new_tokens, or set `model: \{truncate: left\}`",
        message,
    ), message
    db = repo.root / ".promptarena" / "results.db"
    for table in ("generations", "runs", "results"):
        assert not db.exists() or sqlite3.connect(db).execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
