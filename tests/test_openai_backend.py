"""The openai backend against real HTTP servers: a scripted ``http.server`` on 127.0.0.1 for the protocol's
corners (retries, malformed answers, ``n``), and llama.cpp's server on the embedded model end to end."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from promptarena.backends import check_context, get_backend
from promptarena.backends.openai import OpenAIBackend
from promptarena.errors import BackendError, ConfigError
from promptarena.hashing import canonical_json
from promptarena.types import GenerationRequest, GenParams, Message
from tests.support.cli import EVALS, cli, evals, exited
from tests.support.llama_server import MODEL_ALIAS, LlamaServer
from tests.support.net import free_port
from tests.support.repos import COUNTRIES, count_rows, qa_repo, results_db, write_suite

Reply = tuple[int, dict[str, str], bytes | Iterable[bytes]]  # an iterable is sent chunk by chunk, as it yields


# --- a scripted OpenAI-compatible server ----------------------------------------------------------------


def completion(texts: list[str], prompt_tokens: int = 5, finish: str = "stop") -> Reply:
    body = {
        "object": "chat.completion",
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": finish}
            for i, t in enumerate(texts)
        ],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 2 * len(texts)},
    }
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def capital_answer(body: dict[str, Any]) -> Reply:
    """Answers "Capital of X?" with X's capital; ``n`` choices when asked for them."""
    last = body["messages"][-1]["content"]
    city = next((city for country, city in COUNTRIES.items() if country in last), "unknown")
    return completion([city] * body.get("n", 1))


