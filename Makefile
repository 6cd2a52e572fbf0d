# fixgw — `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SOURCES := setup.py pyproject.toml $(shell find engine fixgw -name "*.pyx" -o -name "*.pxd") \
	$(wildcard fixgw/quickfix_patch/*)

.DEFAULT_GOAL := help
# What runs a second time with FIXGW_PURE=1: the engine's contracts, rules, scenarios and
# differential tests, the gateway's units, and the end-to-end order and recovery paths.
PURE_SUITES := tests/engine tests/fixgw tests/scenarios tests/e2e/test_gateway_orders.py \
	tests/e2e/test_gateway_bad_input.py tests/e2e/test_gateway_recovery.py \
	tests/e2e/test_gateway_affiliates.py tests/e2e/test_gateway_margin.py \
	tests/e2e/test_gateway_perps.py

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

# The compiled order path is built from the very `.py` files it runs interpreted; an edit to
# one must never leave a stale extension module beside it, so every run rebuilds what changed.
.PHONY: build
build: $(STAMP) ## Recompile the order path's modules whose source changed (seconds when none did)
	$(BIN)/python setup.py build_ext --inplace --quiet -j 2

.PHONY: run
run: build ## Start the FIX 4.4 gateway with the demo configuration (Ctrl-C stops it)
	@echo "FIX 4.4 acceptor on 127.0.0.1:9876, TargetCompID FIXGW; demo logons in README.md"
	$(BIN)/fixgw serve --config sessions/fixgw.toml

.PHONY: demo
demo: $(STAMP) ## Run the seeded engine demo and print the trades it produced
	$(BIN)/fixgw demo

# The link's password comes from the environment, never a file: FIXGW_LIONX_PASSWORD (the
# demo's is in README.md); without it the Hong Kong venue refuses to start and says so.
.PHONY: demo-affiliate
demo-affiliate: build ## Two venues sharing one book: LIONX on 9877, this venue on 9876 (Ctrl-C stops both)
	@echo "LIONX (the affiliate) on 127.0.0.1:9877, FIXGW on 127.0.0.1:9876; logons in README.md"
	$(BIN)/fixgw serve --config sessions/demo-affiliate/lionx.toml & lionx=$$!; \
	trap 'kill $$lionx 2>/dev/null' EXIT INT TERM; \
	$(BIN)/fixgw serve --config sessions/demo-affiliate/hk.toml

.PHONY: lint
lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: test
test: lint build ## Lint, then the default suite compiled, then the engine and gateway suites interpreted
	$(BIN)/pytest -m 'not slow' -p no:faulthandler
	FIXGW_PURE=1 $(BIN)/pytest -m 'not slow' -p no:faulthandler $(PURE_SUITES)

.PHONY: test-pure
test-pure: build ## The whole default suite interpreted (FIXGW_PURE=1), gateway end-to-end tests included
	FIXGW_PURE=1 $(BIN)/pytest -m 'not slow' -p no:faulthandler

.PHONY: test-slow
test-slow: build ## The long randomized campaigns (a million-operation differential run)
	$(BIN)/pytest -m slow

.PHONY: bench
bench: build ## Latency harness: closed and open loop through the gateway vs a bare QuickFIX echo
	$(BIN)/python -m bench.harness

.PHONY: bench-stages
bench-stages: build ## Where an order's time goes inside the gateway (instrumented, inline) vs the echo
	$(BIN)/python -m bench.stages

.PHONY: bench-binding
bench-binding: build ## Share of the server's CPU in the SWIG binding, QuickFIX, Python, SQLite (perf)
	$(BIN)/python -m bench.binding

.PHONY: bench-book
bench-book: build ## Book benchmark: Cython vs pure-Python twin on one seeded order flow
	$(BIN)/python -m bench.book_throughput

.PHONY: bench-journal
bench-journal: build ## Journal throughput by batch size and durability, commit latency, replay
	$(BIN)/python -m bench.journal_throughput

.PHONY: bench-accounts
bench-accounts: build ## Order path with accounts (prefunding, DVP) vs without, same flow
	$(BIN)/python -m bench.accounts

.PHONY: bench-margin
bench-margin: build ## Margin clients' order path vs prefunded ones, and the review after a price move with 10,000 margin clients
	$(BIN)/python -m bench.margin

.PHONY: bench-perps
bench-perps: build ## Perpetuals: the order path vs spot, re-marking 10,000 positions, a funding settlement
	$(BIN)/python -m bench.perps

.PHONY: bench-shared
bench-shared: build ## Shared book: a fill at the affiliate vs one here, and a busy affiliate feed's cost
	$(BIN)/python -m bench.shared_book

.PHONY: bench-micro
bench-micro: build ## pytest-benchmark micro-benchmarks of single book operations
	$(BIN)/pytest bench/micro --benchmark-only -p no:cacheprovider

.PHONY: clean
clean: ## Remove build products (keeps .venv)
	rm -rf build
	find engine fixgw \( -name "*.so" -o -name "*.cpp" -o -name "*.c" -o -name "*.html" \) -delete
