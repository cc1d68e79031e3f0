"""How often the two decode paths give the same greedy output, on the same requests and device.

The slot path (CUDA graphs on a GPU) must compute what the growing cache computes: in float32 the outputs
should be identical; in bfloat16 a near tie can flip a token, after which the texts part ways.

    python benchmarks/slots_check.py --device cuda --model DIR
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from promptarena.backends.transformers import TransformersBackend  # noqa: E402
from promptarena.types import GenerationRequest, GenParams, Message  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--prompts", type=Path, default=HERE / "workloads" / "questions64.json")
    args = parser.parse_args()
    questions = json.loads(args.prompts.read_text(encoding="utf-8"))
    # lengths differ per row, so rows leave the batch at different steps and the slots are compacted
    requests = [
        GenerationRequest((Message("user", q),), GenParams(max_new_tokens=16 + i % 48), seed=0)
        for i, q in enumerate(questions)
    ]
    for dtype in ("float32", "bfloat16"):
        texts = {}
        for decode in ("dynamic", "slots"):
            backend = TransformersBackend(  # the fast mode on CPU too, where slots would otherwise be aligned
                model=args.model, device=args.device, dtype=dtype, decode=decode, batch_invariant=False
            )
            out = dict(backend.generate(requests))
            texts[decode] = [(out[i].text, out[i].completion_tokens) for i in range(len(requests))]
            backend.close()
        same = sum(a == b for a, b in zip(texts["dynamic"], texts["slots"], strict=True))
        print(json.dumps({"check": "slots_vs_dynamic", "dtype": dtype, "same": same, "of": len(requests)}))


if __name__ == "__main__":
    main()
