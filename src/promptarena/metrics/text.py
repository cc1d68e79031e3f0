"""Text metrics: answer-vs-reference matching and overlap, format checks, and efficiency figures.

rouge-score and sacrebleu are imported inside the scoring functions, so that looking a metric up (or
running a fully cached evaluation) never pays for them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from promptarena.errors import ConfigError
from promptarena.extract import normalize_answer
from promptarena.metrics import Metric
from promptarena.types import Case, Prediction

__all__ = [
    "bleu",
    "chrf",
    "completion_tokens",
    "contains",
    "exact_match",
    "json_valid",
    "latency_s",
    "parse_json",
    "normalize_answer",
    "prompt_tokens",
    "regex",
    "rouge1",
    "rouge2",
    "rouge_l",
]

ROUGE_L_MAX_CHARS = 4000
"""rougeL scores the first this many characters of each text: its longest common subsequence is quadratic."""


def _check_lengths(predictions: Sequence[Prediction], cases: Sequence[Case]) -> None:
    if len(predictions) != len(cases):
        raise ValueError(f"got {len(predictions)} predictions for {len(cases)} cases; they must pair up")


def _best_over_references(
    pair_score: Callable[[str, str], float],
) -> Callable[[Sequence[Prediction], Sequence[Case], Mapping[str, Any]], list[float | None]]:
    """Lift ``pair_score(answer, reference)`` to a batched score: best over references, None without any."""

    def score(
        predictions: Sequence[Prediction], cases: Sequence[Case], options: Mapping[str, Any]
    ) -> list[float | None]:
        _check_lengths(predictions, cases)
        return [
            max(float(pair_score(p.answer, ref)) for ref in c.references) if c.references else None
            for p, c in zip(predictions, cases, strict=True)
        ]

    return score


# exact_match / contains --------------------------------------------------------------------------


def _exact(answer: str, reference: str) -> float:
    return float(normalize_answer(answer) == normalize_answer(reference))


def _contains(answer: str, reference: str) -> float:
    # Whole words only: after normalization tokens are space-separated, so "4" is not found in "14".
    ref = normalize_answer(reference)
    ans = normalize_answer(answer)
    if not ref:
        return float(not ans)
    return float(f" {ref} " in f" {ans} ")


exact_match = Metric(
    name="exact_match",
    description="1 if the answer equals a reference after SQuAD normalization "
    "(case, punctuation, articles, whitespace; numbers keep sign and decimals, 1,000 is 1000), else 0.",
    score=_best_over_references(_exact),
    needs_reference=True,
    kind="binary",
    version=2,
)

contains = Metric(
    name="contains",
    description="1 if a normalized reference occurs as whole words in the normalized answer, else 0.",
    score=_best_over_references(_contains),
    needs_reference=True,
    kind="binary",
    version=2,
)


# regex -------------------------------------------------------------------------------------------


def _check_regex(options: dict[str, Any]) -> dict[str, Any]:
    pattern = options.get("pattern")
    if pattern is None:
        raise ConfigError("metric 'regex' needs the option 'pattern': a regular expression that the answer must match.")
    if not isinstance(pattern, str):
        raise ConfigError(f"option 'pattern' of metric 'regex' must be a string, not {type(pattern).__name__}.")
    for flag in ("ignore_case", "full_match"):
        if not isinstance(options.get(flag, False), bool):
            raise ConfigError(f"option {flag!r} of metric 'regex' must be true or false.")
    try:
        re.compile(pattern, re.IGNORECASE if options.get("ignore_case") else 0)
    except re.error as err:
        raise ConfigError(
            f"option 'pattern' of metric 'regex' is not a valid regular expression ({err}): {pattern!r}."
        ) from None
    return {
        "pattern": pattern,
        "ignore_case": options.get("ignore_case", False),
        "full_match": options.get("full_match", False),
    }


def _score_regex(
    predictions: Sequence[Prediction], cases: Sequence[Case], options: Mapping[str, Any]
) -> list[float | None]:
    _check_lengths(predictions, cases)
    opts = _check_regex(dict(options))
    compiled = re.compile(opts["pattern"], re.IGNORECASE if opts["ignore_case"] else 0)
    match = compiled.fullmatch if opts["full_match"] else compiled.search
    return [float(match(p.answer.strip() if opts["full_match"] else p.answer) is not None) for p in predictions]


regex = Metric(
    name="regex",
    description="1 if the answer matches the regular expression in option 'pattern' "
    "(anywhere; 'full_match: true' for the whole answer, 'ignore_case: true' to ignore case), else 0.",
    score=_score_regex,
    kind="binary",
    options=("pattern", "ignore_case", "full_match"),
    check_options=_check_regex,
)


# json_valid --------------------------------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*(?:json)?[ \t]*\n?(.*?)```", re.DOTALL | re.IGNORECASE)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(text: str) -> Any:
    """Strict JSON (RFC 8259): Python's NaN and Infinity extensions are refused; ``ValueError`` says why not."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def parse_json(answer: str) -> Any:
    """The JSON value of an answer that is strict JSON, alone or inside a ```json fence; ``ValueError`` says why not."""
    text = answer.strip()
    try:
        return _loads(text)
    except ValueError:
        fenced = _FENCE.search(text)
        if fenced is None:
            raise
        return _loads(fenced.group(1).strip())


