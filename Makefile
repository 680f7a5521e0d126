# The two commands a newcomer runs: `make demo` and `make test`. Both work on a fresh clone with
# only python3 installed: they create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
SRC := src/modeltrust

.PHONY: demo test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[7z,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m demo.build demo-out
	-$(BIN)/modeltrust scan demo-out
	@echo
	@echo "The scan above exits 1 because demo-out/malicious is trojaned; demo-out/benign is clean:"
	$(BIN)/modeltrust scan demo-out/benign
	$(BIN)/modeltrust scan demo-out --format sarif --output demo-out/report.sarif || true
	$(BIN)/modeltrust scan demo-out --format json --output demo-out/report.json || true
	@echo "Reports written: demo-out/report.json and demo-out/report.sarif"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n 2 -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_scan.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache benchmarks/.work
