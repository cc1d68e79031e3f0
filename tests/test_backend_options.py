"""Backend options are checked before a backend is built: a typo or a wrong value is bad input (exit 2)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from promptarena.backends import get_backend
from promptarena.backends.options import option_errors, options_model
from promptarena.errors import ConfigError
from tests.support.cli import cli, exited
from tests.support.repos import edit_suite, qa_repo


@pytest.mark.parametrize(
    ("backend", "typo", "key"),
    [
        ("transformers", "dtyp", "dtype"),
        ("transformers", "batchsize", "batch_size"),
        ("openai", "base_ur", "base_url"),
        ("openai", "context_lenght", "context_length"),
        ("fake", "dealy_s", "delay_s"),
    ],
)
def test_a_typo_names_the_key_and_the_option_it_meant(backend: str, typo: str, key: str) -> None:
    model = options_model(backend)
    with pytest.raises(ValidationError) as info:
        model.model_validate({typo: "1"})
    assert option_errors(info.value, model) == [f"model.{typo}: unknown option (did you mean {key}?)"]
    with pytest.raises(ConfigError, match=rf"model\.{typo}: unknown option \(did you mean {key}\?\)") as err:
        get_backend(backend, **{typo: "1"})
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("backend", "options", "key"),
    [
        ("transformers", {"dtype": "fp8"}, "dtype"),
        ("transformers", {"device": "tpu"}, "device"),
        ("transformers", {"batch_size": 0}, "batch_size"),
        ("transformers", {"truncate": "right"}, "truncate"),
        ("openai", {"concurrency": "many"}, "concurrency"),
        ("openai", {"timeout_s": -1}, "timeout_s"),
        ("fake", {"delay_s": "slow"}, "delay_s"),
        ("fake", {"responses": ["not", "a", "mapping"]}, "responses"),
    ],
)
def test_wrong_values_are_config_errors_naming_the_key(backend: str, options: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"model\.{key}") as info:
        get_backend(backend, **options)
    assert info.value.exit_code == 2


def test_valid_options_are_coerced_and_reach_the_backend() -> None:
    model = options_model("transformers").model_validate({"dtype": "bf16", "device": "CUDA:1", "batch_size": "8"})
    assert (model.dtype, model.device, model.batch_size) == ("bf16", "cuda:1", 8)
    fake = get_backend("fake", delay_s="0.5", context_length=100)
    assert fake.context_length == 100


def test_an_unknown_backend_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="unknown backend 'transformer' \\(did you mean transformers\\?\\)"):
        options_model("transformer")


def test_options_module_imports_neither_torch_nor_transformers() -> None:
    code = textwrap.dedent(
        """
        import sys
        from promptarena.backends.options import options_model
        options_model("transformers").model_validate({"dtype": "float16"})
        assert not {"torch", "transformers"} & set(sys.modules), sorted(sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_cli_rejects_a_misspelt_option_with_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    model = yaml.safe_load((repo.root / "evals/qa.yaml").read_text())["model"]
    edit_suite(repo, model={**model, "dealy_s": 0.1})
    err = exited(cli("run", "--repo", str(repo.root)), 2)
    assert "evals/qa.yaml:" in err
    assert "model.dealy_s: unknown field (did you mean delay_s?)" in err
    assert not (repo.root / ".promptarena").exists()


def test_cli_backend_override_is_validated_too(tmp_path: Path) -> None:
    repo = qa_repo(tmp_path / "repo")
    assert "did you mean fake?" in exited(cli("run", "--repo", str(repo.root), "--backend", "fakes"), 2)
