"""The transformers backend: torch-free fingerprint, errors, sampling helpers, and real-model behaviour."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from types import SimpleNamespace

import pytest

from promptarena.backends.transformers import TransformersBackend
from promptarena.backends.transformers._device import (
    MAX_CPU_BATCH_SIZE,
    default_batch_size,
    resolve_device,
    resolve_dtype,
)
from promptarena.errors import BackendError, ConfigError
from promptarena.types import GenerationRequest, GenParams, Message
from tests.support.generation import ask


def run(backend: TransformersBackend, requests: list[GenerationRequest]) -> list:
    results = dict(backend.generate(requests))
    assert sorted(results) == list(range(len(requests)))
    return [results[i] for i in range(len(requests))]


# ------------------------------------------------------------------------------------- without a model


def test_fingerprint_does_not_import_torch(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        from promptarena.backends.transformers import TransformersBackend
        print(TransformersBackend().fingerprint)
        heavy = {"torch", "transformers"} & set(sys.modules)
        assert not heavy, f"importing the backend and computing its fingerprint imported {heavy}"
        """
    )
    env = {**os.environ, "PROMPTARENA_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    kind, model, digest, dtype, device, *mode = out.stdout.strip().split(":")
    assert (kind, model) == ("transformers", "default")
    assert len(digest) == 16 and int(digest, 16) >= 0
    assert dtype in {"bfloat16", "float32"} and device in {"cpu", "cuda"}
    assert mode == (["batch-invariant"] if device == "cpu" else [])  # the default decoding mode of each device


def test_batch_invariant_decoding_is_the_cpu_default_and_named_by_the_fingerprint():
    """Both modes' outputs differ in rounding, so their cached generations must never mix."""
    invariant = TransformersBackend(device="cpu")
    fast = TransformersBackend(device="cpu", batch_invariant=False)
    assert (invariant.batch_invariant, invariant.decoding) == (True, "batch-invariant")
    assert (fast.batch_invariant, fast.decoding) == (False, "fast")
    assert invariant.fingerprint == fast.fingerprint + ":batch-invariant"
    assert not TransformersBackend(device="cpu", decode="dynamic").batch_invariant  # the growing cache: fast
    assert not TransformersBackend(device="cuda").batch_invariant  # not provided on a GPU
    with pytest.raises(ConfigError, match=r"batch_invariant: true is provided on CPU only.*set `device: cpu`"):
        TransformersBackend(device="cuda", batch_invariant=True)
    with pytest.raises(ConfigError, match=r"decodes in fixed slots, and decode is 'dynamic'"):
        TransformersBackend(device="cpu", decode="dynamic", batch_invariant=True)


def test_a_model_with_a_sliding_window_decodes_in_the_fast_mode_by_default(tmp_path):
    """Slots attend to every earlier position, so a sliding window (read from config.json, without loading the
    model) keeps the fast path unless batch_invariant is asked for, which the load then refuses."""
    import json

    from promptarena.backends.transformers._device import full_attention

    assert full_attention(None) and full_attention({"sliding_window": None, "layer_types": ["full_attention"]})
    assert not full_attention({"sliding_window": 4096})
    assert full_attention({"sliding_window": 4096, "use_sliding_window": False})  # as Qwen2 ships it
    assert not full_attention({"text_config": {"layer_types": ["sliding_attention", "full_attention"]}})
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "mistral", "sliding_window": 4096}))
    (model / "model.safetensors").write_bytes(b"weights")  # hashed for the fingerprint, never loaded here
    backend = TransformersBackend(model=str(model), device="cpu")
    assert (backend.batch_invariant, backend.fingerprint.endswith(":cpu")) == (False, True)
    assert TransformersBackend(model=str(model), device="cpu", batch_invariant=True).batch_invariant


