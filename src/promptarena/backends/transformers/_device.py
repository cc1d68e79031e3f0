"""Where the model runs and in what number format: device, dtype, threads and batch size, mostly without torch.

``resolve_device`` and ``resolve_dtype`` guess from the operating system alone, because the fingerprint (part
of every cache key) names them and a fully cached run must not import torch. Once torch is loaded,
``check_hardware`` confirms the guess and ``pack_linears`` prepares bf16 and fp32 weights for the CPU's kernels
(and, for batch-invariant decoding, the fewest rows each kernel must be given).
"""

from __future__ import annotations

import os
from collections.abc import Callable
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
PROBE_ROWS = (2, 3, 4, 5, 7, 8, 16, 17, 64, 65, 257)  # batch sizes at which a linear kernel is compared
ROW_FLOORS = (2, 4, 8, 16)  # the fewest rows a kernel may be given, tried in turn (one row: another kernel)
PROBE_SAMPLE = 16  # rows compared at each batch size


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


def resolve_invariant(option: bool | None, device: str, decode: str, full_attention: Callable[[], bool]) -> bool:
    """Whether decoding is batch-invariant: by default on CPU for a model that attends over every earlier
    position (unless ``decode: dynamic`` is asked for), never on a GPU, where it is not provided.

    Raises:
        ConfigError: ``batch_invariant: true`` with a GPU or with ``decode: dynamic``.
    """
    if option is None:
        return device == "cpu" and decode != "dynamic" and full_attention()
    if option and device != "cpu":
        raise ConfigError(
            f"batch_invariant: true is provided on CPU only, and the device is {device!r}: "
            "set `device: cpu` or remove batch_invariant."
        )
    if option and decode == "dynamic":
        raise ConfigError(
            "batch_invariant: true decodes in fixed slots, and decode is 'dynamic': remove one of the two."
        )
    return option


def full_attention(config: dict[str, Any] | None) -> bool:
    """Whether a model's config (config.json as a dict) has every layer attend to every earlier position: no
    sliding window, no other layer types. ``None`` (not known before loading) counts as yes."""
    for part in (config, (config or {}).get("text_config")):
        if not part:
            continue
        if any(t != "full_attention" for t in part.get("layer_types") or []):
            return False
        if part.get("sliding_window") and part.get("use_sliding_window", True):
            return False
    return True


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


def row_floor(forward: Any, in_features: int, dtype: Any) -> int | None:
    """The fewest rows from which ``forward`` (a product of rows and a matrix) gives a row the same result whatever
    the rows beside it and however many they are; ``None`` when no floor in ``ROW_FLOORS`` does.

    Kernels pick their blocking by the number of rows: at one row a matrix-vector kernel may sum in another
    order than at two (oneDNN's packed kernels do for a reduction over 1536, BLAS's up to four rows), so a
    single row is never given alone. In bf16 the fp32 sums are rounded to 8 bits and another order shows in
    few outputs: ``PROBE_SAMPLE`` rows are compared.
    """
    import torch

    gen = torch.Generator().manual_seed(0)

    def rand(n: int) -> Any:
        return torch.randn(n, in_features, generator=gen).to(dtype)

    rows = rand(PROBE_SAMPLE)
    results = {}
    with torch.no_grad():
        for m in PROBE_ROWS:
            if m >= PROBE_SAMPLE:  # the sample spread over one batch of m rows
                batch, at = rand(m), torch.linspace(0, m - 1, PROBE_SAMPLE).long()
                batch[at] = rows
                results[m] = forward(batch)[at]
                continue
            parts = []  # the sample m rows at a time, the last batch filled up with other rows
            for i in range(0, PROBE_SAMPLE, m):
                part = rows[i : i + m]
                parts.append(forward(torch.cat([part, rand(m - len(part))]))[: len(part)])
            results[m] = torch.cat(parts)
    for floor in ROW_FLOORS:
        if all(torch.equal(results[m], results[floor]) for m in PROBE_ROWS if m >= floor):
            return floor
    return None


def make_row_invariant(model: Any) -> None:
    """Give every linear layer of ``model`` at least its kernel's :func:`row_floor` rows (smaller batches are
    padded with zero rows), so that a row's result does not depend on the batch; probed once per shape.

    Raises:
        BackendError: a layer whose kernel has no such floor on this CPU.
    """
    import torch

    floors: dict[tuple[Any, ...], int | None] = {}
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        forward = module.forward
        shape = ("forward" in vars(module), module.in_features, module.out_features, module.weight.dtype)
        if shape not in floors:
            floors[shape] = row_floor(forward, module.in_features, module.weight.dtype)
        floor = floors[shape]
        if floor is None:
            raise BackendError(
                f"this CPU's matrix kernel for {name} ({module.in_features}x{module.out_features}, "
                f"{module.weight.dtype}) gives a row a result that depends on the rows beside it, so decoding "
                "cannot be batch-invariant here: set `batch_invariant: false` in the suite's model."
            )
        module.forward = _padded(forward, floor)


def _padded(forward: Any, floor: int) -> Any:
    """``forward`` given at least ``floor`` rows: fewer are padded with zero rows, whose results are dropped."""
    import torch

    def padded(x: Any) -> Any:
        rows = x.numel() // x.shape[-1]
        if rows >= floor:
            return forward(x)
        flat = x.reshape(rows, x.shape[-1])
        full = forward(torch.cat([flat, flat.new_zeros((floor - rows, flat.shape[1]))]))
        return full[:rows].reshape(*x.shape[:-1], full.shape[-1])

    return padded
