"""Admission in the transformers backend: which waiting requests join the batch, and how they are prefilled.

The decision is plain data computed without a model, so these tests import no torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import deque

from promptarena.backends.transformers._admission import (
    CLUSTER_GAIN,
    MIN_SHARED_PREFIX,
    Admission,
    Group,
    Prefill,
    admit,
    group_requests,
    prefix_clusters,
    shared_head,
    take,
)
from tests.support.generation import ask


def waiting(*sizes: int, prompt: list[int] | None = None, **params: object) -> list[Group]:
    """Groups of ``sizes`` rows each, every group a prompt of its own (``prompt`` and a distinct last token)."""
    requests = [ask(f"q{g}", sample=s, **params) for g, n in enumerate(sizes) for s in range(n)]
    prompts = {f"q{g}": [*(prompt or []), g] for g in range(len(sizes))}
    groups = group_requests(requests, lambda r: prompts[r.messages[0].content])
    return sorted(groups, key=lambda g: g.prompt_ids[-1])


def test_admission_imports_no_torch() -> None:
    code = textwrap.dedent(
        """
        import sys
        from promptarena.backends.transformers._admission import Group, admit, group_requests
        from promptarena.types import GenerationRequest, GenParams, Message

        request = GenerationRequest((Message("user", "hi"),), GenParams())
        assert admit(group_requests([request], lambda r: [1, 2, 3]), 0, 4).rows == [1]
        assert "torch" not in sys.modules, "deciding an admission imported torch"
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_samples_of_one_prompt_are_one_group_waiting_shortest_first() -> None:
    requests = [ask("long", sample=0), ask("short"), ask("long", sample=1), ask("long", sample=1, temperature=0.5)]
    groups = group_requests(requests, lambda r: [7] * (5 if r.messages[0].content == "long" else 2))
    assert [len(g.prompt_ids) for g in groups] == [2, 5, 5]
    assert [[r.index for r in g.rows] for g in groups] == [[1], [0, 2], [3]]
    assert groups[1].rows[0].prompt_len == 5
    keys = [r.row_key for g in groups for r in g.rows]
    assert len(set(keys)) == 4  # a sample's noise is its own: no two rows share a key


def test_an_empty_batch_takes_whole_groups_up_to_its_size() -> None:
    assert admit(waiting(3, 3, 5), active=0, batch_size=8).rows == [3, 3]  # the third group would not fit
    assert admit(waiting(3, 3), active=0, batch_size=8) == Admission([3, 3], [], [Prefill([0, 1], 0)])


def test_a_group_is_split_only_when_nothing_else_fits() -> None:
    assert admit(waiting(20, 1), active=0, batch_size=8).rows == [8]
    assert admit(waiting(2, 20), active=0, batch_size=8).rows == [2]  # the big group waits for the next wave


def test_a_short_tail_joins_at_once_rather_than_costing_a_wave() -> None:
    assert admit(waiting(5, 5), active=0, batch_size=8).rows == [5, 5]  # 10 rows: within a quarter over 8
    assert admit(waiting(5, 6), active=0, batch_size=8).rows == [5]  # 11 rows: two waves


def test_a_running_batch_admits_only_when_a_quarter_of_it_is_free() -> None:
    assert admit(waiting(4, 4, 4), active=7, batch_size=8) == Admission()  # 1 free row: decode a step
    assert admit(waiting(1, 1, 1, 1, 1), active=6, batch_size=8).rows == [1, 1]  # 2 free rows: a quarter
    assert admit(waiting(1), active=7, batch_size=8).rows == [1]  # all that waits joins the tail
    assert admit([], active=3, batch_size=8) == Admission()


def test_rows_with_nothing_to_generate_are_answered_not_prefilled() -> None:
    groups = waiting(2, 1) + waiting(1, max_new_tokens=0)
    admission = admit(groups, active=0, batch_size=8)
    assert admission.rows == [2, 1, 1]
    assert admission.skip == [groups[2].rows[0].index]
    assert admission.prefills == [Prefill([0, 1], 0)]
    assert admit(waiting(2, max_new_tokens=0), active=0, batch_size=8) == Admission([2], [0, 1], [])


def test_prompts_with_a_head_of_their_own_are_prefilled_in_clusters() -> None:
    template = list(range(10))  # what every prompt shares
    heads = [template + [100 + h] * (CLUSTER_GAIN + 5) for h in range(3)]  # three versions' instructions
    prompts = [head + [1000 + q] for q in range(3) for head in heads] + [template + [7, 8]]
    clusters = prefix_clusters(prompts)
    assert sorted(len(c) for c in clusters) == [1, 3, 3, 3]
    assert sorted(i for c in clusters for i in c) == list(range(len(prompts)))
    for cluster in clusters[:-1]:
        assert len({tuple(prompts[i][: len(heads[0])]) for i in cluster}) == 1
    assert clusters[-1] == [9]  # the prompt with no head of its own goes alone, last
    # prompts that share only one head stay one cluster, in their order
    assert prefix_clusters([heads[0] + [q] for q in range(5)]) == [[0, 1, 2, 3, 4]]
    assert prefix_clusters([heads[0], heads[1]]) == [[0, 1]]  # too few prompts to pay for a second prefill


def test_an_admission_prefills_each_cluster_with_its_shared_head() -> None:
    template = list(range(10))
    heads = [template + [100 + h] * (CLUSTER_GAIN + 5) for h in range(2)]
    prompts = [head + [1000 + q] for head in heads for q in range(2)]
    groups = group_requests([ask(str(i)) for i in range(4)], lambda r: prompts[int(r.messages[0].content)])
    admission = admit(groups, active=0, batch_size=8)
    assert sorted(sorted(groups[i].prompt_ids[-1] for i in p.groups) for p in admission.prefills) == [
        [1000, 1001],
        [1000, 1001],
    ]
    assert [p.head for p in admission.prefills] == [len(heads[0])] * 2


def test_a_shared_head_is_long_enough_to_pay_and_leaves_each_prompt_a_token() -> None:
    head = list(range(MIN_SHARED_PREFIX))
    assert shared_head([head + [1], head + [2]]) == MIN_SHARED_PREFIX
    assert shared_head([head[:-1] + [1], head[:-1] + [2]]) == 0  # too short to prefill apart
    assert shared_head([head + [1], head + [1]]) == MIN_SHARED_PREFIX  # one token of each prompt stays its own
    assert shared_head([head + [1]]) == 0


def test_taking_an_admission_pops_its_groups_and_leaves_a_split_groups_rest_first() -> None:
    queue = deque(waiting(20, 1))
    (part,) = take(queue, admit(queue, active=0, batch_size=8).rows)
    assert [r.index for r in part.rows] == list(range(8))
    assert [len(g.rows) for g in queue] == [12, 1] and queue[0].rows[0].index == 8
    assert part.prompt_ids == queue[0].prompt_ids
    taken = take(queue, [12, 1])
    assert [len(g.rows) for g in taken] == [12, 1] and not queue
