# fixgw — `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SOURCES := setup.py pyproject.toml $(shell find engine -name "*.pyx" -o -name "*.pxd") \
	$(wildcard fixgw/quickfix_patch/*)

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): $(SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	sh fixgw/quickfix_patch/install.sh $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

.PHONY: install
install: $(STAMP) ## Create .venv and install fixgw with its dev tools (compiles the book)

.PHONY: run
run: $(STAMP) ## Start the FIX 4.4 gateway with the demo configuration (Ctrl-C stops it)
	@echo "FIX 4.4 acceptor on 127.0.0.1:9876, TargetCompID FIXGW; demo logons in README.md"
	$(BIN)/fixgw serve --config sessions/fixgw.toml

.PHONY: demo
demo: $(STAMP) ## Run the seeded engine demo and print the trades it produced
	$(BIN)/fixgw demo

.PHONY: lint
lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: test
test: lint ## Lint, then run the default test suite (both book implementations)
	$(BIN)/pytest -m 'not slow'

.PHONY: test-slow
test-slow: $(STAMP) ## The long randomized campaigns (a million-operation differential run)
	$(BIN)/pytest -m slow

.PHONY: bench
bench: $(STAMP) ## Latency harness: closed and open loop through the gateway vs a bare QuickFIX echo
	$(BIN)/python -m bench.harness

.PHONY: bench-book
bench-book: $(STAMP) ## Book benchmark: Cython vs pure-Python twin on one seeded order flow
	$(BIN)/python -m bench.book_throughput

.PHONY: bench-journal
bench-journal: $(STAMP) ## Journal throughput by batch size and durability, commit latency, replay
	$(BIN)/python -m bench.journal_throughput

.PHONY: bench-accounts
bench-accounts: $(STAMP) ## Order path with accounts (prefunding, DVP) vs without, same flow
	$(BIN)/python -m bench.accounts

.PHONY: bench-micro
bench-micro: $(STAMP) ## pytest-benchmark micro-benchmarks of single book operations
	$(BIN)/pytest bench/micro --benchmark-only -p no:cacheprovider

.PHONY: clean
clean: ## Remove build products (keeps .venv)
	rm -rf build
	find engine \( -name "*.so" -o -name "*.cpp" -o -name "*.c" -o -name "*.html" \) -delete
