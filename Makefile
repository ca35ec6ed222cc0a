# The two commands of the quick start: `make run` and `make test`. Both install what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint typecheck unit integration e2e infra bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip==25.3

$(VENV)/.run: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[local]'
	touch $@

$(VENV)/.test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[local,test,lint,infra]'
	touch $@ $(VENV)/.run

run: $(VENV)/.run
	$(BIN)/cxloop run

lint: $(VENV)/.test
	$(BIN)/ruff check .

typecheck: $(VENV)/.test
	$(BIN)/mypy shared services cxloop infra

test: $(VENV)/.test lint typecheck
	$(BIN)/python -m pytest -q

unit integration e2e infra: $(VENV)/.test
	$(BIN)/python -m pytest -q -m $@

bench: $(VENV)/.test
	$(BIN)/python benchmarks/intake.py

clean:
	rm -rf $(VENV) .cxloop infra/cdk.out .pytest_cache .mypy_cache .ruff_cache
