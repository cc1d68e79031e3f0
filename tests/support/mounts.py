"""Real file-system faults for one command, in a private mount namespace (``unshare``): a full disk (a small
tmpfs, filled up) and a read-only mount (a read-only bind mount of a folder).

The mounts exist only inside the namespace, so nothing is left mounted if a test fails; a user namespace
lets a non-root user mount too. Where neither works the test is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import OFFLINE

_UNSHARE = ["unshare", "--user", "--map-root-user", "--mount"]
_FULL = """
mount -t tmpfs -o size=64k tmpfs "$dir" || exit 125
for name in $KEEP; do printf 'before\\n' > "$dir/$name"; done
head -c 1048576 /dev/zero > "$dir/fill" 2>/dev/null
"""
_READ_ONLY = """
mount --bind "$dir" "$dir" && mount -o remount,bind,ro "$dir" || exit 125
touch "$dir/.writable" 2>/dev/null && exit 125
"""
_RUN = """
"$@"; rc=$?
for name in $(ls -A "$dir"); do
  printf '%s=%s\\n' "$name" "$(head -c 64 "$dir/$name" | tr -cd '[:print:]')"
done > "$listing"
exit $rc
"""


def _in_namespace(
    setup: str, folder: Path, argv: list[str], cwd: Path, keep: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Run ``argv`` after ``setup`` mounted something on ``folder``; return the process and the folder's files
    afterwards, each with the printable characters of its first 64 bytes."""
    if shutil.which("unshare") is None:
        pytest.skip("needs util-linux's unshare to mount in a private namespace")
    folder.mkdir(parents=True, exist_ok=True)
    listing = folder.parent / f"{folder.name}.listing"
    listing.unlink(missing_ok=True)
    script = "dir=$1 listing=$2; shift 2\n" + setup + _RUN
    proc = subprocess.run(
        [*_UNSHARE, "sh", "-c", script, "sh", str(folder), str(listing), *argv],
        cwd=cwd,
        env={**os.environ, **OFFLINE, "KEEP": " ".join(keep)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    if proc.returncode == 125 or not listing.exists():
        pytest.skip(f"cannot mount in a private namespace here: {proc.stderr.strip()}")
    return proc, dict(line.split("=", 1) for line in listing.read_text().splitlines())


def on_a_full_disk(
    folder: Path, argv: list[str], *, cwd: Path, keep: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Run ``argv`` with ``folder`` a full disk that holds the files ``keep`` (each with the text "before")."""
    return _in_namespace(_FULL, folder, argv, cwd, keep)


def on_a_read_only_mount(
    folder: Path, argv: list[str], *, cwd: Path
) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Run ``argv`` with ``folder``, and what it holds, on a read-only mount (not even root can write there)."""
    return _in_namespace(_READ_ONLY, folder, argv, cwd)
