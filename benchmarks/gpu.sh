#!/usr/bin/env bash
# The GPU table: the engine (fixed slots replayed as CUDA graphs, and the growing cache) beside generate()
# at batch sizes 1 to 1,024, then self-consistency. MODEL: a model directory or id (default: the embedded one).
#   [SIZES="1 64"] bash benchmarks/gpu.sh [MODEL]
set -u
MODEL=${1:-default}
HERE=$(dirname "$0")
for n in ${SIZES:-1 64 256 1024}; do
  for decode in slots dynamic; do
    timeout 150 python3 "$HERE/throughput.py" --model "$MODEL" --device cuda --count "$n" --decode "$decode" \
      --repeats 3 --naive 0 --no-llamacpp | tail -1
  done
done
timeout 150 python3 "$HERE/self_consistency.py" --model "$MODEL" --device cuda | tail -1
