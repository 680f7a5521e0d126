# The two commands a newcomer runs: `make demo` and `make test`. Both work on a fresh clone with
# only python3 installed: they create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
SRC := src/modeltrust

.PHONY: demo test lint typecheck unit hub-compat bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[7z,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m demo.build demo-out
	@echo
	@echo "== modeltrust scan demo-out (expect exit 1: the malicious checkpoint is trojaned)"
	$(BIN)/modeltrust scan demo-out --no-progress; test $$? -eq 1
	@echo
	@echo "== modeltrust scan demo-out/benign (expect exit 0)"
	$(BIN)/modeltrust scan demo-out/benign --no-progress
	$(BIN)/modeltrust scan demo-out --no-progress -f json -o demo-out/report.json; test $$? -eq 1
	$(BIN)/modeltrust scan demo-out --no-progress -f sarif -o demo-out/report.sarif; test $$? -eq 1
	@test ! -e demo-out/PWNED && echo "demo-out/PWNED does not exist: nothing was executed."
	@echo
	@echo "== modeltrust audit org/name for three repos on a demo Hub (127.0.0.1); HTML reports in demo-out/"
	$(BIN)/python -m demo.hub demo-out
	@test ! -e demo-out/PWNED

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n 2 -q

test: lint typecheck unit

# huggingface_hub's own integration tests against `modeltrust serve` (fetches the client's sdist
# from PyPI once, into .cache/hub-compat/); .ci/run runs it after `make test`.
hub-compat: $(STAMP)
	$(BIN)/python tools/hub_compat.py

# bench_scan last: docs/benchmarks.md copies the fairness goals from the report before it.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_fairness.py
	$(BIN)/python benchmarks/bench_formats.py
	$(BIN)/python benchmarks/bench_serve.py
	$(BIN)/python benchmarks/bench_upload.py
	$(BIN)/python benchmarks/bench_catalogue.py
	$(BIN)/python benchmarks/bench_scan.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache benchmarks/.work .cache
