"""Docs that stay true: the files a doc shows, and the pytest test it ships, run in a repository as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

# A file in a doc: its path in backquotes and a colon, a blank line, then a fenced block of its text.
FILE_BLOCK = re.compile(r"^`([\w./-]+)`:\n\n```\w*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def documented_files(doc: Path) -> dict[str, str]:
    """Path -> text of every file that ``doc`` shows."""
    return dict(FILE_BLOCK.findall(doc.read_text(encoding="utf-8")))


def users_pytest(root: Path, test_file: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on ``test_file`` in the repository at ``root`` with `evals` on the PATH and the default store."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PROMPTARENA_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
