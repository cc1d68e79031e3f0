"""Backend options are checked before a backend is built: a typo or a wrong value is bad input (exit 2)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from pydantic import Field, ValidationError

from promptarena.backends import backends, get_backend
from promptarena.backends.fake import FakeBackend
from promptarena.backends.options import BackendOptions, option_errors, options_model
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


# --- options declared by each backend, found through the registry ------------------------------------------


class Echo(FakeBackend):
    """A plugin's backend that takes a constructor of its own without declaring options: its parameters are its
    options, never the fake backend's."""

    def __init__(self, shout: bool = False) -> None:
        super().__init__(default="SHOUT" if shout else "calm")


class LoudOptions(BackendOptions):
    volume: int = Field(default=1, ge=1, le=11)


class Loud(FakeBackend):
    """A plugin's backend that declares its options beside its class, as the built-in ones do."""

    options_model = LoudOptions

    def __init__(self, volume: int = 1) -> None:
        super().__init__(default="!" * volume)


def test_each_builtin_backend_declares_its_options_on_its_class() -> None:
    from promptarena.backends.openai import OpenAIBackend
    from promptarena.backends.transformers import TransformersBackend

    for name, cls in [("fake", FakeBackend), ("openai", OpenAIBackend), ("transformers", TransformersBackend)]:
        assert options_model(name) is cls.options_model
        assert issubclass(cls.options_model, BackendOptions)
    import promptarena.backends.options as options_module

    assert not hasattr(options_module, "OPTIONS")  # no table apart from the backends


def test_a_plugins_declared_options_are_checked_and_a_subclass_does_not_inherit_them() -> None:
    with backends.added("loud_test", Loud), backends.added("echo_test", Echo):
        assert get_backend("loud_test", volume="3").generate  # coerced to an int, in range
        with pytest.raises(ConfigError, match=r"model\.volume: Input should be less than or equal to 11"):
            get_backend("loud_test", volume=12)
        with pytest.raises(ConfigError, match=r"model\.volum: unknown option \(did you mean volume\?\)"):
            get_backend("loud_test", volum=3)
        assert list(options_model("echo_test").model_fields) == ["shout"]  # its constructor's, not FakeOptions
        with pytest.raises(ConfigError, match=r"model\.default: unknown option .*options: shout\)"):
            get_backend("echo_test", default="x")
    assert "loud_test" not in backends


def test_run_help_lists_every_backend_with_its_options_plugins_included() -> None:
    with backends.added("loud_test", Loud):
        result = cli("run", "--help")
    exited(result, 0)
    out = " ".join(result.output.split())
    assert "loud_test (volume)" in out
    assert "fake (model, responses, outputs, default, delay_s," in out
    assert "transformers (model, device, dtype, batch_size, threads, truncate, decode, batch_invariant)" in out
    assert "openai (base_url, model," in out
    assert "loud_test" not in " ".join(cli("run", "--help").output.split())
