"""Running `evals`: in this process through click's CliRunner (fast, for most paths) or as the real console script
in a subprocess (for signals, servers, resource limits and one smoke test per exit code)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

EVALS = str(Path(sys.executable).with_name("evals"))
OFFLINE = {"HF_HUB_OFFLINE": "1"}
# Tables are as wide as $COLUMNS says; a shell that exports it must not change what the tests read.
_WIDTH = "COLUMNS"


def evals(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run the real `evals` console script in a subprocess."""
    full_env = {**{k: v for k, v in os.environ.items() if k != _WIDTH}, **OFFLINE, **(env or {})}
    return subprocess.run([EVALS, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def cli(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """Run `evals ARGS` in this process; ``env`` is set for the call only (None unsets a variable)."""
    from promptarena.cli import main

    return CliRunner().invoke(main, list(args), env={_WIDTH: None, **OFFLINE, **(env or {})})


def exited(result: Result, code: int) -> str:
    """Check that the command ended with ``code`` as the console script would, without a traceback.

    The group turns every failure into ``sys.exit(code)``, so anything but ``SystemExit`` escaping means an
    exception leaked past it. Returns stderr with its whitespace folded (rich wraps long lines).
    """
    detail = result.output + (f"\n{result.exc_info[1]!r}" if result.exc_info else "")
    assert result.exit_code == code, detail
    if code == 0:
        assert result.exception is None, detail
    else:
        assert isinstance(result.exception, SystemExit) and result.exception.code == code, detail
    if code != 4:
        assert "Traceback" not in result.output, detail
    return " ".join(result.stderr.split())
