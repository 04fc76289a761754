# The two commands a newcomer needs are `make demo` and `make test`; both set up .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck validate build bench targets clean

demo: $(STAMP)
	$(BIN)/selfheal demo

test: $(STAMP)
	$(BIN)/pytest

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check shared src functions tests
	$(BIN)/ruff format --check shared src functions

typecheck: $(STAMP)
	$(BIN)/mypy shared/selfheal_core

validate: $(STAMP)
	$(BIN)/sam validate --lint
	$(BIN)/cfn-lint template.yaml

build: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/sam build

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_classifier.py
	$(BIN)/python benchmarks/bench_evaluate.py

targets: $(STAMP)
	$(BIN)/python benchmarks/run_targets.py

clean:
	rm -rf $(VENV) .aws-sam .selfheal .pytest_cache .mypy_cache .ruff_cache
