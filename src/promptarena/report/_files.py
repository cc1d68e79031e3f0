"""Report files written whole or not at all, so a full disk never leaves a truncated report for CI to read."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from promptarena.errors import DISK_FULL, BackendError


def write_report(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path`` once it is on disk.

    Any failure (a full disk, above all) leaves no partial file and an earlier report as it was, and is raised as
    a BackendError (exit 3) that names the file: the results themselves are already stored.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if not isinstance(err, OSError):
            raise
        what = "disk full while writing" if err.errno in DISK_FULL else "cannot write"
        raise BackendError(
            f"{what} the report {path} ({err.strerror or err}); nothing was written there. The results are stored: "
            "free some space and run again, which generates nothing anew."
        ) from err
