"""The ``openai`` backend: any OpenAI-compatible chat completions server (vLLM, TGI, llama.cpp server, Ollama).

``_backend`` sends the requests (its docstring says how latency and samples are counted), ``_deadline`` bounds
a whole response in time, and ``_responses`` reads and checks what the server answers.
"""

from promptarena.backends.openai._backend import OpenAIBackend, sample_seed

__all__ = ["OpenAIBackend", "sample_seed"]
