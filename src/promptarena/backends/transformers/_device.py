"""Where the model runs and in what number format: device, dtype, threads and batch size, mostly without torch.

``resolve_device`` and ``resolve_dtype`` guess from the operating system alone, because the fingerprint (part
of every cache key) names them and a fully cached run must not import torch. Once torch is loaded,
``check_hardware`` confirms the guess and ``pack_linears`` prepares bf16 and fp32 weights for the CPU's kernels.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from promptarena.errors import BackendError, ConfigError

_DTYPE_ALIASES = {
    "auto": "auto",
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "half": "float16",
    "float16": "float16",
    "fp32": "float32",
    "float": "float32",
    "float32": "float32",
}
MAX_CPU_BATCH_SIZE = 256
MAX_CUDA_BATCH_SIZE = 1024


def nvidia_present() -> bool:
    """Whether an NVIDIA GPU is visible to this process, judged without importing torch."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return Path("/dev/nvidiactl").exists() and visible not in ("", "-1")


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX), where bf16 is ~2x faster than fp32."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def cpu_threads() -> int:
    """Threads for CPU inference: ``$OMP_NUM_THREADS`` when set, else every core this process may use."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def available_memory() -> int:
    """Bytes of memory this process can still take: Linux's MemAvailable (free plus reclaimable cache), else the
    free pages, else 4 GiB where the system says neither."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when an NVIDIA device is present, else ``cpu``; other values pass through."""
    device = (device or "auto").strip().lower()
    if device == "auto":
        return "cuda" if nvidia_present() else "cpu"
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"unknown device {device!r} for the transformers backend: use auto, cpu or cuda[:N].")
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` -> ``bfloat16`` on CUDA and on CPUs with native bf16, else ``float32``."""
    name = _DTYPE_ALIASES.get((dtype or "auto").strip().lower())
    if name is None:
        raise ConfigError(
            f"unknown dtype {dtype!r} for the transformers backend: use auto, bfloat16, float16 or float32."
        )
    if name != "auto":
        return name
    if device.startswith("cuda") or cpu_has_bf16():
        return "bfloat16"
    return "float32"


def check_hardware(torch: Any, device: str, dtype: str, device_option: str, dtype_option: str) -> None:
    """Fail early, with the fix, when the torch-free guess of device and dtype is wrong."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendError(
            f"device {device!r} was chosen (from device: {device_option!r}) but torch sees no "
            "CUDA device: set `device: cpu` in the suite or pass --device cpu."
        )
    if dtype == "bfloat16":
        if device == "cpu":
            supported = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        else:
            supported = bool(torch.cuda.is_bf16_supported())
        if not supported and dtype_option == "auto":
            raise BackendError(
                f"bfloat16 was chosen for {device} but torch cannot compute in it here: "
                "set `dtype: float32` in the suite or pass --dtype float32."
            )


def default_batch_size(config: Any, device: str, dtype: str, longest: int) -> int:
    """Rows decoded at once: as many as 60% of the available memory holds at ``longest`` tokens (capped per device).

    On CPU a step's matmuls get cheaper per row up to a few hundred rows, so a run's pending requests go in
    together rather than 64 at a time.
    """
    import torch

    if device.startswith("cuda"):
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        cap = MAX_CUDA_BATCH_SIZE
    else:
        free = available_memory()
        cap = MAX_CPU_BATCH_SIZE
    layers = config.num_hidden_layers
    kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    width = torch.finfo(getattr(torch, dtype)).bits // 8
    # KV cache (with room for the copy a step makes), logits and sampling buffers, activations.
    per_row = 3 * 2 * layers * kv_heads * head_dim * longest * width
    per_row += 4 * config.vocab_size * 4 + 16 * config.hidden_size * longest * width
    return max(1, min(cap, int(free * 0.6) // per_row))


def pack_linears(model: Any) -> int:
    """Give every bf16 or fp32 ``nn.Linear`` a weight pre-packed for oneDNN, once, instead of at every call.

    At decoding's small batches the packed kernels are much faster than ``F.linear``: in bf16, repacking
    the weight dominates a small matmul (a decode step is about twice as fast packed, with bit-identical
    results); in fp32, oneDNN's kernels reach 1.5-2x the throughput of the BLAS call at 8-64 rows, the
    vocabulary projection most of all. fp32 stays fp32: sums are only taken in another order, so results
    agree with ``F.linear`` to fp32 rounding. A layer whose packed kernel is unavailable, or disagrees with
    ``F.linear`` (bf16: any bit; fp32: beyond rounding), is left as it is. The packed weights are a copy
    beside the loaded ones, so a model whose copy would take more than half the available memory is left
    unpacked. Returns how many were packed.
    """
    import torch

    op = getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)
    reorder = getattr(getattr(torch.ops, "mkldnn", None), "_reorder_linear_weight", None)
    if op is None or reorder is None or not torch.backends.mkldnn.is_available():
        return 0
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    copy = sum(m.weight.numel() * m.weight.element_size() for m in linears)
    if copy > available_memory() // 2:
        return 0
    packed = 0
    for module in linears:
        dtype = module.weight.dtype
        if dtype not in (torch.bfloat16, torch.float32):
            continue
        try:
            with torch.no_grad():
                weight = reorder(module.weight, 64)
                bias = module.bias.detach() if module.bias is not None else None
                probe = torch.randn(3, module.in_features, dtype=dtype)
                got = op(probe, weight, bias, "none", [], "")
                want = torch.nn.functional.linear(probe, module.weight, module.bias)
        except RuntimeError:
            continue
        if dtype == torch.bfloat16 and not torch.equal(got, want):
            continue
        if dtype == torch.float32 and float((got - want).abs().max()) > 1e-5 * float(want.abs().max()):
            continue  # more than fp32 rounding apart (bf16 inside would be ~1e-3)

        def forward(x: Any, _w: Any = weight, _b: Any = bias) -> Any:
            return op(x, _w, _b, "none", [], "")

        module.forward = forward
        packed += 1
    return packed
