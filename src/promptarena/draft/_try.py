"""A draft checked as `evals run` checks it, rendered for a case, and tried on chosen cases beside the newest commit."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from promptarena.errors import ConfigError, PromptArenaError
from promptarena.gitstore import PromptStore, PromptVersion
from promptarena.suite import Suite
from promptarena.types import Case, Message

if TYPE_CHECKING:
    from promptarena.compare import Comparison
    from promptarena.engine import ProgressFn, SuiteResult
    from promptarena.gate import Gate

# --- checks before anything runs --------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One error in a draft as `evals run` reports it, with its line in the file when it names one."""

    message: str
    line: int | None = None


_LINE = re.compile(r"^[^\s:]+(?:@[\w-]+)?:(\d+)(?::\d+)?:\s*")


def validate(prompts: PromptStore, name: str, text: str, suite: Suite | None = None) -> list[Problem]:
    """The draft parsed and rendered for every case of ``suite`` as `evals run` does before its first model call;
    empty when it would run. Errors name ``prompts/<name>.prompt`` and the line, as the command line does."""
    from promptarena.promptfile import parse_prompt

    path = prompts.path_of(name)
    try:
        prompt = parse_prompt(text, name, path)
        for case in suite.cases if suite is not None else ():
            prompt.render(case.vars, case.id, case.meta.get("where", ""))
    except PromptArenaError as err:
        message = str(err)
        match = _LINE.match(message) if message.startswith(path) else None
        return [Problem(message, int(match.group(1)) if match else None)]
    return []


def warnings(prompts: PromptStore, name: str, text: str, suite: Suite) -> tuple[str, ...]:
    """What `evals run` would warn about for the draft on ``suite`` (case variables the prompt never uses); call it
    on a draft that ``validate`` passed."""
    from promptarena.cases import with_prompt_warnings
    from promptarena.promptfile import parse_prompt

    return with_prompt_warnings(suite, [parse_prompt(text, name, prompts.path_of(name))]).warnings


def render_case(prompts: PromptStore, name: str, text: str, case: Case) -> tuple[Message, ...]:
    """The messages the model receives for ``case`` under the draft (raises ``ConfigError`` as `evals run` would);
    a prompt's tools are shown as a model whose chat template takes none (the embedded one) gets them: the Hermes
    block at the end of the system message."""
    from promptarena.promptfile import parse_prompt
    from promptarena.tools import with_tools_in_system

    prompt = parse_prompt(text, name, prompts.path_of(name))
    messages = prompt.render(case.vars, case.id, case.meta.get("where", ""))
    return with_tools_in_system(messages, prompt.parameters.tools) if prompt.parameters.tools else messages


