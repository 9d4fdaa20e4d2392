# Two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit bench bench-quick craft clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/locker demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest --cov --cov-report=term

test: lint typecheck craft unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks.bus
	$(BIN)/python -m benchmarks.edge
	$(BIN)/python -m benchmarks.allocation
	$(BIN)/python -m benchmarks.ingest
	$(BIN)/python -m benchmarks.webhooks

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks.bus --quick
	$(BIN)/python -m benchmarks.edge --quick
	$(BIN)/python -m benchmarks.allocation --quick
	$(BIN)/python -m benchmarks.ingest --quick
	$(BIN)/python -m benchmarks.webhooks --quick

# the limits of issue 12 measured on the production code (stdlib only: runs without the venv)
craft:
	$(PYTHON) tools/craft.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .hypothesis