def _is_json(answer: str) -> bool:
    try:
        parse_json(answer)
    except ValueError:
        return False
    return True


def _score_json(
    predictions: Sequence[Prediction], cases: Sequence[Case], options: Mapping[str, Any]
) -> list[float | None]:
    _check_lengths(predictions, cases)
    return [float(_is_json(p.answer)) for p in predictions]


json_valid = Metric(
    name="json_valid",
    description="1 if the answer parses as strict JSON (alone or inside a ```json fence; no NaN or Infinity), else 0.",
    score=_score_json,
    kind="binary",
    version=2,
)


# rouge -------------------------------------------------------------------------------------------


@cache
def _rouge_scorer(rouge_type: str) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer([rouge_type], use_stemmer=True)


def _rouge(rouge_type: str, max_chars: int | None = None) -> Callable[[str, str], float]:
    def pair(answer: str, reference: str) -> float:
        if max_chars is not None:
            answer, reference = answer[:max_chars], reference[:max_chars]
        return _rouge_scorer(rouge_type).score(reference, answer)[rouge_type].fmeasure

    return pair


rouge1 = Metric(
    name="rouge1",
    description="ROUGE-1 F-measure (unigram overlap, Porter stemming) against the best reference, 0..1.",
    score=_best_over_references(_rouge("rouge1")),
    needs_reference=True,
)
rouge2 = Metric(
    name="rouge2",
    description="ROUGE-2 F-measure (bigram overlap, Porter stemming) against the best reference, 0..1.",
    score=_best_over_references(_rouge("rouge2")),
    needs_reference=True,
)
rouge_l = Metric(
    name="rougeL",
    description="ROUGE-L F-measure (longest common subsequence, Porter stemming) against the best reference, "
    f"0..1, on the first {ROUGE_L_MAX_CHARS} characters of each, so that a runaway output cannot stall a suite.",
    score=_best_over_references(_rouge("rougeL", ROUGE_L_MAX_CHARS)),
    needs_reference=True,
    version=2,
)


# bleu / chrf -------------------------------------------------------------------------------------


def _bleu(answer: str, reference: str) -> float:
    import sacrebleu

    return sacrebleu.sentence_bleu(answer, [reference]).score / 100.0


def _chrf(answer: str, reference: str) -> float:
    import sacrebleu

    return sacrebleu.sentence_chrf(answer, [reference]).score / 100.0


bleu = Metric(
    name="bleu",
    description="Sentence-level BLEU (sacrebleu, exponential smoothing) against the best reference, "
    "divided by 100 to lie on 0..1 like every other quality metric.",
    score=_best_over_references(_bleu),
    needs_reference=True,
)
chrf = Metric(
    name="chrf",
    description="Sentence-level chrF (sacrebleu character n-gram F-score) against the best reference, "
    "divided by 100 to lie on 0..1 like every other quality metric.",
    score=_best_over_references(_chrf),
    needs_reference=True,
)


# efficiency --------------------------------------------------------------------------------------


def _from_prediction(attr: str) -> Callable[..., list[float | None]]:
    def score(
        predictions: Sequence[Prediction], cases: Sequence[Case], options: Mapping[str, Any]
    ) -> list[float | None]:
        _check_lengths(predictions, cases)
        return [float(getattr(p, attr)) for p in predictions]

    return score


latency_s = Metric(
    name="latency_s",
    description=(
        "Seconds from the case's first request's admission to its last answer (concurrent samples count once); "
        "lower is better."
    ),
    score=_from_prediction("latency_s"),
    higher_is_better=False,
    range=None,
)
prompt_tokens = Metric(
    name="prompt_tokens",
    description="Prompt tokens processed for the prediction, summed over its generations.",
    score=_from_prediction("prompt_tokens"),
    higher_is_better=None,
    range=None,
)
completion_tokens = Metric(
    name="completion_tokens",
    description="Tokens generated for the prediction, summed over its generations.",
    score=_from_prediction("completion_tokens"),
    higher_is_better=None,
    range=None,
)
