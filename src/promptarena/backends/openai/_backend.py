"""The ``openai`` backend: any OpenAI-compatible chat completions server (vLLM, TGI, llama.cpp server, Ollama).

Requests go out over a bounded pool of ``concurrency`` threads and are yielded as they complete, so the
engine stores each generation at once. Samples of one prompt (self-consistency, judge candidates) go out as
one request with ``n`` choices where the server honours ``n``, else as separate requests with their own seeds.
The API key is read from the environment at request time and is never stored, hashed or printed.

A generation's latency is the time of the HTTP request the server accepted, from sending it to its full
response (earlier refused or failed tries are not part of it): the server's end-to-end latency plus the
network. The samples of one ``n`` request are each charged that request's time, as they ran together.
The context is unknown unless ``context_length`` is given; then prompts are counted by the server's
``/tokenize`` endpoint (vLLM's), before anything is generated.
"""

from __future__ import annotations

import json
import os
import queue
import random
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import Field, PositiveFloat, PositiveInt

from promptarena.backends.openai._deadline import cut_at
from promptarena.backends.openai._jobs import Done, Job, jobs_of, sample_seed
from promptarena.backends.openai._responses import (
    choices_of,
    error_detail,
    failed_completion,
    json_body,
    logprobs_of,
    snippet,
    text_of,
    tool_calls_of,
    whole,
)
from promptarena.backends.options import BackendOptions
from promptarena.errors import BackendError, ConfigError
from promptarena.tools import normalize_calls
from promptarena.types import Generation, GenerationRequest, Message

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_S = 8.0
MAX_RETRY_AFTER_S = 30.0


class _Rejected(Exception):
    """The server refused a request with a client error (4xx other than 429)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class OpenAIOptions(BackendOptions):
    """The openai backend's options in a suite: the server, the model it serves, and how requests are sent."""

    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: PositiveInt = 8
    timeout_s: PositiveFloat = 120
    max_retries: int = Field(default=4, ge=0)
    revision: str | None = None
    context_length: PositiveInt | None = None


