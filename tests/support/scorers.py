"""A repository with scorers of its own for scorer tests: evals/scorers.py, a helper it imports, and one that
helper imports in turn (relatively), beside the qa suite answered by the fake model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.git import GitRepo
from tests.support.repos import COUNTRIES, qa_repo

SCORERS = '''"""Scorers of the capitals suite."""

import promptarena
from evals.words import count, same


@promptarena.metric(kind="binary", description="Answers in at most two words.")
def brief(output):
    return count(output) <= 2


def knows(answer, case, options):
    """1 when the answer is the reference; else 0, saying what was expected."""
    if options.get("log"):
        with open(options["log"], "a") as log:
            log.write(case.id + "\\n")
    if options.get("fail_on") in (case.id, "*"):
        raise ValueError(f"cannot judge {case.vars['country']}")
    if same(answer, case.references[0]):
        return 1
    return 0.0, f"expected {case.references[0]}, got {answer}"


@promptarena.metric(higher_is_better=False, name="length")
def words(prediction):
    return promptarena.Score(count(prediction.output), "words in the output")
'''

WORDS = """from .normalize import fold


def count(text):
    return len(text.split())


def same(a, b):
    return fold(a) == fold(b)
"""

NORMALIZE = """def fold(text):
    return text.strip().lower()
"""

KNOWS = {"python": "evals/scorers.py:knows"}
ALL_WRONG = {  # v1 right, v2 always wrong
    **{f"Capital of {c}?": city for c, city in COUNTRIES.items()},
    **{f"capital city of {c}.": "I do not know" for c in COUNTRIES},
}


def scorer_repo(root: Path, metrics: list[Any] | None = None, **fields: Any) -> GitRepo:
    """The qa repository (v1 right everywhere, v2 wrong on half the cases) with evals/scorers.py and its helpers."""
    repo = GitRepo(root)
    repo.write("evals/scorers.py", SCORERS)
    repo.write("evals/words.py", WORDS)
    repo.write("evals/normalize.py", NORMALIZE)
    metrics = metrics or ["exact_match", {"python": "evals/scorers.py:brief"}, KNOWS]
    return qa_repo(root, metrics=metrics, **fields)
