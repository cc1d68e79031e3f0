"""The grammar step of the decode loop, with the embedded model's tokenizer and llguidance but no weights: a
constrained row's refused choice is replaced by an allowed one, a whole answer ends, a free row is untouched."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from promptarena.backends.transformers._grammar import Grammars, constrain, masked  # noqa: E402
from promptarena.hashing import canonical_json  # noqa: E402

FORMAT = canonical_json(
    {
        "type": "json_schema",
        "json_schema": {
            "name": "n",
            "schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
        },
    }
)


@dataclass
class Row:
    grammar: Any = None


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    from promptarena.backends.transformers import resolve_model

    return AutoTokenizer.from_pretrained(str(resolve_model("default").path))


def greedy(logits: Any, idx: Any) -> Any:
    return logits.max(dim=-1).indices


def test_masked_keeps_exactly_the_tokens_whose_bits_are_set() -> None:
    bitmask = torch.zeros((1, 2), dtype=torch.int32)
    bitmask[0, 0] = (1 << 3) - (1 << 31)  # tokens 3 and 31: the int32's sign bit is a token too
    bitmask[0, 1] = 1 << 4  # token 36
    out = masked(torch.zeros((1, 40)), bitmask)
    assert torch.isfinite(out[0]).nonzero().flatten().tolist() == [3, 31, 36]


def test_a_constrained_row_writes_its_schema_and_ends_and_a_free_row_is_untouched(tokenizer: Any) -> None:
    eos = tokenizer.eos_token_id
    grammars = Grammars(tokenizer, len(tokenizer), frozenset({eos}))
    rows = [Row(grammars.constraint(FORMAT)), Row(grammars.constraint(None))]
    assert rows[1].grammar is None
    prose = tokenizer.encode("Sure", add_special_tokens=False)[0]
    close = tokenizer.encode("}", add_special_tokens=False)[0]
    written: list[list[int]] = [[], []]
    for _ in range(12):
        logits = torch.zeros((2, len(tokenizer)))
        logits[:, prose] = 10.0  # both rows would rather write prose, and close whatever they write
        logits[:, [close, eos]] = 5.0
        if written[0] and written[0][-1] == eos:
            break
        chosen = constrain(rows, logits, logits.max(dim=-1).indices, greedy)
        for row, token in zip(written, chosen.tolist(), strict=True):
            row.append(token)
    assert written[0][-1] == eos, tokenizer.decode(written[0])
    assert json.loads(tokenizer.decode(written[0][:-1]))["n"] is not None
    assert set(written[1]) == {prose}  # the free row kept its own choice at every step