def test_a_linear_kernel_is_given_the_rows_from_which_its_result_is_the_same_in_any_batch():
    """A kernel that sums a lone row in another order, as BLAS does below five rows, gets padded rows."""
    torch = pytest.importorskip("torch")
    from promptarena.backends.transformers._device import make_row_invariant, row_floor

    def small_batches_differ(x):  # rounds otherwise below five rows, as a BLAS kernel does
        return x * 2 + (1e-3 if x.shape[0] < 5 else 0)

    assert row_floor(small_batches_differ, 96, torch.float32) == 8
    assert row_floor(lambda x: x * 2, 96, torch.float32) == 2  # one row is never given alone
    assert row_floor(lambda x: x * 2 + x.shape[0], 96, torch.float32) is None

    model = torch.nn.Sequential(torch.nn.Linear(96, 64))
    make_row_invariant(model)
    x = torch.randn(1, 96)
    assert torch.equal(model(x), model(torch.cat([x, torch.randn(1, 96)]))[:1])
    model[0].forward = lambda x: x @ model[0].weight.T + x.shape[0]
    with pytest.raises(BackendError, match=r"0 \(96x64, torch.float32\).*set `batch_invariant: false`"):
        make_row_invariant(model)


@pytest.mark.parametrize("path", ["./no/such/model", "/no/such/model.gguf", "../missing"])
def test_missing_model_path_names_it(path):
    with pytest.raises(BackendError) as info:
        _ = TransformersBackend(model=path).fingerprint
    assert path in str(info.value)
    assert info.value.exit_code == 3


