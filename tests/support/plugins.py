"""Installed packages for plugin tests, without pip: a ``*.dist-info`` folder (METADATA, entry_points.txt) and the
package's modules in a folder that goes on ``sys.path`` or ``PYTHONPATH``, where ``importlib.metadata`` finds it."""

from __future__ import annotations

from pathlib import Path


def write_distribution(
    site: Path, name: str, version: str, modules: dict[str, str], entry_points: dict[str, dict[str, str]]
) -> Path:
    """Install distribution ``name`` into the folder ``site``: its modules (path -> source) and its entry points
    (group -> name -> ``module:attr``). Returns ``site``."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    sections = [
        f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in points.items())
        for group, points in entry_points.items()
    ]
    (info / "entry_points.txt").write_text("\n".join(sections))
    for path, text in modules.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text(text)
    return site