class Scripted:
    """An HTTP server on 127.0.0.1 that answers ``POST /v1/chat/completions`` with ``reply(body)``."""

    def __init__(self, reply: Callable[[dict[str, Any]], Reply] = capital_answer, models: tuple[str, ...] = ("m",)):
        self.reply = reply
        self.models = models
        self.posts: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, headers: dict[str, str], data: bytes | Iterable[bytes]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if isinstance(data, bytes):
                    self.send_header("Content-Length", str(len(data)))
                    data = [data]
                self.end_headers()
                for chunk in data:
                    self.wfile.write(chunk)
                    self.wfile.flush()

            def do_GET(self) -> None:
                data = json.dumps({"object": "list", "data": [{"id": m} for m in outer.models]}).encode()
                self._send(200, {"Content-Type": "application/json"}, data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.posts.append(body)
                outer.headers.append(dict(self.headers))
                self._send(*outer.reply(body))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # a client that gave up: nothing to report
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    yield server
    server.close()


def ask(question: str, *, temperature: float = 0.0, sample: int = 0, seed: int = 7) -> GenerationRequest:
    params = GenParams(max_new_tokens=8, temperature=temperature, stop=("\n",))
    return GenerationRequest((Message("user", question),), params, seed, sample)


def run(backend: OpenAIBackend, requests: list[GenerationRequest]) -> dict[int, Any]:
    out = dict(backend.generate(requests))
    assert sorted(out) == list(range(len(requests)))
    return out


# --- contract, fingerprint, payload --------------------------------------------------------------------


def test_fingerprint_is_host_port_model_revision_and_needs_no_server() -> None:
    backend = get_backend("openai", base_url="http://10.0.0.5:8000/v1", model="Qwen/Qwen2.5-7B")
    assert backend.fingerprint == "openai:10.0.0.5:8000:Qwen/Qwen2.5-7B"
    pinned = OpenAIBackend("https://api.example.com/v1/", "m", revision="2024-06")
    assert pinned.fingerprint == "openai:api.example.com:m:2024-06"


def test_missing_or_wrong_base_url_is_a_config_error(monkeypatch) -> None:
    with pytest.raises(ConfigError, match="base_url"):
        OpenAIBackend("localhost:8000", "m")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        OpenAIBackend(model="m")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert OpenAIBackend(model="m").fingerprint == "openai:127.0.0.1:9:m"


def test_payload_usage_and_finish_reason(scripted: Scripted) -> None:
    scripted.reply = lambda body: completion(["Pa"], prompt_tokens=11, finish="length")
    (gen,) = run(OpenAIBackend(scripted.url, "m"), [ask("Capital of France?")]).values()
    assert gen.text == "Pa" and gen.prompt_tokens == 11 and gen.completion_tokens == 2
    assert gen.finish_reason == "length" and gen.latency_s > 0
    (body,) = scripted.posts
    assert body["model"] == "m" and body["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert body["max_tokens"] == 8 and body["temperature"] == 0 and body["stop"] == ["\n"]
    assert body["seed"] == 7000 and "n" not in body


def test_response_format_is_sent_as_written_and_only_when_set(scripted: Scripted) -> None:
    form = {"type": "json_schema", "json_schema": {"name": "city", "schema": {"type": "object"}}}
    constrained = dataclasses.replace(ask("Capital of France?").params, response_format=canonical_json(form))
    run(OpenAIBackend(scripted.url, "m"), [ask("Capital of Peru?"), GenerationRequest(ask("x").messages, constrained)])
    bodies = sorted(scripted.posts, key=lambda b: "response_format" in b)
    assert "response_format" not in bodies[0] and bodies[1]["response_format"] == form


def test_concurrent_requests_are_bounded_and_yielded_as_they_complete(scripted: Scripted) -> None:
    active, peak, lock = [0], [0], threading.Lock()

    def slow(body: dict[str, Any]) -> Reply:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.4 if "France" in body["messages"][-1]["content"] else 0.05)
        with lock:
            active[0] -= 1
        return capital_answer(body)

    scripted.reply = slow
    questions = [f"Capital of {c}?" for c in COUNTRIES]
    order = [i for i, _ in OpenAIBackend(scripted.url, "m", concurrency=3).generate([ask(q) for q in questions])]
    assert sorted(order) == list(range(len(questions)))
    assert peak[0] == 3
    assert order[0] != 0  # France (index 0) is slow: others come back first


def test_api_key_is_read_from_the_environment_at_request_time(scripted: Scripted, monkeypatch) -> None:
    backend = OpenAIBackend(scripted.url, "m", api_key_env="MY_KEY")
    monkeypatch.delenv("MY_KEY", raising=False)
    run(backend, [ask("Capital of Peru?")])
    monkeypatch.setenv("MY_KEY", "sk-test-123")
    run(backend, [ask("Capital of Chile?")])
    assert "authorization" not in {k.lower() for k in scripted.headers[0]}
    assert scripted.headers[1]["Authorization"] == "Bearer sk-test-123"
    assert "sk-test" not in backend.fingerprint


# --- retries and errors -----------------------------------------------------------------------------------


def test_429_then_success_is_retried(scripted: Scripted) -> None:
    calls = []

    def busy_once(body: dict[str, Any]) -> Reply:
        calls.append(1)
        if len(calls) == 1:
            return 429, {"Retry-After": "0", "Content-Type": "application/json"}, b'{"error": {"message": "busy"}}'
        if len(calls) == 2:
            return 503, {}, b"overloaded"
        return capital_answer(body)

    scripted.reply = busy_once
    (gen,) = run(OpenAIBackend(scripted.url, "m", concurrency=1), [ask("Capital of Japan?")]).values()
    assert gen.text == "Tokyo" and len(calls) == 3


def test_retries_run_out_with_a_backend_error(scripted: Scripted) -> None:
    scripted.reply = lambda body: (503, {"Retry-After": "0"}, b"overloaded")
    with pytest.raises(BackendError, match=r"HTTP 503.*2 times"):
        run(OpenAIBackend(scripted.url, "m", max_retries=1), [ask("Capital of Japan?")])
    assert len(scripted.posts) == 2


def test_timeout_is_retried_then_says_which_setting_to_raise(scripted: Scripted) -> None:
    def stall(body: dict[str, Any]) -> Reply:
        time.sleep(0.6)
        return capital_answer(body)

    scripted.reply = stall
    with pytest.raises(BackendError, match=r"did not answer within timeout_s=0.2 s \(2 tries\)"):
        run(OpenAIBackend(scripted.url, "m", timeout_s=0.2, max_retries=1), [ask("Capital of Japan?")])
    assert len(scripted.posts) == 2


def trickle(reply: Reply, every_s: float = 0.3, fast: int = 20) -> Reply:
    """``reply`` with its body sent slowly: all but the last ``fast`` bytes at once, then one byte every ``every_s``."""
    status, headers, data = reply
    assert isinstance(data, bytes)

    def chunks() -> Iterator[bytes]:
        yield data[:-fast]
        for byte in data[-fast:]:
            time.sleep(every_s)
            yield bytes([byte])

    return status, {**headers, "Content-Length": str(len(data))}, chunks()


def test_timeout_is_a_deadline_for_the_whole_request_not_for_each_read(scripted: Scripted) -> None:
    """A byte every 0.3 s never lets a read wait 2 s, yet the answer takes 6 s: the request fails at 2 s."""
    scripted.reply = lambda body: trickle(capital_answer(body))
    started = time.monotonic()
    with pytest.raises(BackendError, match=r"did not answer within timeout_s=2 s \(1 tries\)"):
        run(OpenAIBackend(scripted.url, "m", timeout_s=2, max_retries=0), [ask("Capital of Japan?")])
    assert time.monotonic() - started < 4
    scripted.reply = lambda body: trickle(capital_answer(body), every_s=0.01)  # the same, in time: accepted
    (gen,) = run(OpenAIBackend(scripted.url, "m", timeout_s=2, max_retries=0), [ask("Capital of Japan?")]).values()
    assert gen.text == "Tokyo"


def _failed(kind: str) -> Reply:
    """A 200 answer whose generation failed on the server: no text, or aborted."""
    status, headers, data = completion(["partial"])
    body = json.loads(data)
    if kind == "content null":
        body["choices"][0]["message"]["content"] = None
    else:
        body["choices"][0]["finish_reason"] = "abort"
    return status, headers, json.dumps(body).encode()


@pytest.mark.parametrize(("kind", "says"), [("content null", "a choice with content null"), ("abort", "'abort'")])
def test_an_answer_without_its_text_or_aborted_is_a_failed_request(scripted: Scripted, kind: str, says: str) -> None:
    """Retried as a 5xx is, never cached as an empty answer that stopped normally."""
    scripted.reply = lambda body: _failed(kind) if len(scripted.posts) == 1 else capital_answer(body)
    backend = OpenAIBackend(scripted.url, "m", max_retries=1)
    (gen,) = run(backend, [ask("Capital of Japan?")]).values()
    assert (gen.text, gen.finish_reason, len(scripted.posts)) == ("Tokyo", "stop", 2)
    scripted.reply = lambda body: _failed(kind)
    with pytest.raises(BackendError, match=f"answered (finish_reason )?{says} 2 times"):
        run(backend, [ask("Capital of Peru?")])


def test_cli_answers_without_text_exit_3_and_cache_nothing(tmp_path: Path, scripted: Scripted) -> None:
    scripted.reply = lambda body: _failed("content null")
    repo = openai_repo(tmp_path / "repo", scripted.url, max_retries=0)
    err = exited(cli("run", "--repo", str(repo.root)), 3)
    assert "content null" in err and f"{scripted.url}/chat/completions" in err
    assert count_rows(results_db(repo), "generations") == 0


@pytest.mark.parametrize(
    ("reply", "what"),
    [
        ((200, {"Content-Type": "text/html"}, b"<html>hello</html>"), "did not answer with JSON"),
        ((200, {"Content-Type": "application/json"}, b'{"id": "x"}'), "without a 'choices' list"),
        ((200, {"Content-Type": "application/json"}, b'{"choices": [{"text": "x"}]}'), "without a 'message'"),
    ],
)
def test_malformed_response_is_a_backend_error_naming_the_url(scripted: Scripted, reply: Reply, what: str) -> None:
    scripted.reply = lambda body: reply
    with pytest.raises(BackendError) as err:
        run(OpenAIBackend(scripted.url, "m"), [ask("Capital of Japan?")])
    assert what in str(err.value) and f"{scripted.url}/chat/completions" in str(err.value)


def test_client_error_is_not_retried(scripted: Scripted) -> None:
    scripted.reply = lambda body: (400, {}, b'{"error": {"message": "context length exceeded"}}')
    with pytest.raises(BackendError, match="HTTP 400: context length exceeded"):
        run(OpenAIBackend(scripted.url, "m"), [ask("Capital of Japan?")])
    assert len(scripted.posts) == 1


def test_model_not_served_lists_the_served_ids(scripted: Scripted) -> None:
    scripted.models = ("llama-3-8b", "qwen2.5-7b")
    with pytest.raises(BackendError, match="does not serve model 'm'.*llama-3-8b, qwen2.5-7b"):
        run(OpenAIBackend(scripted.url, "m"), [ask("Capital of Japan?")])
    assert scripted.posts == []


def test_unreachable_server_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(BackendError, match=re.escape(url) + ".*Is the server running"):
        run(OpenAIBackend(url, "m"), [ask("Capital of Japan?")])


# --- samples of one prompt: one request with n, or separate requests --------------------------------------


def samples(k: int = 3) -> list[GenerationRequest]:
    return [ask("Capital of Italy?", temperature=0.7, sample=i) for i in range(k)]


def test_samples_go_as_one_request_with_n_when_the_server_honours_it(scripted: Scripted) -> None:
    backend = OpenAIBackend(scripted.url, "m")
    gens = run(backend, [ask("Capital of Spain?"), *samples(3)])
    assert [g.text for g in gens.values()].count("Rome") == 3
    assert sorted(p.get("n", 1) for p in scripted.posts) == [1, 3]
    # the total of completion tokens is split over the choices; each sample counts the prompt
    assert all(gens[i].completion_tokens == 2 and gens[i].prompt_tokens == 5 for i in (1, 2, 3))
    assert backend.n_supported is True


def test_server_that_ignores_n_falls_back_to_separate_requests_for_the_run(scripted: Scripted) -> None:
    scripted.reply = lambda body: completion(["Rome"])  # one choice, whatever n says
    backend = OpenAIBackend(scripted.url, "m")
    gens = run(backend, samples(3) + [ask("Capital of Peru?", temperature=0.7, sample=i) for i in range(3)])
    assert [g.text for g in gens.values()] == ["Rome"] * 6
    assert backend.n_supported is False
    # one probe with n=3 (its one choice is kept), then every other sample alone with its own seed
    assert [p.get("n", 1) for p in scripted.posts].count(3) == 1 and len(scripted.posts) == 6
    assert {p["seed"] for p in scripted.posts if "n" not in p} >= {7001, 7002}
    scripted.posts.clear()
    run(backend, samples(2))
    assert [p.get("n", 1) for p in scripted.posts] == [1, 1]


def test_server_that_rejects_n_falls_back_to_separate_requests(scripted: Scripted) -> None:
    def no_n(body: dict[str, Any]) -> Reply:
        if body.get("n", 1) > 1:
            return 400, {}, b'{"error": {"message": "n > 1 is not supported"}}'
        return capital_answer(body)

    scripted.reply = no_n
    backend = OpenAIBackend(scripted.url, "m")
    assert [g.text for g in run(backend, samples(3)).values()] == ["Rome"] * 3
    assert backend.n_supported is False and len(scripted.posts) == 4


# --- through `evals run`, against the scripted server -----------------------------------------------------


def openai_repo(root: Path, url: str, **model: Any) -> Any:
    repo = qa_repo(root)
    write_suite(repo, model={"backend": "openai", "base_url": url, "model": "m", **model})
    return repo


def test_cli_run_sends_the_key_but_never_stores_or_prints_it(tmp_path: Path, scripted: Scripted) -> None:
    secret = "sk-do-not-store-4f9a1c"
    repo = openai_repo(tmp_path / "repo", scripted.url)
    out = cli("run", "--json", "--repo", str(repo.root), env={"OPENAI_API_KEY": secret})
    exited(out, 0)
    (suite,) = json.loads(out.stdout)["suites"]
    assert suite["generated"] == 2 * len(COUNTRIES) and suite["model"].startswith("openai:127.0.0.1:")
    assert all(h["Authorization"] == f"Bearer {secret}" for h in scripted.headers)
    assert secret not in out.stdout + out.stderr
    for path in (repo.root / ".promptarena").iterdir():  # the database and its WAL
        assert secret.encode() not in path.read_bytes(), path


def test_cli_backend_option_uses_openai_base_url(tmp_path: Path, scripted: Scripted) -> None:
    repo = qa_repo(tmp_path / "repo")  # a suite written for the fake backend
    args = ("run", "--repo", str(repo.root), "--backend", "openai")
    out = cli(*args, "--model", "m", "--json", env={"OPENAI_BASE_URL": scripted.url})
    exited(out, 0)
    assert json.loads(out.stdout)["suites"][0]["model"] == f"openai:127.0.0.1:{scripted.httpd.server_address[1]}:m"
    assert "base_url" in exited(cli(*args, env={"OPENAI_BASE_URL": ""}), 2)


def test_cli_malformed_response_exits_3_without_traceback(tmp_path: Path, scripted: Scripted) -> None:
    scripted.reply = lambda body: (200, {"Content-Type": "text/plain"}, b"not json")
    repo = openai_repo(tmp_path / "repo", scripted.url)
    err = exited(cli("run", "--repo", str(repo.root)), 3)
    assert f"{scripted.url}/chat/completions" in err and "JSON" in err


def test_cli_server_not_started_exits_3_naming_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    repo = openai_repo(tmp_path / "repo", url)
    err = exited(cli("run", "--repo", str(repo.root)), 3)
    assert url in err and "Is the server running" in err


# --- against a real llama.cpp server ----------------------------------------------------------------------


@pytest.mark.server
def test_real_server_runs_plain_cot_and_self_consistency_then_caches(tmp_path: Path, llama_server: LlamaServer) -> None:
    repo = qa_repo(tmp_path / "repo")
    write_suite(
        repo,
        model={"backend": "openai", "base_url": llama_server.base_url, "model": MODEL_ALIAS, "concurrency": 4},
        variants=["plain", {"cot": {"max_new_tokens": 24}}, {"self_consistency": {"samples": 3}}],
        versions=["HEAD"],
        parameters={"max_new_tokens": 8},
        metrics=["exact_match", "contains"],
    )
    first = evals("run", "--json", cwd=repo.root)
    assert first.returncode == 0, first.stderr  # no thresholds: no gate, whatever a 135M model answers
    (suite,) = json.loads(first.stdout)["suites"]
    n = len(COUNTRIES)
    assert suite["generated"] == n * (1 + 1 + 3) and suite["cached"] == 0
    arms = {a["variant"]: a for a in suite["arms"]}
    assert set(arms) == {"plain", "cot", "self_consistency"}
    assert arms["plain"]["metrics"]["contains"]["mean"] > 0  # the model does know some capitals
    con = sqlite3.connect(results_db(repo))
    texts = [row[0] for row in con.execute("SELECT text FROM generations")]
    assert len(texts) == n * 5 and sum(bool(t and t.strip()) for t in texts) >= n * 4
    again = evals("run", "--json", cwd=repo.root)
    (suite,) = json.loads(again.stdout)["suites"]
    assert suite["generated"] == 0 and suite["cached"] == n * 5


@pytest.mark.server
def test_real_server_answers_within_the_response_format_schema(llama_server: LlamaServer) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    form = canonical_json({"type": "json_object", "schema": schema})  # the form llama.cpp's server takes
    params = GenParams(max_new_tokens=40, response_format=form)
    requests = [GenerationRequest((Message("user", f"Tell me about {c}."),), params) for c in ("France", "Peru")]
    out = run(OpenAIBackend(llama_server.base_url, MODEL_ALIAS), requests)
    for generation in out.values():
        jsonschema.validate(json.loads(generation.text), schema)


@pytest.mark.server
def test_server_killed_mid_run_keeps_rows_and_rerun_makes_only_the_missing(
    tmp_path: Path, llama_server: LlamaServer
) -> None:
    cases = [{"id": f"c{i}", "vars": {"country": f"country number {i}"}, "reference": "x"} for i in range(12)]
    repo = qa_repo(tmp_path / "repo")
    repo.write("evals/cases/slow.jsonl", "\n".join(json.dumps(c) for c in cases) + "\n")
    model = {"backend": "openai", "base_url": llama_server.base_url, "model": MODEL_ALIAS}
    write_suite(
        repo,
        name="slow",
        model={**model, "concurrency": 1, "max_retries": 1},
        versions=["HEAD"],
        parameters={"max_new_tokens": 16},
    )
    db = results_db(repo)
    proc = subprocess.Popen([EVALS, "run", "slow"], cwd=repo.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while count_rows(db, "generations") < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    llama_server.kill()
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        llama_server.start()
    assert proc.returncode == 3, stderr
    assert llama_server.base_url in stderr.decode() and b"Traceback" not in stderr
    stored = count_rows(db, "generations")
    assert 3 <= stored < len(cases)
    out = evals("run", "slow", "--json", cwd=repo.root)
    assert out.returncode == 0, out.stderr
    (suite,) = json.loads(out.stdout)["suites"]
    assert suite["generated"] == len(cases) - stored and suite["cached"] == stored
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*), count(DISTINCT key) FROM generations").fetchone() == (len(cases),) * 2


# --- context length ------------------------------------------------------------------------------------


def _tokenizing(count: int | None) -> Callable[[dict[str, Any]], Reply]:
    """Answers vLLM's ``POST /tokenize`` with ``count`` tokens (404 when None), and completions as usual."""

    def reply(body: dict[str, Any]) -> Reply:
        if "add_generation_prompt" not in body:
            return capital_answer(body)
        if count is None:
            return 404, {"Content-Type": "application/json"}, b'{"detail": "Not Found"}'
        return 200, {"Content-Type": "application/json"}, json.dumps({"count": count, "tokens": []}).encode()

    return reply


def test_context_is_checked_only_when_given_and_counted_by_the_server() -> None:
    server = Scripted(_tokenizing(30))
    try:
        check_context(OpenAIBackend(base_url=server.url, model="m"), [(ask("Capital of France?"), "here")])
        assert server.posts == []  # no context_length: the server judges lengths itself
        backend = OpenAIBackend(base_url=server.url, model="m", context_length=32)
        with pytest.raises(ConfigError) as info:
            check_context(backend, [(ask("Capital of France?"), "evals/qa.yaml:3: case 'fr'")])
        assert str(info.value) == (
            "evals/qa.yaml:3: case 'fr': the prompt is 30 tokens and max_new_tokens is 8, over the model's "
            "context of 32 tokens; shorten the input, lower max_new_tokens."
        )
        assert server.posts[0]["messages"] == [{"role": "user", "content": "Capital of France?"}]
        check_context(OpenAIBackend(base_url=server.url, model="m", context_length=38), [(ask("Capital?"), "x")])
    finally:
        server.close()


def test_context_length_on_a_server_that_cannot_count_says_what_to_remove() -> None:
    server = Scripted(_tokenizing(None))
    try:
        backend = OpenAIBackend(base_url=server.url, model="m", context_length=32)
        with pytest.raises(ConfigError, match="remove context_length"):
            check_context(backend, [(ask("Capital of France?"), "here")])
    finally:
        server.close()
