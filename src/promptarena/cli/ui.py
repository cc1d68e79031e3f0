"""`evals ui`: start the Streamlit workbench on a prompt repository and its results database."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from promptarena.cli.common import db_option, default_db, repo_option, repo_root
from promptarena.errors import ConfigError, missing_dependency


def app_entry() -> Path:
    """The workbench's entry script: ``promptarena/workbench/Home.py`` in an installed wheel, ``app/Home.py`` of
    the source checkout that an editable install (or ``PYTHONPATH=src``) runs from."""
    import promptarena

    package = Path(promptarena.__file__).resolve().parent
    for entry in (package / "workbench" / "Home.py", package.parents[1] / "app" / "Home.py"):
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
def command(repo: str, db_path: Path | None, host: str, port: int | None) -> None:
    """Start the Streamlit workbench: overview, prompt history, compare, case explorer, feedback and runs.

    Streamlit replaces this process: stopping `evals ui` (Ctrl-C, SIGTERM) stops the server.
    """
    require_workbench()
    root = repo_root(repo)
    db = Path(db_path).expanduser().resolve() if db_path else default_db(root).resolve()
    env = {**os.environ, "PROMPTARENA_REPO": str(root), "PROMPTARENA_DB": str(db)}
    argv = streamlit_argv(app_entry(), host, port)
    click.echo(f"promptarena workbench on {root} with {db} (Ctrl-C stops it)", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # Streamlit takes this process's place, so a signal sent to `evals ui` stops the server itself.
    os.execve(sys.executable, argv, env)
