"""The ``transformers`` backend: a local model on CPU or CUDA, with a decode loop built for evaluations.

Evaluation workloads are many short prompts, often several samples of the same prompt. The decode loop
here differs from ``model.generate`` in the ways that matter for that shape:

* rows that finished leave the batch and the KV cache at once, and waiting rows take their places
  (plain ``generate`` keeps computing finished rows until the longest one ends);
* requests that differ only in ``sample_index`` are prefilled once and their KV cache is copied, and
  prompts that share a head (a version's instructions) prefill that head once;
* sampling noise is a hash of (prompt, seed, sample index, step), so a sample does not depend on which
  other rows share its batch, and the run is reproducible;
* a step's state stays on the device, and on a GPU each step is replayed as a CUDA graph over fixed
  slots of the KV cache;
* on a CPU the linear layers run oneDNN's kernels on weights packed once, and an fp32 decode step's
  attention is two batched matmuls instead of SDPA's flash kernel;
* on a CPU decoding is batch-invariant by default: a request's tokens do not depend on the other rows of
  its batch, its padding or how its prompt was split between prefills (every kernel is given a number of
  rows and a layout that fix the order of its sums; rows decode in slots that start at column 0).

A row's latency runs from its admission (the start of its prefill) to its last token; rows still waiting
for a free place are not yet admitted.

The modules follow those seams: ``_device`` (device, dtype, threads, batch size, weight packing),
``_backend`` (the Backend contract), ``_admission`` (which waiting requests join the batch and how their
prompts are prefilled: plain data, without torch), ``_scheduler`` (continuous batching, executing those
admissions), ``_batch`` (the rows being decoded, their state on the device), ``_kvcache`` (surgery on
transformers' cache internals, transformers >= 4.56), ``_slots`` (fixed slots and CUDA graphs),
``_attention`` (the CPU decode attention, and the batch-invariant one), ``_sampling`` (sampling
kernels) and ``_weights`` (where a model's weights are: the embedded GGUF, a local path or a Hub id).
Importing this package does not import torch; the fingerprint is computed without it too. torch,
transformers and gguf come with the extra ``pip install 'promptarena[local]'``.
"""

from promptarena.backends.transformers._backend import TransformersBackend
from promptarena.backends.transformers._weights import ResolvedModel, resolve_model

__all__ = ["ResolvedModel", "TransformersBackend", "resolve_model"]