# --- which cases to try -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Which of a suite's cases a try evaluates: ``all``, the ``first`` N, N ``sample``d with a seed, or the cases
    the newest commit gets ``wrong``."""

    kind: str = "all"
    n: int = 10
    seed: int = 0

    def __str__(self) -> str:
        if self.kind in ("all", "wrong"):
            return self.kind
        return f"{self.kind}:{self.n}" + (f":{self.seed}" if self.kind == "sample" else "")


KINDS = ("first", "sample", "wrong", "all")


def parse_selection(spec: str) -> Selection:
    """``all``, ``wrong``, ``first:N`` or ``sample:N[:SEED]`` as a ``Selection``.

    Raises:
        ConfigError: for anything else, with the forms that work.
    """
    kind, _, rest = spec.strip().partition(":")
    parts = rest.split(":") if rest else []
    try:
        if kind in ("all", "wrong") and not parts:
            return Selection(kind)
        if kind == "first" and len(parts) == 1 and int(parts[0]) > 0:
            return Selection(kind, int(parts[0]))
        if kind == "sample" and len(parts) in (1, 2) and int(parts[0]) > 0:
            return Selection(kind, int(parts[0]), int(parts[1]) if len(parts) == 2 else 0)
    except ValueError:
        pass
    raise ConfigError(
        f"cases {spec!r}: write all, wrong, first:N or sample:N[:SEED] (N a positive whole number), e.g. first:10"
    )


def select_cases(suite: Suite, selection: Selection, wrong: Sequence[str] = ()) -> Suite:
    """The suite narrowed to the selected cases, in the suite's order; ``wrong`` lists the newest commit's misses.

    Raises:
        ConfigError: when no case is selected (``wrong`` with no stored misses, say).
    """
    cases = list(suite.cases)
    if selection.kind == "first":
        cases = cases[: selection.n]
    elif selection.kind == "sample":
        keep = set(random.Random(selection.seed).sample(range(len(cases)), min(selection.n, len(cases))))
        cases = [c for i, c in enumerate(cases) if i in keep]
    elif selection.kind == "wrong":
        missed = set(wrong)
        cases = [c for c in cases if c.id in missed]
    if not cases:
        why = "the newest commit gets no stored case wrong" if selection.kind == "wrong" else "the suite has no cases"
        raise ConfigError(f"no case of suite {suite.name!r} to try ({why}): choose first:N, sample:N or all")
    return replace(suite, cases=tuple(cases))


def wrong_cases(results: Any, suite: Suite, blob: str) -> list[str]:
    """Cases of the latest stored results of version ``blob`` whose first higher-is-better metric scored below 1
    (any variant or model); empty when that version has no stored results."""
    primary = next((s.name for s in suite.metrics if suite.metric(s.name).higher_is_better), None)
    if primary is None:
        return []
    seen: set[tuple[str, str]] = set()
    missed: set[str] = set()
    for arm in results.stored_arms(suite.name):
        if arm.blob != blob or (arm.variant, arm.model) in seen:
            continue
        seen.add((arm.variant, arm.model))
        for case_id, row in results.arm_results(arm.run_id, arm.blob, arm.variant, model=arm.model).items():
            score = row["scores"].get(primary)
            if score is not None and score < 1:
                missed.add(case_id)
    return [c.id for c in suite.cases if c.id in missed]


# --- trying ---------------------------------------------------------------------------------------------


@dataclass
class Tried:
    """A draft evaluated beside the newest commit of its prompt: the run, one comparison per variant (and model),
    commit first, and the regression gates those comparisons would fail or pass."""

    result: SuiteResult
    draft: PromptVersion
    newest: PromptVersion | None
    comparisons: list[Comparison]
    gates: list[Gate]


def newest_commit(prompts: PromptStore, name: str) -> PromptVersion | None:
    """The prompt as HEAD has it, or None for a prompt (or repository) without a commit yet."""
    try:
        return prompts.version_at(name, "HEAD")
    except ConfigError:
        return None


def try_draft(
    suite: Suite,
    prompts: PromptStore,
    results: Any,
    draft: PromptVersion,
    *,
    backend: Any = None,
    progress: ProgressFn | None = None,
    alpha: float = 0.05,
) -> Tried:
    """Evaluate the draft and the newest commit on the suite's cases (narrow them with ``select_cases``) with its
    variants; cached generations are reused, so a tried text or an unchanged commit generates nothing."""
    from promptarena.compare import compare_arms
    from promptarena.engine import run_suite
    from promptarena.gate import regression_gates
    from promptarena.plan import make_arms

    newest = newest_commit(prompts, suite.prompt)
    versions = [draft] + ([newest] if newest is not None else [])
    result = run_suite(suite, prompts, results, versions=versions, backend=backend, progress=progress)
    comparisons, gates = [], []
    if newest is not None:
        for base, current in zip(make_arms(suite, [newest]), make_arms(suite, [draft]), strict=True):
            comparison = compare_arms(suite, [result.arm(base.label), result.arm(current.label)], alpha=alpha)
            comparisons.append(comparison)
            gates.extend(regression_gates(comparison, suite.gate))
    return Tried(result, draft, newest, comparisons, gates)
