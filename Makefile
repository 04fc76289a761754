# The two commands a newcomer needs are `make demo` and `make test`; both set up .venv on first use.
# `make test` is `make check`: exactly what CI (.ci/run) runs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint typecheck validate build bench targets clean

demo: $(STAMP)
	$(BIN)/selfheal demo

test: check

# The quick gates first, then the whole suite under coverage (the floor is in pyproject.toml). The suite's
# tests/template/test_lint.py runs the same two template linters as `validate`: not twice here.
check: lint typecheck validate
	$(BIN)/pytest --cov --cov-report=term --ignore=tests/template/test_lint.py

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check setup.py shared src functions scripts benchmarks tests
	$(BIN)/ruff format --check setup.py shared src functions scripts benchmarks

# What to check and how is in pyproject.toml [tool.mypy]: shared/, src/ and functions/, strict.
typecheck: $(STAMP)
	$(BIN)/mypy

validate: $(STAMP)
	SAM_CLI_TELEMETRY=0 $(BIN)/sam validate --lint
	$(BIN)/cfn-lint template.yaml

build: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/sam build

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_classifier.py
	$(BIN)/python benchmarks/bench_evaluate.py

targets: $(STAMP)
	$(BIN)/python benchmarks/run_targets.py

clean:
	rm -rf $(VENV) .aws-sam .selfheal .pytest_cache .mypy_cache .ruff_cache .coverage dist
