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

from promptarena.draft._kept import (
    EDITS,
    Draft,
    discard_draft,
    draft_version,
    edits_allowed,
    is_loopback,
    keep_draft,
    load_draft,
    open_draft,
)
from promptarena.draft._save import DraftConflict, SaveRefused, repository_state, save_draft, three_way
from promptarena.draft._try import (
    Problem,
    Selection,
    Tried,
    newest_commit,
    parse_selection,
    render_case,
    select_cases,
    try_draft,
    validate,
    warnings,
    wrong_cases,
)
from promptarena.repository import drafts_dir, read_draft

__all__ = [
    "EDITS",
    "discard_draft",
    "Draft",
    "draft_version",
    "drafts_dir",
    "DraftConflict",
    "edits_allowed",
    "is_loopback",
    "keep_draft",
    "load_draft",
    "newest_commit",
    "open_draft",
    "parse_selection",
    "read_draft",
    "Problem",
    "render_case",
    "repository_state",
    "save_draft",
    "SaveRefused",
    "select_cases",
    "Selection",
    "three_way",
    "Tried",
    "try_draft",
    "validate",
    "warnings",
    "wrong_cases",
]
