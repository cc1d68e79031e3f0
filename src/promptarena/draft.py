"""Drafts: edit a prompt, try it on a suite's cases, and commit it as one file, without surprising anyone.

A draft is a version of its own keyed by its content: trying it keeps its text as
``.promptarena/drafts/<name>/<blob>.prompt`` and evaluates the revision ``draft-<blob>`` (which
``gitstore.PromptStore.resolve`` reads back), so its generations and results are cached like any version's,
trying the same text twice generates nothing, and the commit that saves the text has the same blob and so the
draft's results. The draft being edited is kept as ``.promptarena/drafts/<name>.json`` until it is saved or
discarded, so a reload or a closed tab loses nothing.

Saving writes ``prompts/<name>.prompt`` and commits that file alone (``git commit --only -- PATH``), and
refuses when the file changed on disk since the draft was opened, when the repository is mid-merge or
rebase or on a detached HEAD (unless a new branch is named), or when a hook rejects the commit; each refusal
leaves the file, the index and the draft as they were.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptarena.errors import ConfigError, PromptArenaError
from promptarena.gitstore import DRAFT, PROMPT_SUFFIX, PromptStore, PromptVersion, blob_sha, drafts_dir
from promptarena.suite import Suite
from promptarena.types import Case, Message

if TYPE_CHECKING:
    from promptarena.compare import Comparison
    from promptarena.engine import ProgressFn, SuiteResult
    from promptarena.gate import Gate

__all__ = [
    "Draft",
    "DraftConflict",
    "Problem",
    "SaveRefused",
    "Selection",
    "Tried",
    "discard_draft",
    "draft_version",
    "keep_draft",
    "load_draft",
    "open_draft",
    "parse_selection",
    "render_case",
    "repository_state",
    "save_draft",
    "select_cases",
    "three_way",
    "try_draft",
    "validate",
    "wrong_cases",
]


# --- the draft being edited -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A prompt's text being edited, with the file on disk as it was when the draft was opened.

    ``disk`` is that file's text (None: no file then), against which saving checks that nobody changed it since;
    ``opened`` says where the text came from (``worktree`` or a revision).
    """

    name: str
    text: str
    disk: str | None
    opened: str = "worktree"

    @property
    def edited(self) -> bool:
        """True when the text differs from the file it would replace."""
        return self.text != self.disk


def open_draft(store: PromptStore, name: str, rev: str = "worktree") -> Draft:
    """A new draft of ``name`` from its working-tree file (``worktree``) or any revision's text."""
    name = store.require(name)
    disk_file = store.workdir / store.path_of(name)
    disk = disk_file.read_text(encoding="utf-8") if disk_file.is_file() else None
    if rev == "worktree" and disk is not None:
        return Draft(name, disk, disk, rev)
    return Draft(name, store.resolve(f"{name}@{rev}").text, disk, rev)


def _draft_file(workdir: Path, name: str) -> Path:
    from promptarena.gitstore import _check_name

    return drafts_dir(workdir) / f"{_check_name(name)}.json"


def keep_draft(workdir: Path, draft: Draft) -> None:
    """Keep the draft under ``.promptarena/drafts/`` (atomically), so a reload or a closed tab finds it again."""
    path = _draft_file(workdir, draft.name)
    _write_atomic(path, json.dumps(asdict(draft)))


