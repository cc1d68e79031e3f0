"""The git-backed prompt store: every commit that changed `prompts/<name>.prompt` is a version of it.

A version is addressed as ``NAME@REV`` (any git revision), ``NAME@worktree`` (uncommitted edits) or
``NAME@draft-<blob>`` (a draft tried from the workbench or `evals try`, kept by its content under
``.promptarena/drafts/``), and identified by its git blob sha, so that equal texts are one version for the
cache. History is read with one ``git log --follow`` per prompt and blob contents through gitpython's
persistent ``cat-file`` process, because the UI lists and logs prompts on every page load. User strings never
reach git as options: a revision starting with ``-`` is refused, and ``--end-of-options`` / ``--`` / literal
pathspecs guard the rest.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import git

from promptarena.errors import ConfigError, did_you_mean
from promptarena.promptfile import PromptFile, parse_prompt
from promptarena.repository import DRAFT, read_draft, repository_root
from promptarena.repository import open_repo as _open_repo
from promptarena.yamlfile import decode_text

__all__ = ["DRAFT", "WORKTREE", "PROMPT_SUFFIX", "PromptVersion", "PromptStore", "blob_sha", "repository_root"]

WORKTREE = "worktree"
PROMPT_SUFFIX = ".prompt"
_RECORD, _FIELD = "\x1e", "\x1f"
_NULL_SHA = "0" * 40


@dataclass(frozen=True)
class PromptVersion:
    """One version of a prompt: its file's bytes at a commit, or in the worktree (``commit is None``). Its ``text``
    is decoded when read: a commit whose file is not UTF-8 keeps its place in the history, bad input only if read."""

    name: str
    rev: str
    commit: str | None
    blob: str
    path: str
    content: bytes = field(repr=False)
    date: str | None = None
    author: str | None = None
    message: str | None = None
    dirty: bool = False

    @cached_property
    def text(self) -> str:
        if self.commit is None:
            return decode_text(self.content, self.path)
        fix = "commit the file again as UTF-8 and leave this version out (`evals run --rev` or the suite's `versions:`)"
        return decode_text(self.content, f"{self.path}@{self.commit[:7]}", fix)

    @property
    def label(self) -> str:
        """Short commit sha, ``draft-<blob>`` for a draft, or ``"worktree"`` for uncommitted text."""
        if self.commit:
            return self.commit[:7]
        return self.rev if self.rev.startswith(DRAFT) else WORKTREE

    @property
    def spec(self) -> str:
        """The canonical ``name@label`` that resolves back to this version."""
        return f"{self.name}@{self.label}"


def blob_sha(data: bytes) -> str:
    """The git blob sha of ``data``, as ``git hash-object`` computes it (without filters)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class PromptStore:
    """Prompt versions read from the git repository that contains ``root`` (any path inside it).

    ``prompts_dir`` is relative to the repository's top folder. Close it (or use it as a context manager) to
    stop its git helper processes before garbage collection does."""

    def __init__(self, root: Path | str = ".", prompts_dir: str = "prompts") -> None:
        self._repo = _open_repo(root)
        self._repo.git.update_environment(GIT_LITERAL_PATHSPECS="1")
        self.workdir = Path(str(self._repo.working_tree_dir)).resolve()
        self.prompts_path = (self.workdir / prompts_dir).resolve()
        if not self.prompts_path.is_relative_to(self.workdir):
            raise ConfigError(f"the prompts folder {str(self.prompts_path)!r} is outside the repository {self.workdir}")
        rel = self.prompts_path.relative_to(self.workdir).as_posix()
        if rel != "." and (self.prompts_path / ".git").exists():
            raise ConfigError(
                f"{rel}/ is a git repository of its own (a submodule): the commits of {self.workdir} record only "
                f"its commit, not its .prompt files, so they have no versions here; keep the prompts in this "
                f"repository, or read their history in theirs: `evals prompts --repo {rel} --prompts-dir . log NAME`"
            )
        self._prefix = "" if rel == "." else rel + "/"
        self._log_cache: dict[tuple[str, str], list[PromptVersion]] = {}
        self._load_cache: dict[tuple[str, str, str], PromptFile] = {}

    # --- lifecycle --------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop git helper processes held by this store."""
        self._repo.close()

    def __enter__(self) -> PromptStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- queries ----------------------------------------------------------------------------------------

    @cached_property
    def shallow(self) -> bool:
        """True in a shallow clone, where ``log`` stops at the shallow boundary."""
        return self._repo.git.rev_parse("--is-shallow-repository").strip() == "true"

    def path_of(self, name: str) -> str:
        """The repo-relative path of prompt ``name`` in the worktree and at HEAD."""
        return f"{self._prefix}{_check_name(name)}{PROMPT_SUFFIX}"

    def list_prompts(self) -> list[str]:
        """Names of the prompts in the worktree, plus those at HEAD that were deleted in the worktree."""
        names = set()
        if self.prompts_path.is_dir():
            names.update(p.stem for p in self.prompts_path.glob(f"*{PROMPT_SUFFIX}") if p.is_file())
        head = self._head_commit()
        if head is not None:
            try:
                tree = head.tree / self._prefix.rstrip("/") if self._prefix else head.tree
            except KeyError:
                tree = None
            if isinstance(tree, git.Tree):
                names.update(Path(b.name).stem for b in tree.blobs if b.name.endswith(PROMPT_SUFFIX))
        return sorted(n for n in names if _is_valid_name(n))

    def require(self, name: str) -> str:
        """Normalize ``name`` (``qa``, ``qa.prompt``) and check the prompt exists now or in history."""
        name = _spec_name(name)
        if name in self.list_prompts() or self.log(name):
            return name
        raise self._unknown(name)

    def log(self, name: str, limit: int | None = None) -> list[PromptVersion]:
        """Committed versions of ``name``, newest first: every commit that changed it, renames followed.

        In a shallow clone the history stops at the shallow boundary (see ``shallow``).
        """
        path = self.path_of(name)
        head = self._head_commit()
        if head is None:
            return []
        key = (head.hexsha, name)
        if key not in self._log_cache:
            self._log_cache[key] = self._read_log(name, path)
        versions = self._log_cache[key]
        return list(versions if limit is None else versions[:limit])

    def is_dirty(self, name: str) -> bool:
        """True when the worktree file differs from HEAD: edited, new (untracked) or deleted."""
        path = self.path_of(name)
        data = self._worktree_bytes(path)
        head_blob = self._blob_at(self._head_commit(), path)
        if data is None:
            return head_blob is not None
        return head_blob is None or head_blob.hexsha != blob_sha(data)

    def resolve(self, spec: str) -> PromptVersion:
        """The version that ``NAME``, ``NAME@REV`` or ``NAME@worktree`` designates.

        A bare ``NAME`` is the worktree text when it has uncommitted changes, otherwise HEAD's.
        """
        name, sep, rev = spec.partition("@")
        name = _spec_name(name)
        if sep and not rev:
            raise ConfigError(f"{spec!r} has an empty revision after '@': write NAME@REV or NAME@worktree")
        if not sep:
            version = self._worktree_version(name) if self.is_dirty(name) else None
            if version is None and self._head_commit() is not None:
                version = self._version_at(name, "HEAD", self._head_commit(), spec)
            if version is None:
                version = self._worktree_version(name)
            if version is None:
                raise self._unknown(name)
            return version
        if rev.startswith(DRAFT):
            return self._draft_version(name, rev)
        if rev == WORKTREE:
            version = self._worktree_version(name)
            if version is None:
                if name in self.list_prompts():
                    raise ConfigError(
                        f"prompt {name!r} has no file in the worktree ({self.path_of(name)} was deleted): "
                        f"use {name}@HEAD for the committed text"
                    )
                raise self._unknown(name)
            return version
        commit = self._rev_parse(rev, spec)
        version = self._version_at(name, rev, commit, spec)
        if version is None:
            known = name in self.list_prompts() or bool(self.log(name))
            if not known:
                raise self._unknown(name)
            raise ConfigError(
                f"prompt {name!r} does not exist at revision {rev!r} ({commit.hexsha[:7]}): "
                f"`evals prompts log {name}` lists the commits that have it"
            )
        return version

    def default_versions(self, name: str, last: int = 3) -> list[PromptVersion]:
        """The versions to compare by default: the worktree if it has changes, HEAD, then older commits.

        Equal texts (same blob) appear once, newest first; at most ``last`` versions.
        """
        versions: list[PromptVersion] = []
        if self.is_dirty(name):
            worktree = self._worktree_version(name)
            if worktree is not None:
                versions.append(worktree)
        head = self._head_commit()
        if head is not None:
            at_head = self._version_at(name, "HEAD", head, name)
            history = self.log(name)
            if at_head is not None and (not history or history[0].blob != at_head.blob):
                versions.append(at_head)
            versions.extend(history)
        if not versions:
            if self._worktree_bytes(self.path_of(name)) is not None:
                versions.append(self._worktree_version(name))  # type: ignore[arg-type]
            else:
                raise self._unknown(name)
        seen: set[str] = set()
        unique = []
        for version in versions:
            if version.blob not in seen:
                seen.add(version.blob)
                unique.append(version)
        return unique[: max(last, 0)]

    def version_at(self, name: str, rev: str) -> PromptVersion | None:
        """The prompt at revision ``rev``, or ``None`` when it did not exist then (an unknown rev is an error)."""
        commit = self._rev_parse(rev, f"{name}@{rev}")
        return self._version_at(self.require(name), rev, commit, f"{name}@{rev}")

    def changed_since(self, rev: str, paths: list[Path]) -> bool:
        """True when any of the files (absolute paths in the worktree) differs from its text at ``rev``."""
        commit = self._rev_parse(rev, rev)
        for path in paths:
            rel = Path(path).resolve().relative_to(self.workdir).as_posix()
            blob = self._blob_at(commit, rel)
            data = self._worktree_bytes(rel)
            if (blob is None) != (data is None) or (blob is not None and blob.hexsha != blob_sha(data or b"")):
                return True
        return False

    def load(self, version: PromptVersion) -> PromptFile:
        """Parse a version's text; errors name its path and label (``prompts/qa.prompt@abc1234:4: ...``)."""
        source = version.path if version.commit is None else f"{version.path}@{version.label}"
        key = (version.blob, version.name, source)
        if key not in self._load_cache:
            self._load_cache[key] = parse_prompt(version.text, version.name, source)
        return self._load_cache[key]

    def diff(self, a: PromptVersion | str, b: PromptVersion | str) -> str:
        """Unified diff from ``a`` to ``b`` with ``name@label`` file headers; empty when the texts match."""
        va = a if isinstance(a, PromptVersion) else self.resolve(a)
        vb = b if isinstance(b, PromptVersion) else self.resolve(b)
        lines = difflib.unified_diff(_lines(va.text), _lines(vb.text), fromfile=va.spec, tofile=vb.spec, lineterm="\n")
        return "".join(lines)

    # --- internals --------------------------------------------------------------------------------------

    def _head_commit(self) -> git.Commit | None:
        try:
            return self._repo.head.commit
        except ValueError:  # no commits yet
            return None

    def _rev_parse(self, rev: str, spec: str) -> git.Commit:
        if rev.startswith("-"):
            raise ConfigError(f"revision {rev!r} in {spec!r} starts with '-': a revision cannot be an option")
        try:
            sha = self._repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
        except git.GitCommandError:
            if self._head_commit() is None:  # a new repository, or a new (orphan) branch: other branches may resolve
                where = "repository" if not self._repo.git.rev_list("-n1", "--all") else "current branch"
                raise ConfigError(
                    f"the {where} has no commits yet, so {spec!r} cannot be resolved: commit the prompt, "
                    "or use NAME@worktree"
                ) from None
            raise ConfigError(
                f"unknown revision {rev!r} in {spec!r}: use a commit sha, tag, branch or HEAD~N"
                + (" (this is a shallow clone: run `git fetch --unshallow`)" if self.shallow else "")
            ) from None
        return self._repo.commit(sha.strip())

    def _blob_at(self, commit: git.Commit | None, path: str) -> git.Blob | None:
        if commit is None:
            return None
        try:
            obj = commit.tree / path
        except KeyError:
            return None
        return obj if isinstance(obj, git.Blob) else None

    def _version_at(self, name: str, rev: str, commit: git.Commit, spec: str) -> PromptVersion | None:
        """The prompt at ``commit``, under its current path or, if renamed since, a former one."""
        paths = [self.path_of(name)]
        blob = self._blob_at(commit, paths[0])
        if blob is None:
            for version in self.log(name):
                if version.path not in paths:
                    paths.append(version.path)
                    blob = self._blob_at(commit, version.path)
                    if blob is not None:
                        break
        if blob is None:
            return None
        # A version is named by the commit that made this text, not by a later commit that left it alone:
        # `qa@HEAD` and the log's newest entry are then the same version, with the same label.
        made = next(
            (
                v.commit
                for v in self.log(name)
                if v.blob == blob.hexsha and v.commit and self._repo.is_ancestor(v.commit, commit.hexsha)
            ),
            None,
        )
        if made and made != commit.hexsha:
            commit = self._repo.commit(made)
        return PromptVersion(
            name=name,
            rev=rev,
            commit=commit.hexsha,
            blob=blob.hexsha,
            path=blob.path,
            content=self._bytes(blob.hexsha),
            date=commit.authored_datetime.isoformat(),
            author=commit.author.name,
            message=commit.summary if isinstance(commit.summary, str) else commit.summary.decode(),
        )

    def _worktree_bytes(self, path: str) -> bytes | None:
        file = self.workdir / path
        return file.read_bytes() if file.is_file() else None

    def _worktree_version(self, name: str) -> PromptVersion | None:
        path = self.path_of(name)
        data = self._worktree_bytes(path)
        if data is None:
            return None
        blob = blob_sha(data)
        head_blob = self._blob_at(self._head_commit(), path)
        return PromptVersion(
            name=name,
            rev=WORKTREE,
            commit=None,
            blob=blob,
            path=path,
            content=data,
            dirty=head_blob is None or head_blob.hexsha != blob,
        )

    def _draft_version(self, name: str, rev: str) -> PromptVersion:
        """A draft kept by its content under ``.promptarena/drafts/`` (see ``promptarena.draft``)."""
        data, path = read_draft(self.workdir, name, rev), self.path_of(name)
        blob = blob_sha(data)
        return PromptVersion(name, DRAFT + blob[:7], None, blob, path, data, dirty=True)

    def _read_log(self, name: str, path: str) -> list[PromptVersion]:
        """One ``git log --follow --raw`` for the whole history of one prompt.

        ``--follow`` also follows copies (a new prompt copied from another); the history stops at the copy.
        """
        out = self._repo.git.log(
            "--follow",
            "--raw",
            "--no-abbrev",
            "-z",
            "--no-color",
            f"--format={_RECORD}%H{_FIELD}%aI{_FIELD}%an{_FIELD}%s",
            "HEAD",
            "--",
            path,
        )
        versions = []
        for record in out.split(_RECORD)[1:]:
            header, _, raw = record.partition("\0")
            sha, date, author, subject = header.split(_FIELD, 3)
            tokens = raw.lstrip("\n").split("\0")
            if not tokens or not tokens[0].startswith(":"):
                continue  # a merge without its own diff
            meta = tokens[0].split()
            new_blob, status = meta[3], meta[4]
            file_path = tokens[2] if status[:1] in ("R", "C") and len(tokens) > 2 else tokens[1]
            if new_blob == _NULL_SHA:
                continue  # the commit that deleted it
            versions.append(
                PromptVersion(
                    name=name,
                    rev=sha,
                    commit=sha,
                    blob=new_blob,
                    path=file_path,
                    content=self._bytes(new_blob),
                    date=date,
                    author=author,
                    message=subject,
                )
            )
            if status.startswith("C"):
                break  # copied from another prompt: older history belongs to that one
        return versions

    def _bytes(self, blob: str) -> bytes:
        return self._repo.odb.stream(bytes.fromhex(blob)).read()  # a committed prompt file's

    def _unknown(self, name: str) -> ConfigError:
        known = self.list_prompts()
        where = self.prompts_path.relative_to(self.workdir).as_posix() if self._prefix else "."
        listing = f"; known prompts: {', '.join(known)}" if known else f"; there are no prompts in {where}/"
        return ConfigError(f"unknown prompt {name!r}{did_you_mean(name, known)}{listing}")


def _is_valid_name(name: str) -> bool:
    """A prompt name is a plain file stem: no path parts, no git pathspec or glob syntax, no '@'."""
    return bool(name) and not name.startswith((".", "-", ":")) and not any(c in name for c in "/\\\0@*?[]")


def _check_name(name: str) -> str:
    if not _is_valid_name(name):
        raise ConfigError(f"invalid prompt name {name!r}: use the file's stem, as `qa` for prompts/qa.prompt")
    return name


def _spec_name(name: str) -> str:
    """Accept ``qa``, ``qa.prompt`` or ``prompts/qa.prompt`` for the prompt ``qa``."""
    if name.endswith(PROMPT_SUFFIX):
        name = Path(name).name[: -len(PROMPT_SUFFIX)]
    return _check_name(name)


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines
