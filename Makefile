# The two commands of the quick start: `make run` and `make test`. Both install what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Playwright drives Debian's /usr/bin/chromium: it must never fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: run check test lint typecheck unit integration e2e infra browser bench rehearse clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip==25.3

$(VENV)/.run: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[local,scoring]'
	touch $@

$(VENV)/.test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[local,scoring,bench,test,lint,infra,browser]'
	touch $@ $(VENV)/.run

# The browser tests' Chromium comes from Debian (run as root), Playwright from PyPI; `make run` needs neither.
$(VENV)/.browser: pyproject.toml constraints.txt | $(BIN)/python
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	$(BIN)/pip install -q -c constraints.txt -e '.[browser]'
	touch $@

run: $(VENV)/.run
	$(BIN)/cxloop run

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.test
	$(BIN)/mypy shared services cxloop infra

# CI's gate, exactly: .ci/run calls `make test` (the README's command); `check` is its other name.
check: test

# `-n auto`: a worker per core and one more (tests/conftest.py says why); a module's tests stay on one
# worker, so its fixtures (and the worker's moto and local stack) are set up once; modules go out in
# file order, so the long e2e ones start first instead of last (xdist's default: the largest first).
PYTEST := $(BIN)/python -m pytest -q -n auto --dist loadscope --no-loadscope-reorder

test: $(VENV)/.test $(VENV)/.browser lint typecheck
	$(PYTEST)
	$(MAKE) rehearse

# The deployment rehearsal: the synthesized stack deployed into MiniStack (its own venv, .venv-rehearse,
# from requirements-rehearse.txt), then the demo's story through its API URL (tests/rehearsal/run.py).
# Then MiniStack against what the rehearsal relies on (tests/rehearsal/fidelity.py, ~20 s).
rehearse: $(VENV)/.test
	PYTHON=$(PYTHON) $(BIN)/python -m tests.rehearsal
	PYTHON=$(PYTHON) $(BIN)/python -m tests.rehearsal.fidelity

unit integration infra: $(VENV)/.test
	$(PYTEST) -m $@

e2e browser: $(VENV)/.test $(VENV)/.browser
	$(PYTEST) -m $@

bench: $(VENV)/.test
	$(BIN)/python benchmarks/intake.py
	$(BIN)/python benchmarks/nlp_accuracy.py
	$(BIN)/python benchmarks/nlp_speed.py

clean:
	rm -rf $(VENV) .venv-rehearse .cxloop infra/cdk.out build .pytest_cache .mypy_cache .ruff_cache
