# Two commands on a fresh machine: `make demo` and `make test` (each installs what is missing first).
SHELL := /bin/bash
PY := .venv/bin/python
THEME ?= A lighthouse keeper who befriends a storm
STYLE ?= cinematic
LANGUAGE ?= en
MUSIC ?=
# `make demo REAL=1 [PRESET=...] [CONFIRM=1]`: the local cloud with the real Gemini API (GEMINI_API_KEY).
REAL ?=
PRESET ?=
# `make smoke-live MODE=gemini_api|vertex [CONFIRM=1]`: the live smoke kit (tools/smoke_live).
MODE ?= gemini_api
# Passed through the environment, so a theme with quotes or spaces needs no shell escaping.
export DEMO_THEME := $(THEME)
export DEMO_STYLE := $(STYLE)
export DEMO_LANGUAGE := $(LANGUAGE)
export DEMO_MUSIC := $(MUSIC)
export DEMO_REAL := $(REAL)
export DEMO_PRESET := $(PRESET)

.PHONY: setup up down status demo test test-unit test-inprocess test-integration test-e2e test-parity chaos bench lint
.PHONY: smoke-live

setup:
	@bash infra/local/setup.sh

up: setup
	@$(PY) -m infra.local.cloud up

down:
	@if [ -x $(PY) ]; then $(PY) -m infra.local.cloud down; fi

status:
	@$(PY) -m infra.local.cloud status

# REAL=1: demo.py checks the key, prints the estimate and, with CONFIRM=1, starts the cloud on the real API itself.
demo: $(if $(filter 1,$(REAL)),setup,up)
	@$(PY) -m infra.local.demo

# The smallest real sequence against Google (plan and expected cost only, unless credentials and CONFIRM=1).
smoke-live:
	@if [ ! -x $(PY) ]; then bash infra/local/setup.sh; fi
	@$(PY) -m tools.smoke_live --mode $(MODE)

# The whole suite under coverage (pyproject.toml [tool.coverage]; the local cloud's agents are measured too),
# the bare-runtime tier included (tests/parity: agents without PATH ffmpeg/ffprobe/espeak-ng/fc-* or system fonts):
# prints the files not fully covered and the TOTAL line, fails if pytest fails or the total is under 80 %.
test: setup lint
	@rm -f .coverage .coverage.*
	@$(PY) -m coverage run -m pytest tests; tests=$$?; \
	$(PY) -m coverage combine --quiet && $(PY) -m coverage report; covered=$$?; \
	[ $$tests -eq 0 ] && [ $$covered -eq 0 ]

test-unit: setup
	@$(PY) -m pytest tests/unit

# The agents in-process (functions_framework test clients) against the emulators: the fast tier.
test-inprocess: setup
	@$(PY) -m pytest tests/inprocess

test-integration: setup
	@$(PY) -m pytest tests/integration

test-e2e: setup
	@$(PY) -m pytest tests/e2e

# The bare-runtime tier alone (tests/parity): a second local cloud whose agents lack the media tools and fonts.
test-parity: setup
	@$(PY) -m pytest tests/parity

# The full crash, duplicates, faults, load and bad-input suites (CHAOS_FULL=1); ends with their verdict line.
chaos: setup
	@$(PY) -m tests.chaos.run

bench: setup
	@$(PY) tools/bench_assembler.py

# ruff (style, imports, no import inside a function without a stated reason), mypy (strict on shared.core),
# import-linter (the package layers in pyproject.toml), shellcheck. `make test` runs it first.
lint: setup
	@.venv/bin/ruff check shared agent-*/main.py infra tools tests
	@.venv/bin/mypy shared infra tools
	@.venv/bin/lint-imports
	@bash -n deploy-veo31.sh && shellcheck deploy-veo31.sh infra/local/setup.sh
	@echo "lint: ruff, mypy, import-linter and shellcheck passed"
