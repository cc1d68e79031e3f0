"""Who may edit, and the draft being edited: kept under ``.promptarena/drafts/`` until saved or discarded, and the
tried texts kept by their content as the versions ``NAME@draft-<blob>``."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from promptarena.gitstore import DRAFT, PROMPT_SUFFIX, PromptStore, PromptVersion, blob_sha
from promptarena.repository import drafts_dir

# --- who may edit ----------------------------------------------------------------------------------------

EDITS = "PROMPTARENA_EDITS"
"""The environment variable through which `evals ui` lets the workbench write prompt files (``1``)."""


def is_loopback(host: str) -> bool:
    """True for an address that only this machine reaches: ``localhost``, 127.0.0.0/8 or ::1."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def edits_allowed() -> bool:
    """Whether this workbench may write prompt files: `evals ui` says so for a loopback address or ``--allow-edits``."""
    return os.environ.get(EDITS) == "1"


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


def open_draft(prompts: PromptStore, name: str, rev: str = "worktree") -> Draft:
    """A new draft of ``name`` from its working-tree file (``worktree``) or any revision's text."""
    name = prompts.require(name)
    disk_file = prompts.workdir / prompts.path_of(name)
    disk = disk_file.read_text(encoding="utf-8") if disk_file.is_file() else None
    if rev == "worktree" and disk is not None:
        return Draft(name, disk, disk, rev)
    if rev == "worktree":  # deleted in the working tree: start from the newest commit's text
        return Draft(name, prompts.resolve(name).text, disk, "HEAD")
    return Draft(name, prompts.resolve(f"{name}@{rev}").text, disk, rev)


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
    for folder in path.parents:  # keep `.promptarena/` out of `git status`, whatever made it first
        if folder.name == ".promptarena":
            ignore_results_folder(folder)
            break
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def draft_version(prompts: PromptStore, name: str, text: str) -> PromptVersion:
    """Keep ``text`` by its content and return it as the version ``NAME@draft-<blob>``: the same text is the same
    version (and so the same cached results) every time, and the commit that saves it has the same blob."""
    data = text.encode("utf-8")
    blob = blob_sha(data)
    path = drafts_dir(prompts.workdir) / prompts.require(name) / f"{blob}{PROMPT_SUFFIX}"
    if not path.is_file():
        _write_atomic(path, text)
    return prompts.resolve(f"{name}@{DRAFT}{blob[:7]}")
