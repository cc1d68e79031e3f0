"""A real full disk for one command: a small tmpfs, filled up, in a private mount namespace (``unshare``).

The mount exists only inside the namespace, so nothing is left mounted if a test fails; a user namespace
lets a non-root user mount it too. Where neither works the test is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import OFFLINE

_UNSHARE = ["unshare", "--user", "--map-root-user", "--mount"]
_SCRIPT = """
dir=$1 listing=$2; shift 2
mount -t tmpfs -o size=64k tmpfs "$dir" || exit 125
for name in $KEEP; do printf 'before\\n' > "$dir/$name"; done
head -c 1048576 /dev/zero > "$dir/fill" 2>/dev/null
"$@"; rc=$?
for name in $(ls -A "$dir"); do printf '%s=%s\\n' "$name" "$(head -c 64 "$dir/$name" | tr -d '\\0')"; done > "$listing"
exit $rc
"""


def on_a_full_disk(
    folder: Path, argv: list[str], *, cwd: Path, keep: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Run ``argv`` with ``folder`` a full disk that holds the files ``keep`` (each with the text "before").

    Returns the finished process and the folder's files afterwards, each with the start of its text.
    """
    if shutil.which("unshare") is None:
        pytest.skip("needs util-linux's unshare to mount a full tmpfs")
    folder.mkdir(parents=True, exist_ok=True)
    listing = folder.parent / f"{folder.name}.listing"
    proc = subprocess.run(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            _SCRIPT,
            "sh",
            str(folder),
            str(listing),
            *argv,
        ],
        cwd=cwd,
        env={**os.environ, **OFFLINE, "KEEP": " ".join(keep)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    if proc.returncode == 125 or not listing.exists():
        pytest.skip(f"cannot mount a tmpfs in a private namespace here: {proc.stderr.strip()}")
    files = dict(line.split("=", 1) for line in listing.read_text().splitlines())
    return proc, files
