"""Energy used while generating, from the counters the hardware exposes; ``None`` where there is none.

CPU: Intel RAPL through Linux powercap (``/sys/class/powercap/intel-rapl:N/energy_uj``, also on AMD), the
package zones only (their core, uncore and DRAM subzones are parts of them or would count twice). A counter
wraps at ``max_energy_range_uj``; one wrap per measurement is undone. Recent kernels let only root read it:
then the CPU is "not measured". GPU: NVML's total energy counter (Volta and newer) through ``pynvml`` (the
``nvidia-ml-py`` package), summed over every GPU the driver shows, counted only when torch used CUDA.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POWERCAP = Path("/sys/class/powercap")


@dataclass
class Energy:
    """Joules measured inside a ``measure_energy`` block (``None``: no counter could be read), and from where."""

    joules: float | None = None
    sources: tuple[str, ...] = ()  # "RAPL" (CPU packages), "NVML" (GPUs)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):  # PermissionError: only root reads RAPL on recent kernels
        return None


def rapl_zones(root: Path = POWERCAP) -> list[Path]:
    """The top-level RAPL package zones under a powercap root, in name order."""
    zones = sorted(root.glob("intel-rapl:*")) if root.is_dir() else []
    return [z for z in zones if z.name.count(":") == 1 and (z / "name").is_file() and _is_package(z)]


def _is_package(zone: Path) -> bool:
    with suppress(OSError):
        return (zone / "name").read_text().strip().startswith("package")
    return False


def read_rapl(root: Path = POWERCAP) -> dict[Path, int] | None:
    """Each package zone's counter in microjoules; ``None`` when there is none or one cannot be read."""
    counters = {zone: _read_int(zone / "energy_uj") for zone in rapl_zones(root)}
    if not counters or any(v is None for v in counters.values()):
        return None
    return {zone: int(v) for zone, v in counters.items() if v is not None}


def rapl_joules(start: dict[Path, int], end: dict[Path, int]) -> float | None:
    """Joules between two readings, undoing a counter's wrap at its ``max_energy_range_uj``."""
    total = 0
    for zone, before in start.items():
        delta = end[zone] - before
        if delta < 0:
            top = _read_int(zone / "max_energy_range_uj")
            if top is None:
                return None
            delta += top
        total += delta
    return total / 1e6


def _nvml() -> Any | None:
    """The initialised ``pynvml`` module, or ``None`` without it or without a GPU driver."""
    if importlib.util.find_spec("pynvml") is None:
        return None
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    return pynvml


def read_nvml(nvml: Any) -> list[int] | None:
    """Every GPU's total energy counter in millijoules; ``None`` when one does not have it."""
    try:
        count = nvml.nvmlDeviceGetCount()
        return [
            nvml.nvmlDeviceGetTotalEnergyConsumption(nvml.nvmlDeviceGetHandleByIndex(i)) for i in range(count)
        ] or None
    except nvml.NVMLError:
        return None


def _torch_used_cuda() -> bool:
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized())


@contextmanager
def measure_energy(powercap: Path | None = None) -> Iterator[Energy]:
    """Joules used by the CPU packages and, when torch ran on CUDA, the GPUs, while the block runs.

    The result's ``joules`` is set when the block ends (also when it raises); ``None`` means not measured.
    ``powercap`` is the sysfs powercap folder (default ``POWERCAP``).
    """
    powercap = powercap or POWERCAP
    energy = Energy()
    rapl_start = read_rapl(powercap)
    nvml = _nvml()
    gpu_start = read_nvml(nvml) if nvml is not None else None
    try:
        yield energy
    finally:
        parts: dict[str, float] = {}
        rapl_end = read_rapl(powercap) if rapl_start is not None else None
        if rapl_start is not None and rapl_end is not None and rapl_end.keys() == rapl_start.keys():
            cpu = rapl_joules(rapl_start, rapl_end)
            if cpu is not None:
                parts["RAPL"] = cpu
        if nvml is not None:
            gpu_end = read_nvml(nvml) if gpu_start is not None and _torch_used_cuda() else None
            if gpu_start is not None and gpu_end is not None and len(gpu_end) == len(gpu_start):
                parts["NVML"] = sum(e - s for s, e in zip(gpu_start, gpu_end, strict=True)) / 1e3
            with suppress(nvml.NVMLError):
                nvml.nvmlShutdown()
        energy.joules = sum(parts.values()) if parts else None
        energy.sources = tuple(parts)
