# Two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit cov fuzz bench bench-quick craft clean

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

# Every test, without coverage: under Python 3.11 coverage traces every call (no sys.monitoring),
# which took 1.5 to 1.9 times the CPU. Its norm, 100% of the codecs, is `make cov`'s.
unit: $(STAMP)
	$(BIN)/pytest

# the codecs' 100% line and branch coverage, measured on their own tests (fails below it)
cov: $(STAMP)
	$(BIN)/pytest --cov --cov-report=term tests/firmware_bridge/codecs

# the API's schema fuzzing at full depth: 100 generated requests per operation (the default run
# sends 25), on SQLite and PostgreSQL
fuzz: $(STAMP)
	LOCKER_FUZZ_EXAMPLES=100 $(BIN)/pytest tests/cloud/test_schema.py

test: lint typecheck craft cov unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks.bus
	$(BIN)/python -m benchmarks.edge
	$(BIN)/python -m benchmarks.allocation
	$(BIN)/python -m benchmarks.ingest
	$(BIN)/python -m benchmarks.webhooks
	$(BIN)/python -m benchmarks.console_reads

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
