"""`evals ui`: start the Streamlit workbench on a prompt repository and its results database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click

from promptarena.cli.common import Workspace, db_option, repo_option
from promptarena.errors import BackendError, ConfigError, missing_dependency

_STOP_S = 10.0  # how long the server may take to stop before it is killed
_PR_SET_PDEATHSIG = 1  # Linux's prctl option: the signal a process gets when its parent dies


def app_entry() -> Path:
    """The workbench's entry script: ``promptarena/app/Overview.py`` in an installed wheel, ``app/Overview.py`` of
    the source checkout that an editable install (or ``PYTHONPATH=src``) runs from."""
    import promptarena

    package = Path(promptarena.__file__).resolve().parent
    for entry in (package / "app" / "Overview.py", package.parents[1] / "app" / "Overview.py"):
        if entry.is_file():
            return entry
    raise ConfigError(
        f"the workbench app is missing from {package}: reinstall promptarena (pip install 'promptarena[ui]') "
        "to use `evals ui`"
    )


def streamlit_argv(entry: Path, host: str, port: int | None) -> list[str]:
    """The `streamlit run` command line: headless, no usage statistics, bound to ``host``."""
    argv = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(entry),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]
    if port is not None:
        argv += ["--server.port", str(port)]
    return argv


def workbench_env(root: Path, db: Path, host: str, allow_edits: bool | None) -> dict[str, str]:
    """What the server is told: the repository and database it shows, and whether Edit and try may write files
    (on a loopback address, unless ``allow_edits`` says otherwise)."""
    from promptarena.draft import EDITS, is_loopback

    edits = is_loopback(host) if allow_edits is None else allow_edits
    return {"PROMPTARENA_REPO": str(root), "PROMPTARENA_DB": str(db), EDITS: "1" if edits else "0"}


def require_workbench() -> None:
    """Import what the workbench runs on (streamlit, altair), or fail with the pip line that installs it."""
    try:
        import altair  # noqa: F401
        import streamlit  # noqa: F401
    except ImportError as err:
        raise missing_dependency("`evals ui`", "ui", err) from err


@click.command("ui")
@repo_option
@db_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; the default keeps the workbench on this machine (0.0.0.0 exposes it).",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port to listen on (default: Streamlit's, 8501 or the next free).",
)
@click.option(
    "--allow-edits/--no-edits",
    default=None,
    help="Let the Edit and try page write and commit prompt files (default: only on a loopback address).",
)
def command(repo: str, db_path: Path | None, host: str, port: int | None, allow_edits: bool | None) -> None:
    """Start the Streamlit workbench: overview, prompt history, compare, case explorer, feedback, runs, edit and try.

    Stopping `evals ui` (Ctrl-C, SIGTERM, SIGHUP) stops the server and exits 128 + the signal's number.
    """
    require_workbench()
    ws = Workspace(repo, db_path)
    root, db = ws.root, ws.db.resolve()
    env = {**os.environ, **workbench_env(root, db, host, allow_edits)}
    argv = streamlit_argv(app_entry(), host, port)
    click.echo(f"promptarena workbench on {root} with {db} (Ctrl-C stops it)", err=True)
    server = subprocess.Popen(argv, env=env, preexec_fn=_stop_with_parent if sys.platform == "linux" else None)
    try:
        code = server.wait()
    except KeyboardInterrupt as stop:  # the group raises SIGTERM and SIGHUP as Interrupted, a KeyboardInterrupt
        server.send_signal(getattr(stop, "signum", signal.SIGINT))
        try:
            server.wait(timeout=_STOP_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        raise  # exits 128 + the signal's number
    if code != 0:
        raise BackendError(f"the workbench server stopped with exit status {code}; its messages are above.")


def _stop_with_parent() -> None:
    """Run in the server's process before it starts: it gets SIGTERM when `evals ui` dies, even by SIGKILL."""
    import ctypes

    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