def load_draft(workdir: Path, name: str) -> Draft | None:
    """The kept draft of ``name``, or None when there is none (or it cannot be read)."""
    path = _draft_file(workdir, name)
    try:
        return Draft(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def discard_draft(workdir: Path, name: str) -> None:
    """Forget the kept draft of ``name`` (its tried versions stay, with their cached results)."""
    _draft_file(workdir, name).unlink(missing_ok=True)


def _write_atomic(path: Path, text: str) -> None:
    from promptarena.store import ignore_results_folder

    path.parent.mkdir(parents=True, exist_ok=True)
    ignore_results_folder(path.parent.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def draft_version(store: PromptStore, name: str, text: str) -> PromptVersion:
    """Keep ``text`` by its content and return it as the version ``NAME@draft-<blob>``: the same text is the same
    version (and so the same cached results) every time, and the commit that saves it has the same blob."""
    data = text.encode("utf-8")
    blob = blob_sha(data)
    path = drafts_dir(store.workdir) / store.require(name) / f"{blob}{PROMPT_SUFFIX}"
    if not path.is_file():
        _write_atomic(path, text)
    return store.resolve(f"{name}@{DRAFT}{blob[:7]}")


# --- checks before anything runs --------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One error in a draft as `evals run` reports it, with its line in the file when it names one."""

    message: str
    line: int | None = None


_LINE = re.compile(r"^[^\s:]+(?:@[\w-]+)?:(\d+)(?::\d+)?:\s*")


def validate(store: PromptStore, name: str, text: str, suite: Suite | None = None) -> list[Problem]:
    """The draft parsed and rendered for every case of ``suite`` as `evals run` does before its first model call;
    empty when it would run. Errors name ``prompts/<name>.prompt`` and the line, as the command line does."""
    from promptarena.promptfile import parse_prompt

    path = store.path_of(name)
    try:
        prompt = parse_prompt(text, name, path)
        for case in suite.cases if suite is not None else ():
            prompt.render(case.vars, case.id, case.meta.get("where", ""))
    except PromptArenaError as err:
        message = str(err)
        match = _LINE.match(message) if message.startswith(path) else None
        return [Problem(message, int(match.group(1)) if match else None)]
    return []


def render_case(store: PromptStore, name: str, text: str, case: Case) -> tuple[Message, ...]:
    """The messages the model receives for ``case`` under the draft (raises ``ConfigError`` as `evals run` would)."""
    from promptarena.promptfile import parse_prompt

    return parse_prompt(text, name, store.path_of(name)).render(case.vars, case.id, case.meta.get("where", ""))


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


def newest_commit(store: PromptStore, name: str) -> PromptVersion | None:
    """The prompt as HEAD has it, or None for a prompt (or repository) without a commit yet."""
    try:
        return store.version_at(name, "HEAD")
    except ConfigError:
        return None


def try_draft(
    suite: Suite,
    store: PromptStore,
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

    newest = newest_commit(store, suite.prompt)
    versions = [draft] + ([newest] if newest is not None else [])
    result = run_suite(suite, store, results, versions=versions, backend=backend, progress=progress)
    comparisons, gates = [], []
    if newest is not None:
        for base, current in zip(make_arms(suite, [newest]), make_arms(suite, [draft]), strict=True):
            comparison = compare_arms(suite, [result.arm(base.label), result.arm(current.label)], alpha=alpha)
            comparisons.append(comparison)
            gates.extend(regression_gates(comparison, suite.gate))
    return Tried(result, draft, newest, comparisons, gates)


# --- saving -----------------------------------------------------------------------------------------------


class SaveRefused(ConfigError):
    """Saving did not commit; ``output`` holds what git (or its hook) said. The file and the draft are unchanged."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class DraftConflict(SaveRefused):
    """The file changed on disk since the draft was opened: the three texts, for the person to choose."""

    def __init__(self, message: str, base: str | None, mine: str, theirs: str | None) -> None:
        super().__init__(message)
        self.base, self.mine, self.theirs = base, mine, theirs


def repository_state(store: PromptStore) -> str | None:
    """Why the repository cannot take a commit now (a merge, rebase, cherry-pick or revert in progress, or a
    detached HEAD), or None when it can."""
    repo = store._repo
    git_dir = Path(repo.git_dir)
    for marker, what in (
        ("MERGE_HEAD", "a merge"),
        ("rebase-merge", "a rebase"),
        ("rebase-apply", "a rebase"),
        ("CHERRY_PICK_HEAD", "a cherry-pick"),
        ("REVERT_HEAD", "a revert"),
    ):
        if (git_dir / marker).exists():
            return f"the repository is in the middle of {what}: finish or abort it in a terminal, then save"
    if repo.head.is_detached:
        return "HEAD is detached (no branch is checked out): name a new branch to save on, or check out a branch"
    return None


def three_way(base: str | None, mine: str, theirs: str | None) -> str:
    """``git merge-file --diff3``: the draft and the file on disk merged from the text the draft was opened on,
    with conflict markers where both changed the same lines."""
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for label, text in (("draft", mine), ("opened", base or ""), ("on disk", theirs or "")):
            path = Path(tmp) / label.replace(" ", "_")
            path.write_text(text, encoding="utf-8")
            files.append((label, str(path)))
        argv = ["git", "merge-file", "-p", "--diff3"]
        for label, _ in files:
            argv += ["-L", label]
        done = subprocess.run(argv + [p for _, p in files], capture_output=True, text=True, check=False)
    if done.returncode < 0 or done.returncode > 127:
        raise PromptArenaError(f"git merge-file failed: {done.stderr.strip()}")
    return done.stdout


def save_draft(
    store: PromptStore,
    draft: Draft,
    message: str,
    *,
    name: str | None = None,
    branch: str | None = None,
) -> str:
    """Write the draft to ``prompts/<name>.prompt`` and commit that file alone; returns the new commit's sha.

    Other staged and unstaged changes stay as they were. The commit is made under the repository's git
    identity, or ``name`` where git has none. On a detached HEAD, ``branch`` names a new branch to commit on.

    Raises:
        DraftConflict: the file changed on disk since the draft was opened; nothing was written.
        SaveRefused: no message, a path outside ``prompts/``, a merge or rebase in progress, a detached HEAD
            without ``branch``, or a hook that rejected the commit (its output in ``output``); the file on disk
            and the index are as they were.
    """
    import git

    if not message.strip():
        raise SaveRefused("write a commit message to save the draft")
    rel = store.path_of(draft.name)  # refuses a name the prompt store does not accept
    target = (store.workdir / rel).resolve()
    if not target.is_relative_to(store.prompts_path) or target.parent != store.prompts_path:
        raise SaveRefused(f"{rel} is not a file directly under {store.prompts_path}: only prompt files are saved")
    state = repository_state(store)
    repo = store._repo
    if state is not None and not (branch and repo.head.is_detached and state.startswith("HEAD is detached")):
        raise SaveRefused(f"not saved: {state}")
    before = target.read_bytes() if target.is_file() else None
    now = before.decode("utf-8", errors="replace") if before is not None else None
    if now != draft.disk:
        raise DraftConflict(
            f"{rel} changed on disk since the draft was opened: compare the three texts and choose",
            draft.disk,
            draft.text,
            now,
        )
    env = _identity(repo, name)
    tracked = bool(repo.git.ls_files("--", rel).strip())
    if branch:
        try:
            repo.git.check_ref_format("--branch", branch)
        except git.GitCommandError:
            raise SaveRefused(f"{branch!r} is not a valid branch name: use letters, digits, '-', '_' and '/'") from None
        if branch in [h.name for h in repo.heads]:
            raise SaveRefused(f"a branch {branch!r} exists already: name a new branch")
    target.write_text(draft.text, encoding="utf-8")
    try:
        if not tracked:
            repo.git.add("--intent-to-add", "--", rel)
        if branch:
            repo.git.checkout("-b", branch)  # the index and the working tree stay as they are
        with repo.git.custom_environment(**env):
            repo.git.commit("--only", "-m", message, "--", rel)
    except git.GitCommandError as err:
        if before is None:
            target.unlink(missing_ok=True)
        else:
            target.write_bytes(before)
        if not tracked:
            repo.git.rm("--cached", "-q", "--ignore-unmatch", "--", rel)
        output = "\n".join(part for part in (_text(err.stdout), _text(err.stderr)) if part)
        raise SaveRefused(f"git did not commit {rel}; the draft is kept", output) from None
    discard_draft(store.workdir, draft.name)
    return repo.head.commit.hexsha


def _text(value: Any) -> str:
    value = value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")
    return value.removeprefix("\n  stdout: '").removeprefix("\n  stderr: '").removesuffix("'").strip()


def _identity(repo: Any, name: str | None) -> Mapping[str, str]:
    """Environment for the commit: nothing when git knows who commits, else the workbench's ``name``."""
    reader = repo.config_reader()
    has = reader.has_option("user", "name") or os.environ.get("GIT_AUTHOR_NAME")
    if has:
        return {}
    if not (name and name.strip()):
        raise SaveRefused(
            "git has no identity in this repository (git config user.name): type your name in the sidebar to save"
        )
    who = name.strip()
    email = reader.get_value("user", "email", "") if reader.has_option("user", "email") else ""
    return {
        "GIT_AUTHOR_NAME": who,
        "GIT_COMMITTER_NAME": who,
        "GIT_AUTHOR_EMAIL": str(email),
        "GIT_COMMITTER_EMAIL": str(email),
    }
