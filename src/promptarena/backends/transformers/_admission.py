"""Admission: which waiting requests join the batch at a step, and how their prompts are prefilled.

The scheduler asks :func:`admit` before each step and executes its plain answer (an :class:`Admission` of
ints and lists): pop the groups it names from the queue (:func:`take`), answer the rows that have nothing to
generate, and prefill each cluster of prompts, its shared head once. Deciding needs no model and imports no
torch, so the policy is tested on its own, as the schedulers of transformers and vLLM are.

Requests that differ only in ``sample_index`` form one :class:`Group`, prefilled once; groups wait in order
of prompt length (less padding).
"""

from __future__ import annotations

import hashlib
import itertools
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptarena.types import GenerationRequest

MIN_SHARED_PREFIX = 8  # a shorter common head is not worth a prefill of its own
CLUSTER_GAIN = 32  # tokens of a head of their own that earn a cluster of prompts a prefill apart
Encode = Callable[[GenerationRequest], list[int]]  # a request's prompt tokens


@dataclass
class Row:
    """One request, waiting or being decoded."""

    index: int
    request: GenerationRequest
    prompt_len: int
    row_key: bytes
    started: float = 0.0
    tokens: list[int] = field(default_factory=list)  # kept only for rows with stop strings
    top: list[Any] = field(default_factory=list)  # per step, for rows that ask: see _sampling.keep_top
    grammar: Any = None  # the row's response format, for rows that have one: see _grammar


@dataclass
class Group:
    """Requests with the same prompt and parameters: prefilled once."""

    prompt_ids: list[int]
    rows: list[Row]


@dataclass(frozen=True)
class Prefill:
    """Groups prefilled together: positions in the admitted groups, and the length of the head they share
    (computed once, kept for the next admission; 0 for none)."""

    groups: list[int]
    head: int


@dataclass(frozen=True)
class Admission:
    """What joins the batch at one step; no groups means that the batch decodes a step instead.

    Attributes:
        rows: Rows taken from each of the first waiting groups, in queue order; only the last one may be
            less than its whole group (split when nothing else fits).
        skip: Request indices of taken rows with nothing to generate (``max_new_tokens <= 0``).
        prefills: The prefills of the taken groups with a row to generate, in the order they run.
    """

    rows: list[int] = field(default_factory=list)
    skip: list[int] = field(default_factory=list)
    prefills: list[Prefill] = field(default_factory=list)


def group_requests(requests: Sequence[GenerationRequest], encode: Encode) -> list[Group]:
    """Group requests sharing a prompt (shared prefill), sorted by prompt length (less padding)."""
    by_key: dict[str, Group] = {}
    for i, request in enumerate(requests):
        key = request.prompt_key()
        group = by_key.get(key)
        if group is None:
            group = by_key[key] = Group(prompt_ids=encode(request), rows=[])
        row_key = hashlib.sha256(f"{key}:{request.sample_index}".encode()).digest()
        group.rows.append(Row(i, request, len(group.prompt_ids), row_key))
    return sorted(by_key.values(), key=lambda g: len(g.prompt_ids))


def admit(waiting: Sequence[Group], active: int, batch_size: int) -> Admission:
    """Whether groups join a batch of ``active`` rows now, and which.

    Rows join while fewer than ``batch_size`` run, and only in numbers worth a prefill (a quarter batch, or
    all that wait); a short tail (up to a quarter batch more) joins at once rather than costing a wave of
    its own, since a step costs nearly the same for 64 rows as for 80. Whole groups are taken in order; a
    group is split only when nothing else fits.
    """
    pending = sum(len(g.rows) for g in waiting)
    limit = batch_size if active + pending > batch_size + batch_size // 4 else batch_size * 2
    free = min(limit - active, pending)
    if not pending or (active and free < max(1, min(batch_size // 4, pending))):
        return Admission()
    rows: list[int] = []
    for group in waiting:
        if free <= 0:
            break
        if len(group.rows) <= free:
            rows.append(len(group.rows))
            free -= len(group.rows)
        else:
            if not rows:
                rows.append(free)
            break
    skip: list[int] = []
    live: list[int] = []  # positions of the taken groups with a row to generate
    for position, (group, n) in enumerate(zip(waiting, rows, strict=False)):
        empty = [r.index for r in group.rows[:n] if r.request.params.max_new_tokens <= 0]
        skip += empty
        if len(empty) < n:
            live.append(position)
    prompts = [waiting[p].prompt_ids for p in live]
    prefills = [
        Prefill([live[i] for i in cluster], shared_head([prompts[i] for i in cluster]))
        for cluster in prefix_clusters(prompts)
        if cluster
    ]
    return Admission(rows, skip, prefills)


def take(waiting: deque[Group], rows: Sequence[int]) -> list[Group]:
    """Pop the first groups of ``waiting``, ``rows`` rows of each, as an :class:`Admission` says (a group taken in
    part keeps its other rows, first in the queue)."""
    taken: list[Group] = []
    for n in rows:
        group = waiting[0]
        if n < len(group.rows):
            taken.append(Group(group.prompt_ids, group.rows[:n]))
            group.rows = group.rows[n:]
        else:
            taken.append(waiting.popleft())
    return taken


def prefix_clusters(prompts: Sequence[Sequence[int]]) -> list[list[int]]:
    """Split prompts (by position) into clusters that share a head at least ``CLUSTER_GAIN`` tokens longer
    than the head all of them share (one more prefill pays for itself then); the others form one cluster."""
    positions = list(range(len(prompts)))
    if len(prompts) < 4:
        return [positions]
    everyone = common_prefix(prompts)
    ordered = sorted(positions, key=lambda i: prompts[i])
    runs: list[list[int]] = [[ordered[0]]]
    for prev, i in itertools.pairwise(ordered):
        if common_prefix([prompts[prev], prompts[i]]) >= everyone + CLUSTER_GAIN:
            runs[-1].append(i)
        else:
            runs.append([i])
    clusters = [run for run in runs if len(run) > 1]
    if not clusters:
        return [positions]
    alone = {run[0] for run in runs if len(run) == 1}
    rest = [i for i in positions if i in alone]
    return clusters + [rest] if rest else clusters


def shared_head(prompts: Sequence[Sequence[int]]) -> int:
    """Tokens at the start of every prompt that are prefilled once for all of them (each keeps one of its own)."""
    if len(prompts) < 2:
        return 0
    shared = min(common_prefix(prompts), min(len(p) for p in prompts) - 1)
    return shared if shared >= MIN_SHARED_PREFIX else 0


def common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of ``seqs``."""
    n = 0
    for column in zip(*seqs, strict=False):
        if any(t != column[0] for t in column):
            break
        n += 1
    return n
