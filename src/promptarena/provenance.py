"""What a run records about itself: where its inputs came from, and the resources it used."""

from __future__ import annotations

import dataclasses
import platform
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any

from promptarena.holistic import holistic_provenance

if TYPE_CHECKING:
    from promptarena.backends import Backend
    from promptarena.gitstore import PromptStore
    from promptarena.metrics.toxicity import ToxicityScorer
    from promptarena.plan import Arm
    from promptarena.suite import Suite

PACKAGES = ("promptarena", "transformers", "torch", "sentence-transformers", "sacrebleu", "rouge-score")


def model_label(backends: Mapping[str, Backend]) -> str:
    """The model fingerprint, or ``name=fingerprint`` per model for a suite with several."""
    if list(backends) == [""]:
        return backends[""].fingerprint
    return ", ".join(f"{name}={b.fingerprint}" for name, b in backends.items())


def decoding_label(backends: Mapping[str, Backend]) -> str | dict[str, str] | None:
    """The decoding mode of backends that have one (``batch-invariant`` or ``fast``), per model for several."""
    modes = {name: mode for name, b in backends.items() if (mode := getattr(b, "decoding", None))}
    if not modes:
        return None
    return modes[""] if list(modes) == [""] else modes


def provenance(
    suite: Suite,
    arms: Sequence[Arm],
    backends: Mapping[str, Backend],
    prompts: PromptStore,
    scorer: ToxicityScorer | None = None,
    tools: bool = False,
) -> dict[str, Any]:
    """Prompt commits and blobs, suite and case hashes, model fingerprints and decoding mode, seed, holistic parts,
    package versions; with ``tools`` (a prompt offers some), how each backend passed them on."""
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    versions = {
        a.version.label: {"commit": a.version.commit, "blob": a.version.blob, "dirty": a.version.dirty} for a in arms
    }
    doc = {
        "suite": str(suite.path),
        "suite_hash": suite.suite_hash,
        "cases_hash": suite.cases_hash,
        "prompt": suite.prompt,
        "versions": versions,
        "variants": [dataclasses.asdict(v) for v in suite.variants],
        "model": model_label(backends),
        "seed": suite.seed,
        "shallow_clone": bool(getattr(prompts, "shallow", False)),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": packages,
    }
    if list(backends) != [""]:
        doc["models"] = {name: b.fingerprint for name, b in backends.items()}
    if (decoding := decoding_label(backends)) is not None:
        doc["decoding"] = decoding
    if tools:  # chat-template / system-message (transformers), api (openai), request (a backend's own way)
        ways = {name: str(getattr(b, "tool_calling", "request")) for name, b in backends.items()}
        doc["tool_calling"] = ways[""] if list(ways) == [""] else ways
    if holistic := holistic_provenance(suite, scorer):
        doc["holistic"] = holistic
    return doc


def peak_memory_mb() -> float:
    """Peak memory of this process (resident set), plus the GPU's peak allocation when torch used one."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        peak += torch.cuda.max_memory_allocated() / 2**20
    return peak