class OpenAIBackend:
    """Generations from an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        base_url: The API root, e.g. ``http://127.0.0.1:8000/v1``; default ``$OPENAI_BASE_URL``.
        model: The model id the server serves (as listed by ``GET /models``).
        api_key_env: Name of the environment variable holding the API key; unset means no key is sent.
        concurrency: Requests in flight at once.
        timeout_s: Deadline of one HTTP request, from sending it to the last byte of its answer.
        max_retries: Retries of a request after 429, 5xx, timeouts and connection errors.
        revision: A label for the weights behind ``model`` (part of the cache key), e.g. a commit or date.
        context_length: The model's context in tokens, to refuse prompts that do not fit before generating.
    """

    name = "openai"
    options_model: ClassVar[type[BackendOptions]] = OpenAIOptions

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout_s: float = 120,
        max_retries: int = 4,
        revision: str | None = None,
        context_length: int | None = None,
    ) -> None:
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url or not model or model == "default":
            raise ConfigError(
                "the openai backend needs base_url and model: write them in the suite's model: section, e.g. "
                "{backend: openai, base_url: 'http://127.0.0.1:8000/v1', model: MODEL_ID}, "
                "or set $OPENAI_BASE_URL and pass --model MODEL_ID."
            )
        parts = urlsplit(str(base_url))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"openai backend: base_url {base_url!r} is not an http(s) URL; "
                "set it in the suite's model: section, e.g. http://127.0.0.1:8000/v1."
            )
        if int(concurrency) < 1:
            raise ConfigError(f"openai backend: concurrency must be at least 1, got {concurrency}.")
        self.base_url = str(base_url).rstrip("/")
        self.model = str(model)
        self.api_key_env = api_key_env
        self.concurrency = int(concurrency)
        self.timeout_s = float(timeout_s)
        self.max_retries = max(0, int(max_retries))
        self.revision = None if revision is None else str(revision)
        self.context_length = context_length
        self.truncate: str | None = None
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        self._fingerprint = f"openai:{host}:{self.model}" + (f":{self.revision}" if self.revision else "")
        # whether the server honours ``n`` > 1: unknown until the first sampled group, then fixed for the run
        self.n_supported: bool | None = None
        self._checked = False
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    tool_calling = "api"
    """A prompt's tools go to the server as the request's ``tools``; its ``tool_calls`` come back (provenance)."""

    # --- HTTP -----------------------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        if self._client is None:
            limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
            self._client = httpx.Client(
                timeout=httpx.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s)), limits=limits
            )
        return self._client

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _unreachable(self, url: str, err: Exception) -> BackendError:
        if isinstance(err, httpx.TimeoutException) and not isinstance(err, httpx.ConnectTimeout):
            return BackendError(
                f"openai backend: {url} did not answer within timeout_s={self.timeout_s:g} s "
                f"({self.max_retries + 1} tries). Raise timeout_s or lower concurrency in the suite's model: "
                "section, or check the server's load."
            )
        return BackendError(
            f"openai backend: cannot reach {url} ({type(err).__name__}: {err or 'no detail'}). "
            "Is the server running? Start it (e.g. `vllm serve MODEL` or `python -m llama_cpp.server --model FILE`) "
            "or fix base_url in the suite's model: section."
        )

    def _backoff(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds to wait before retry number ``attempt + 1``: Retry-After when given, else exponential + jitter."""
        if response is not None:
            try:
                return min(MAX_RETRY_AFTER_S, max(0.0, float(response.headers.get("retry-after", ""))))
            except ValueError:
                pass
        base = min(MAX_BACKOFF_S, 0.5 * 2**attempt)
        return base + random.uniform(0, base / 2)

    def _send(self, url: str, payload: dict[str, Any]) -> httpx.Response:
        """POST and read the whole response within ``timeout_s`` of sending it, however slowly the server answers.

        httpx's timeouts bound each network operation, so a server sending a byte now and then would hold a
        request for ever; once the headers are in, a timer shuts the connection at the deadline.
        """
        deadline = time.monotonic() + self.timeout_s
        with (
            self._http().stream("POST", url, json=payload, headers=self._headers()) as response,
            cut_at(response, deadline),
        ):
            response.read()
        return response

    def _post(self, payload: dict[str, Any], stop: threading.Event) -> tuple[dict[str, Any], float]:
        """POST a chat completion with retries; returns the decoded body and the last attempt's latency.

        A completion that the server answered without its text (``content: null``) or aborted is a failed
        request, retried as a 5xx is: it is never cached as an empty answer.
        """
        url = f"{self.base_url}/chat/completions"
        attempt = 0
        while True:
            response: httpx.Response | None = None
            started = time.perf_counter()
            try:
                response = self._send(url, payload)
            except httpx.TransportError as err:  # connection refused or reset, timeouts
                if attempt >= self.max_retries:
                    raise self._unreachable(url, err) from None
            else:
                latency = time.perf_counter() - started
                if response.status_code < 400:
                    body = json_body(response, url)
                    failure = failed_completion(body)
                    if failure is None:
                        return body, latency
                    if attempt >= self.max_retries:
                        raise BackendError(
                            f"openai backend: {url} answered {failure} {attempt + 1} times, a generation that "
                            "failed on the server; check the server's log (memory, preemption, a stopped engine)."
                        )
                elif response.status_code not in RETRY_STATUS:
                    raise _Rejected(response.status_code, error_detail(response))
                elif attempt >= self.max_retries:
                    raise BackendError(
                        f"openai backend: {url} answered HTTP {response.status_code} "
                        f"({error_detail(response)}) {attempt + 1} times; the server is overloaded or failing. "
                        "Lower concurrency in the suite's model: section or check the server's log."
                    )
            if stop.wait(self._backoff(attempt, response)):
                raise BackendError(f"openai backend: the run stopped while retrying {url}.")
            attempt += 1

    def check_server(self) -> list[str]:
        """Check once that the server answers and serves ``model``; returns the served model ids."""
        url = f"{self.base_url}/models"
        try:
            response = self._http().get(url, headers=self._headers())
        except httpx.TransportError as err:
            raise self._unreachable(url, err) from None
        if response.status_code == 404:  # some servers have no /models: the first completion will tell
            return []
        if response.status_code in (401, 403):
            raise BackendError(
                f"openai backend: {url} refused the API key (HTTP {response.status_code}); "
                f"set ${self.api_key_env} to a valid key, or set api_key_env in the suite's model: section."
            )
        if response.status_code >= 400:
            raise BackendError(
                f"openai backend: {url} answered HTTP {response.status_code} ({error_detail(response)}); "
                "check base_url (it usually ends in /v1) and the server's log."
            )
        body = json_body(response, url)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise BackendError(f"openai backend: {url} answered without a 'data' list of models: {snippet(body)}")
        served = [str(m.get("id")) for m in data if isinstance(m, dict)]
        if self.model not in served:
            raise BackendError(
                f"openai backend: the server at {self.base_url} does not serve model {self.model!r}; "
                f"it serves: {', '.join(served) or 'nothing'}. Set model: in the suite to one of them."
            )
        return served

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """The prompt's tokens after the chat template, counted by the server's ``POST /tokenize``."""
        root = self.base_url.removesuffix("/v1")
        url = f"{root}/tokenize"
        chat = [{"role": m.role, "content": m.content} for m in messages]
        payload = {"model": self.model, "messages": chat, "add_generation_prompt": True}
        try:
            response = self._http().post(url, json=payload, headers=self._headers())
        except httpx.TransportError as err:
            raise self._unreachable(url, err) from None
        body = json_body(response, url) if response.status_code < 400 else {}
        count = body.get("count", len(body["tokens"]) if isinstance(body.get("tokens"), list) else None)
        if not isinstance(count, int):
            raise ConfigError(
                f"openai backend: context_length is set but the server cannot count tokens (POST {url} answered "
                f"HTTP {response.status_code}); remove context_length from the suite's model: section, "
                "and the server will judge prompt lengths itself."
            )
        return count

    # --- requests -------------------------------------------------------------------------------------

    def _payload(self, request: GenerationRequest, n: int, seed: int) -> dict[str, Any]:
        p = request.params
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": p.max_new_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "seed": seed,
        }
        if p.stop:
            payload["stop"] = list(p.stop)
        if p.tools:
            payload["tools"] = [t.openai() for t in p.tools]
        if p.response_format:
            payload["response_format"] = json.loads(p.response_format)
        if p.top_logprobs:
            payload["logprobs"] = True
            payload["top_logprobs"] = p.top_logprobs
        if n > 1:
            payload["n"] = n
        return payload

    def _run(self, requests: Sequence[GenerationRequest], job: Job, stop: threading.Event) -> Done:
        """Send one job; a group whose ``n`` the server refuses or cuts short hands back its leftover samples."""
        first = requests[job.indices[0]]
        n = job.n
        if n == 1:
            seed = sample_seed(first.seed, first.sample_index)
        else:
            seed = sample_seed(first.seed, min(requests[i].sample_index for i in job.indices))
        try:
            body, latency = self._post(self._payload(first, n, seed), stop)
        except _Rejected as err:
            if n > 1:  # n is not accepted here: send the samples one by one, for the rest of the run
                self.n_supported = False
                return Done([], job.indices)
            raise self._rejected(err) from None
        choices = choices_of(body, f"{self.base_url}/chat/completions")
        if n > 1:
            self.n_supported = len(choices) >= n
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        prompt_tokens = whole(usage.get("prompt_tokens"))
        total_completion = whole(usage.get("completion_tokens"))
        taken = choices[:n]
        results = []
        for index, choice in zip(job.indices, taken, strict=False):
            text = text_of(choice, f"{self.base_url}/chat/completions")
            # Servers report usage for the whole request: with several choices, completion tokens are a
            # total, split here evenly (rounded) over the choices; the prompt counts for each sample, and so
            # does the request's time: the samples ran concurrently, each from admission to the response.
            if total_completion is None:
                completion = len(text.split())  # no usage reported: words stand in for tokens
            elif len(taken) == 1:
                completion = total_completion
            else:
                completion = round(total_completion / len(taken))
            finish = "length" if choice.get("finish_reason") == "length" else "stop"
            logprobs = logprobs_of(choice) if first.params.top_logprobs else None
            calls = normalize_calls(tool_calls_of(choice, text), first.params.tools) if first.params.tools else None
            generation = Generation(text, prompt_tokens or 0, completion, latency, finish, logprobs, calls)
            results.append((index, generation))
        return Done(results, job.indices[len(taken) :])

    def _rejected(self, err: _Rejected) -> BackendError:
        url = f"{self.base_url}/chat/completions"
        if err.status in (401, 403):
            return BackendError(
                f"openai backend: {url} refused the API key (HTTP {err.status}); "
                f"set ${self.api_key_env} to a valid key, or set api_key_env in the suite's model: section."
            )
        return BackendError(
            f"openai backend: {url} rejected the request (HTTP {err.status}: {err.detail}); "
            "check model, max_new_tokens and the prompt's length against the server's settings."
        )

    def load(self) -> None:
        """Check the server once: it answers, and it serves the model."""
        with self._lock:
            if not self._checked:
                self.check_server()
                self._checked = True

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[tuple[int, Generation]]:
        """Yield ``(index, generation)`` for every request as its HTTP response arrives."""
        if not requests:
            return
        self.load()
        jobs = jobs_of(requests, self.n_supported is not False)
        # while it is unknown whether the server honours n, one group goes first and the others wait for it
        held: list[Job] = []
        if self.n_supported is None:
            grouped = [j for j in jobs if j.n > 1]
            held = grouped[1:]
            jobs = [j for j in jobs if j.n == 1] + grouped[:1]
        # Daemon threads rather than a ThreadPoolExecutor: a request still in flight when the run fails or is
        # interrupted must not hold the process open until its timeout.
        stop = threading.Event()
        inbox: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        outbox: queue.SimpleQueue[tuple[Done | None, BaseException | None]] = queue.SimpleQueue()

        def work() -> None:
            while (job := inbox.get()) is not None and not stop.is_set():
                try:
                    outbox.put((self._run(requests, job, stop), None))
                except BaseException as err:  # handed to the caller's thread, which raises it
                    outbox.put((None, err))

        workers = [
            threading.Thread(target=work, name=f"openai-{i}", daemon=True)
            for i in range(min(self.concurrency, len(requests)))
        ]
        for worker in workers:
            worker.start()
        for job in jobs:
            inbox.put(job)
        outstanding = len(jobs)
        try:
            while outstanding:
                try:
                    done, err = outbox.get(timeout=0.5)
                except queue.Empty:
                    continue
                outstanding -= 1
                if err is not None:
                    raise err
                assert done is not None
                yield from done.results
                more = [Job((i,)) for i in done.leftover]
                if held and self.n_supported is not None:
                    for job in held:
                        more.extend([job] if self.n_supported else [Job((i,)) for i in job.indices])
                    held = []
                for job in more:
                    inbox.put(job)
                outstanding += len(more)
        finally:
            stop.set()
            for _ in workers:
                inbox.put(None)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
