# One-command set-up: every target creates/updates .venv/ itself.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
SAMPLES := .cache/samples/.fetched
export SITEWATCH_CACHE ?= $(CURDIR)/.cache

.PHONY: demo test bench lint audit fuzz clean venv samples

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# the application's dependencies are pinned with hashes (requirements/app.txt, from pip-compile)
$(STAMP): pyproject.toml requirements/app.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --require-hashes -r requirements/app.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

# tests also need the oracles (pyModeS, pyais), the browser driver and the Spark engine
$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install -q -e ".[test,spark]"
	touch $(TEST_STAMP)

venv: $(STAMP)

# Real public samples from PyPI packages (traffic, tracktable-data): fetched once at set-up,
# never at test run time. Failure (no registry) is not fatal: tests that need them skip.
$(SAMPLES): | $(STAMP)
	-$(BIN)/python -m sitewatch.samples fetch && mkdir -p $(dir $(SAMPLES)) && touch $(SAMPLES)

samples: $(SAMPLES)

demo: $(STAMP)
	$(BIN)/sitewatch demo --out demo-out

test: $(TEST_STAMP) $(SAMPLES)
	$(BIN)/python -m pytest -q

bench: $(TEST_STAMP) $(SAMPLES)
	$(BIN)/python -m bench

# Longer fuzzing of every parser with atheris (coverage-guided); FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/python -m pip install -q atheris
	$(BIN)/python fuzz/run.py --seconds $(FUZZ_SECONDS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench tools fuzz
	$(BIN)/mypy
	-$(MAKE) --no-print-directory audit

# Known vulnerabilities in the pinned application dependencies. --strict fails when a package
# cannot be looked up, so a sandbox without the vulnerability database fails loudly instead of
# reporting an empty "clean" (lint shows the outcome without stopping on it).
audit: $(TEST_STAMP)
	$(BIN)/python -m pip install -q pip-audit
	$(BIN)/pip-audit --strict --no-deps --disable-pip -r requirements/app.txt

clean:
	rm -rf $(VENV) .cache demo-out
