"""Make a model directory of the same shape as another, with random weights (seeded).

Throughput depends on a model's shape, not on its weights, so a shaped copy measures the engine on a
machine that cannot receive the real weights. Such a model rarely emits its end token: every row runs to
max_new_tokens, the worst case for the engine, which gains most from rows that finish early.

    python benchmarks/shape_model.py SRC DST     # SRC: a model directory (config + tokenizer suffice)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def main(src: Path, dst: Path, seed: int = 0) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    dst.mkdir(parents=True, exist_ok=True)
    for file in src.iterdir():
        if file.is_file() and not file.name.endswith((".safetensors", ".bin", ".gguf")) and file != dst / file.name:
            shutil.copy(file, dst / file.name)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(src))
    model.save_pretrained(dst)
    print(f"{dst}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, random weights (seed {seed})")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
