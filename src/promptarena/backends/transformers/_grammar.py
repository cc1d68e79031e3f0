"""Constrained decoding: a row whose request carries a ``response_format`` only ever picks tokens its JSON Schema
allows, so every answer parses and matches it (unless ``max_new_tokens`` cuts it short).

The grammar engine is llguidance: measured in the batched loop on the embedded model (benchmarks/
grammar_engines.py) it computed token masks fastest of the three maintained engines, and it has no
dependencies. A step first lets every row choose as usual; a constrained row's matcher then tries the chosen
token, and only the rows it refuses (rare once the model follows its prompt) get their token mask, masked
logits and a new choice, drawn with fresh noise so that a sample comes from the allowed tokens' distribution.
Each row has its own matcher and its own mask: its tokens never depend on the other rows of the batch. Rows
without a response format are not touched. Imported only once the model is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from promptarena.backends import cannot_constrain
from promptarena.errors import ConfigError, missing_dependency
from promptarena.response_format import schema_of

REDRAW = 1 << 40  # added to a row's step for the noise of a second choice, so that it is independent of the first
# Answers are written as Python's json.dumps writes them (and as few-shot examples usually are): the model's own
# choices then pass more often than with compact JSON.
_LAYOUT = {"whitespace_flexible": False, "key_separator": ": ", "item_separator": ", "}
Choose = Callable[[Any, Any], Any]  # (masked logits of some rows, their row indices) -> their tokens


@dataclass
class Constraint:
    """One row's grammar: its matcher, advanced by each token the row picks, and the grammars it came from."""

    matcher: Any
    grammars: Grammars


class Grammars:
    """The response formats of one model: compiled once each, and a fresh matcher for every row that asks."""

    def __init__(self, tokenizer: Any, vocab_size: int, eos_ids: frozenset[int]) -> None:
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.eos = min(eos_ids)
        self.eos_ids = eos_ids
        self._ll: Any = None
        self._tokens: Any = None
        self._compiled: dict[str, Any] = {}

    def constraint(self, response_format: str | None) -> Constraint | None:
        """The constraint of one row's answer; ``None`` for a row that is free."""
        if not response_format:
            return None
        ll = self._engine()
        grammar = self._compiled.get(response_format)
        if grammar is None:
            schema = schema_of(response_format) or {"type": "object"}
            grammar = self._compiled[response_format] = ll.LLMatcher.grammar_from_json_schema(schema, defaults=_LAYOUT)
        matcher = ll.LLMatcher(self._tokens, grammar)
        if matcher.is_error():  # checked before any model call (``response_format_problem``); this tokenizer too
            raise ConfigError(cannot_constrain("transformers", matcher.get_error()))
        return Constraint(matcher, self)

    def _engine(self) -> Any:
        if self._ll is None:
            try:
                import llguidance
                import llguidance.hf
                import llguidance.torch
            except ImportError as err:
                raise missing_dependency("constrained decoding (a prompt's response_format)", "local", err) from err
            self._tokens = llguidance.hf.from_tokenizer(
                self.tokenizer, n_vocab=self.vocab_size, eos_token=sorted(self.eos_ids)
            )
            self._ll = llguidance
        return self._ll


def constrain(rows: Sequence[Any], logits: Any, chosen: Any, choose: Choose) -> Any:
    """The chosen tokens once every constrained row's is one its grammar allows: each matcher takes its row's
    token, or the row chooses again among the allowed tokens (end of sequence once its answer is whole)."""
    tokens = chosen.tolist()
    again: list[int] = []
    grammars: Grammars | None = None
    for i, row in enumerate(rows):
        if row.grammar is None:
            continue
        matcher, grammars = row.grammar.matcher, row.grammar.grammars
        if matcher.is_stopped():  # the answer is whole: it ends here
            chosen[i] = grammars.eos
        elif matcher.try_consume_tokens([tokens[i]]) != 1:
            again.append(i)
    if not again or grammars is None:
        return chosen
    ll = grammars._engine()
    mask = ll.torch.allocate_token_bitmask(len(again), grammars.vocab_size)
    for j, i in enumerate(again):
        ll.torch.fill_next_token_bitmask(rows[i].grammar.matcher, mask, j)
    idx = torch.tensor(again, device=logits.device)
    picked = choose(masked(logits.index_select(0, idx), mask.to(logits.device)), idx)
    for i, token in zip(again, picked.tolist(), strict=True):
        rows[i].grammar.matcher.consume_token(token)
    chosen[idx] = picked
    return chosen


def masked(logits: Any, bitmask: Any) -> Any:
    """``logits`` with ``-inf`` wherever the packed ``bitmask`` (32 tokens to an int32, low bit first) says no."""
    bits = torch.arange(32, dtype=torch.int32, device=bitmask.device)
    allowed = (bitmask.unsqueeze(-1) >> bits).bitwise_and_(1).view(bitmask.shape[0], -1)[:, : logits.shape[-1]]
    return logits.masked_fill(allowed == 0, float("-inf"))
