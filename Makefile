# The two commands a newcomer needs are `make demo` and `make test`; both set up .venv on first use.
# `make test` is `make check`: exactly what CI (.ci/run) runs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins a boto3 that conflicts with ours: it gets a venv of its own (requirements-checkov.txt).
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: demo test check lint typecheck validate checkov checkov-report build bench targets clean

demo: $(STAMP)
	$(BIN)/selfheal demo

test: check

# The quick gates first, then the whole suite under coverage (the floor is in pyproject.toml). The suite's
# tests/template/test_lint.py runs the same two template linters as `validate`: not twice here.
check: lint typecheck validate checkov
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

$(CHECKOV_STAMP): requirements-checkov.txt | $(STAMP)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(BIN)/uv pip install --quiet --python $(CHECKOV_VENV)/bin/python -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

# Fails on any failed check; what is skipped, and why, is in .checkov.yaml and in template.yaml's Metadata.
checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -f template.yaml

# {"passed": N, "skipped_with_reason": M, "failed": K}: the README's figure.
checkov-report: $(CHECKOV_STAMP)
	$(BIN)/python benchmarks/checkov_report.py --checkov $(CHECKOV_VENV)/bin/checkov

# sam build ships sources only, and /opt is read-only in Lambda: without bytecode in the package every cold
# start compiles the layer. unchecked-hash: a zip keeps mtimes at 2 s resolution, which would invalidate
# timestamp-based .pyc files after Lambda unzips them (benchmarks/bench_build_size.py measures the cost).
build: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/sam build
	$(BIN)/python -m compileall -q -j 0 --invalidation-mode unchecked-hash .aws-sam/build

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_classifier.py
	$(BIN)/python benchmarks/bench_evaluate.py

targets: $(STAMP)
	$(BIN)/python benchmarks/run_targets.py

clean:
	rm -rf $(VENV) .aws-sam .selfheal .pytest_cache .mypy_cache .ruff_cache .coverage dist
