# make demo: set up .venv and assess the embedded model end to end (signed reports in reports/)
# make test: set up .venv with the dev extras and run the whole test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet

# llama-cpp-python compiles from source: a portable build (no -march=native, no multimodal
# tools) that pip's wheel cache keeps, so later installs on this machine take seconds.
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
# Everything runs offline: never let a library reach for a model hub.
export HF_HUB_OFFLINE := 1

.PHONY: demo test lint bench clean

# SmolLM2-135M was trained on about 2 trillion tokens (SmolLM2 paper, arXiv:2502.02737), so its
# training compute is about 6 x 1.35e8 x 2e12 = 1.6e21 FLOP. `redline assess` exits 1 when the
# decision is "do not deploy", which is the expected outcome here, so only 2 (an error) fails.
demo: $(VENV)/.installed
	$(BIN)/redline models
	$(BIN)/redline assess --profile quick --out reports --name demo --params 1.35e8 --tokens 2e12 \
		|| [ $$? -eq 1 ]
	$(BIN)/redline verify reports/demo.json

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

bench: $(VENV)/.installed
	$(BIN)/python bench/model_speed.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "Installing redline into $(VENV) (the first time compiles llama.cpp: about 8 minutes)"
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@echo "Installing redline with dev extras into $(VENV) (the first time compiles llama.cpp: about 8 minutes)"
	$(PIP) install -e '.[dev]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) reports .pytest_cache .mypy_cache .ruff_cache
