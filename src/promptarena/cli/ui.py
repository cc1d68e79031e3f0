"""`evals ui`: start the Streamlit workbench on a prompt repository and its results database."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from promptarena.cli.common import db_option, default_db, open_store
from promptarena.errors import ConfigError, missing_dependency


def app_entry() -> Path:
    """The workbench's entry script, ``app/Home.py`` of the source tree this package runs from."""
    import promptarena

    entry = Path(promptarena.__file__).resolve().parents[2] / "app" / "Home.py"
    if not entry.is_file():
        raise ConfigError(
            f"the workbench app is not at {entry}: install promptarena from its source checkout "
            "(pip install -e .) to use `evals ui`"
        )
    return entry


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
@click.option("--repo", default=".", show_default=True, help="The git repository holding prompts/ and evals/.")
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
    store = open_store(repo)
    workdir = store.workdir
    store.close()
    db = Path(db_path).expanduser().resolve() if db_path else default_db(workdir).resolve()
    env = {**os.environ, "PROMPTARENA_REPO": str(Path(repo).expanduser().resolve()), "PROMPTARENA_DB": str(db)}
    argv = streamlit_argv(app_entry(), host, port)
    click.echo(f"promptarena workbench on {repo} with {db} (Ctrl-C stops it)", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # Streamlit takes this process's place, so a signal sent to `evals ui` stops the server itself.
    os.execve(sys.executable, argv, env)