def test_auto_device_and_dtype(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert resolve_device("auto") == "cpu"
    assert resolve_dtype("auto", "cuda") == "bfloat16"
    assert resolve_dtype("fp32", "cuda") == "float32"
    with pytest.raises(ConfigError, match="dtype"):
        resolve_dtype("int3", "cpu")
    with pytest.raises(ConfigError, match="device"):
        resolve_device("tpu")


def test_cpu_batch_holds_every_pending_row_that_memory_allows():
    pytest.importorskip("torch")
    shape = {"num_hidden_layers": 30, "num_key_value_heads": 3, "num_attention_heads": 9, "head_dim": 64}
    smollm = SimpleNamespace(**shape, hidden_size=576, vocab_size=49152)
    assert default_batch_size(smollm, "cpu", "bfloat16", 48) == MAX_CPU_BATCH_SIZE > 64
    assert 1 <= default_batch_size(smollm, "cpu", "bfloat16", 10**8) < MAX_CPU_BATCH_SIZE


def test_inverse_cdf_follows_the_weights_and_skips_zeros():
    torch = pytest.importorskip("torch")
    from promptarena.backends.transformers._sampling import inverse_cdf

    weights = torch.zeros(2, 300)
    weights[0, [3, 150, 299]] = torch.tensor([1.0, 2.0, 1.0])
    weights[1, 7] = 5.0
    u = torch.linspace(0, 0.9999, 400)
    picks = Counter(inverse_cdf(weights[:1].expand(400, -1).contiguous(), u).tolist())
    assert set(picks) == {3, 150, 299}
    assert abs(picks[150] / 400 - 0.5) < 0.01
    assert (
        inverse_cdf(weights[1:].expand(4, -1).contiguous(), torch.tensor([0.0, 0.3, 0.9, 0.99999])).tolist() == [7] * 4
    )


def test_a_rows_nucleus_does_not_depend_on_the_other_rows():
    """Tied probabilities at the nucleus boundary are all kept: neither their order nor whether the batch sorted
    the whole vocabulary (another row's top_p decides that) changes a row's nucleus."""
    torch = pytest.importorskip("torch")
    from promptarena.backends.transformers._sampling import nucleus_weights

    probs = torch.zeros(1, 1000)
    probs[0, [10, 500, 700]] = 0.3  # three tokens tied at 0.3: two of them reach top_p 0.5
    probs[0, 20:120] = 0.001
    alone = nucleus_weights(probs, torch.tensor([0.5]))
    assert alone[0].nonzero().flatten().tolist() == [10, 500, 700]
    assert torch.equal(alone[0, [10, 500, 700]], probs[0, [10, 500, 700]])
    spread = torch.full((1, 1000), 1e-3)  # its top 512 tokens hold less than its top_p: the batch sorts everything
    for other in (0.9, 1.0):
        both = nucleus_weights(torch.cat([probs, spread]), torch.tensor([0.5, other]))
        assert torch.equal(both[0], alone[0])
    assert int((nucleus_weights(spread, torch.tensor([0.9]))[0] > 0).sum()) == 1000  # all tied: all kept


@pytest.mark.parametrize("mask", ["none", "padding", "additive"])
def test_cpu_decode_attention_computes_what_sdpa_computes(mask):
    """One query per row over a cache, grouped query heads (9 over 3, as SmolLM2): the matmul path gives
    SDPA's output to fp32 rounding; a prefill (several queries) goes to SDPA itself."""
    torch = pytest.importorskip("torch")
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from promptarena.backends.transformers._attention import attention

    torch.manual_seed(0)
    module = SimpleNamespace(num_key_value_groups=3, is_causal=True)
    rows, length = 5, 17
    query = torch.randn(rows, 1, 9, 64).transpose(1, 2)  # as the model passes it: a transposed view
    key, value = torch.randn(rows, 3, length, 64), torch.randn(rows, 3, length, 64)
    keep = torch.ones(rows, 1, 1, length, dtype=torch.bool)
    keep[1, ..., :6] = keep[3, ..., :2] = False  # left padding of shorter prompts
    masks = {"none": None, "padding": keep, "additive": torch.zeros(keep.shape).masked_fill(~keep, float("-inf"))}
    got, _ = attention(module, query, key, value, masks[mask], scaling=0.125)
    want, _ = sdpa_attention_forward(module, query, key, value, masks[mask], scaling=0.125)
    assert got.shape == want.shape == (rows, 1, 9, 64)
    assert torch.allclose(got, want, atol=1e-5)
    narrow = value[..., :48]  # value heads narrower than query/key heads (as in multi-head latent attention)
    got, _ = attention(module, query, key, narrow, masks[mask], scaling=0.125)
    want, _ = sdpa_attention_forward(module, query, key, narrow, masks[mask], scaling=0.125)
    assert got.shape == want.shape == (rows, 1, 9, 48) and torch.allclose(got, want, atol=1e-5)
    prefill = torch.randn(rows, 9, 4, 64)
    assert torch.equal(
        attention(module, prefill, key, value, None)[0], sdpa_attention_forward(module, prefill, key, value, None)[0]
    )


# ------------------------------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def backend() -> TransformersBackend:
    return TransformersBackend()


@pytest.fixture(scope="module")
def fast() -> TransformersBackend:
    """The fast decoding mode, whose bf16 kernels are those of plain generate()."""
    return TransformersBackend(batch_invariant=False)


@pytest.fixture(scope="module")
def backend32() -> TransformersBackend:
    """float32, in the default (batch-invariant) decoding mode."""
    return TransformersBackend(dtype="float32")


@pytest.fixture(scope="module")
def fast32() -> TransformersBackend:
    """float32 in the fast decoding mode (the growing cache), where batch composition changes logits only by
    ~1e-6: results can be compared exactly."""
    return TransformersBackend(dtype="float32", batch_invariant=False)


QUESTION = "In one sentence, what is a volcano?"
SHORT = "In one word, what color is the sky?"  # a short greedy answer keeps the plain generate() reference quick


def generate_plainly(dtype: str, question: str, max_new_tokens: int) -> tuple[str, int, int]:
    """Plain Hugging Face greedy generate() (F.linear, SDPA) on the model: (text, completion tokens, prompt tokens)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from promptarena.backends.transformers._weights import resolve_model

    path = str(resolve_model("default").path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).eval()
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
    )
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    new = out[0, enc["input_ids"].shape[1] :].tolist()
    eos = tokenizer.eos_token_id
    count = new.index(eos) + 1 if eos in new else len(new)
    return tokenizer.decode(new[:count], skip_special_tokens=True), count, enc["input_ids"].shape[1]


@pytest.fixture(scope="module")
def plain_greedy(fast):
    """Plain greedy generate() on the same model and dtype as ``fast``."""
    return generate_plainly(fast.dtype, SHORT, 24)


@pytest.mark.model
def test_greedy_is_deterministic_and_matches_plain_generate(fast, plain_greedy):
    """The fast path's bf16 sums are those of plain generate() (packed weights give bit-identical results);
    the batch-invariant path sums in other orders, so a near tie may go the other way."""
    text, completion_tokens, prompt_tokens = plain_greedy
    first, second = run(fast, [ask(SHORT, max_new_tokens=24), ask(SHORT, max_new_tokens=24)])
    again = run(fast, [ask(SHORT, max_new_tokens=24)])[0]
    assert first.text == second.text == again.text == text
    assert first.completion_tokens == completion_tokens  # real tokens, EOS included
    assert first.prompt_tokens == prompt_tokens
    assert first.finish_reason == "stop"
    assert first.latency_s > 0


# Questions the embedded SmolLM2-135M-Instruct answers right, greedily: its text and its tokens, EOS included.
KNOWN = {
    "What is the capital of France?": ("The capital of France is Paris.", 8),
    "What is the capital of the United Kingdom?": ("The capital of the United Kingdom is London.", 10),
    "What is the capital of Japan?": ("The capital of Japan is Tokyo.", 8),
}


@pytest.mark.model
def test_greedy_answers_known_questions_right_word_for_word(backend):
    """The default mode's greedy answers, in one batch of prompts of two lengths (so one is left-padded), are the
    model's right answers as known: a wrong template, mask, position or token choice changes them."""
    gens = run(backend, [ask(q, max_new_tokens=16) for q in KNOWN])
    assert [(g.text, g.completion_tokens, g.finish_reason) for g in gens] == [(t, n, "stop") for t, n in KNOWN.values()]
    assert [g.prompt_tokens for g in gens] == [37, 39, 37]  # the chat template around each question


@pytest.mark.model
def test_fp32_on_cpu_runs_packed_kernels_and_still_answers_as_plain_generate(fast32):
    """fp32 takes oneDNN's packed matmuls and the matmul decode attention: sums in another order only, so
    greedy answers stay those of plain generate() (F.linear and SDPA)."""
    import torch

    from promptarena.backends.transformers import _attention

    got = run(fast32, [ask(QUESTION, max_new_tokens=40)])[0]
    model = fast32._model
    assert model.config._attn_implementation == _attention.NAME
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all("forward" in vars(m) for m in linears)  # every one given its packed weight
    text, count, _ = generate_plainly("float32", QUESTION, 40)
    assert (got.text, got.completion_tokens) == (text, count)


@pytest.mark.model
def test_length_limit_and_stop_string(backend):
    full = run(backend, [ask(SHORT, max_new_tokens=24)])[0]
    text = full.text
    short = run(backend, [ask(SHORT, max_new_tokens=3)])[0]
    assert (short.completion_tokens, short.finish_reason) == (3, "length")
    assert text.startswith(short.text)
    stop = text.split()[-2]
    cut = run(backend, [ask(SHORT, max_new_tokens=24, stop=(stop,))])[0]
    assert cut.text == text[: text.index(stop)]
    assert cut.finish_reason == "stop"
    assert cut.completion_tokens < full.completion_tokens


@pytest.mark.model
def test_a_row_with_a_stop_string_runs_on_when_only_empty_requests_join_its_batch() -> None:
    """A turn that admits only ``max_new_tokens: 0`` requests makes no token: the running rows are not checked
    again (their last token would count twice for the stop check, or the check would index a row that left)."""
    backend = TransformersBackend(batch_size=2)
    full = run(backend, [ask(QUESTION, max_new_tokens=12)])[0]
    first = backend._load_tokenizer().decode(backend._load_tokenizer().encode(full.text, add_special_tokens=False)[:1])
    twice = first * 2  # a stop string the answer holds only if its first token were read twice
    assert twice not in full.text
    # sorted by prompt length: the short one and the stop row fill the batch of two; the empty one joins after
    short, stopped, empty = run(
        backend,
        [
            ask("Hi", max_new_tokens=1),
            ask(QUESTION, max_new_tokens=12, stop=(twice,)),
            ask(QUESTION + " Answer with many details, dates and names.", max_new_tokens=0),
        ],
    )
    assert (stopped.text, stopped.completion_tokens) == (full.text, full.completion_tokens)
    assert (short.completion_tokens, empty.completion_tokens, empty.text) == (1, 0, "")


@pytest.mark.model
def test_samples_share_one_prefill_and_differ(backend):
    import torch

    prefills = []
    backend.load()  # the first test of a worker may be this one: the model is loaded on first use
    forward = backend._model.forward

    def counting(*args, **kwargs):
        ids = kwargs.get("input_ids")
        if ids is not None and ids.shape[1] > 1:
            prefills.append(ids.shape[0])
        return forward(*args, **kwargs)

    backend._model.forward = counting
    try:
        samples = run(backend, [ask(QUESTION, sample=i, max_new_tokens=12, temperature=1.0) for i in range(5)])
    finally:
        del backend._model.forward
    assert prefills == [1]  # one prompt, prefilled once for the five samples
    assert len({s.text for s in samples}) >= 3
    assert all(s.completion_tokens <= 12 for s in samples)
    assert torch.get_num_threads() >= 1


@pytest.mark.model
def test_samples_are_reproducible_and_independent_of_the_batch(backend32):
    others = ["In one sentence, what is a haiku?", "Name a color.", "In one sentence, what is gravity?"]
    mine = [ask(QUESTION, sample=i, max_new_tokens=10, temperature=0.8, top_p=0.9) for i in range(3)]
    greedy = ask(QUESTION, max_new_tokens=10)
    alone = run(backend32, [*mine, greedy])
    again = run(backend32, [*mine, greedy])
    assert [(g.text, g.completion_tokens) for g in again] == [(g.text, g.completion_tokens) for g in alone]
    crowd = [ask(q, sample=i, max_new_tokens=10 + i, temperature=0.8) for q in others for i in range(3)]
    batch = [crowd[0], mine[2], *crowd[1:5], greedy, mine[0], *crowd[5:], mine[1]]
    mixed = dict(zip(batch, run(backend32, batch), strict=True))
    assert [mixed[r].text for r in [*mine, greedy]] == [g.text for g in alone]
    assert len({g.text for g in alone[:3]}) >= 2


@pytest.mark.model
def test_tokens_are_counted_without_the_weights_and_truncate_left_keeps_the_newest():
    backend = TransformersBackend(device="cpu", dtype="float32", truncate="left")
    long = ask("apples " * 9000 + "How many?", max_new_tokens=64)
    assert backend.context_length == 8192
    count = backend.count_tokens(long.messages)
    assert count > 8192
    assert backend._model is None  # the tokenizer and config were enough
    ids = backend._encode(long)
    assert len(ids) == 8192 - 64
    assert backend._tokenizer.decode(ids).endswith("How many?<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.model
def test_samples_latency_is_from_admission_not_the_sum_of_the_batch(backend):
    started = time.perf_counter()
    gens = run(backend, [ask(SHORT, sample=i, max_new_tokens=8, temperature=0.8) for i in range(4)])
    wall = time.perf_counter() - started
    assert all(0 < g.latency_s <= wall for g in gens)  # each from its admission, never the batch's sum


@pytest.mark.model
def test_slot_decoding_computes_what_the_growing_cache_computes(fast32):
    """The GPU path (fixed slots, graphs on CUDA) runs eagerly on CPU: same texts, counts and reasons as the
    growing cache, across admissions in waves, rows leaving at different lengths, samples and a stop string."""
    slots = TransformersBackend(dtype="float32", decode="slots", batch_size=2, batch_invariant=False)
    questions = [QUESTION, SHORT, "What is 2+2?", "Name a planet."]
    requests = [ask(q, max_new_tokens=4 + 3 * i) for i, q in enumerate(questions)]
    requests += [ask(QUESTION, sample=i, max_new_tokens=8, temperature=0.8, top_p=0.9) for i in range(2)]
    requests.append(ask("What is 2+2?", max_new_tokens=20, stop=["."]))
    expected = [(g.text, g.completion_tokens, g.finish_reason) for g in run(fast32, requests)]
    got = [(g.text, g.completion_tokens, g.finish_reason) for g in run(slots, requests)]
    assert got == expected
    assert slots._scheduler is not None and slots._scheduler._slots is not None  # the slot path did run


@pytest.mark.model
def test_clustered_prefill_answers_as_each_prompt_alone(backend32):
    rules = " Keep it short, use plain words, do not explain, do not list options, and never add a greeting."
    system = [  # each version's instructions are a head of its own, longer than CLUSTER_GAIN tokens
        "You are a careful geography teacher. Answer in one short sentence." + rules * 2,
        "You are a pirate who answers every question with a sea shanty line." + rules * 2,
    ]
    questions = ["What is the capital of France?", "Name a planet.", "What is 2+2?"]
    requests = [
        GenerationRequest((Message("system", s), Message("user", q)), GenParams(max_new_tokens=8), seed=0)
        for s in system
        for q in questions
    ]
    from promptarena.backends.transformers._admission import group_requests, prefix_clusters

    assert len(prefix_clusters([g.prompt_ids for g in group_requests(requests, backend32._encode)])) == 2
    together = run(backend32, requests)
    alone = [run(backend32, [r])[0] for r in requests]
    assert [g.text for g in together] == [g.text for g in alone]
