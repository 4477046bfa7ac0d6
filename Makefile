# trainlab: `make help` lists the targets. Everything runs offline in a local .venv that the
# first target creates; set PYTHON to pick the interpreter (3.11 or newer).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
FIGURES := $(sort $(basename $(notdir $(wildcard experiments/*.yaml))))

.DEFAULT_GOAL := help
.PHONY: help install train test test-fast test-slow lint bench bench-sweep bench-scale bench-data \
	bench-report bench-search figures gallery yamls report-screenshot clean

help: ## list the targets
	@grep -hE '^[a-zA-Z%_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'
	@echo "  figures: $(FIGURES)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP) ## create .venv (if missing) and install trainlab with its test tools

train: $(STAMP) ## run the default experiment: an MLP on MNIST-1D, summary table at the end
	$(BIN)/train $(ARGS)

test: $(STAMP) ## run the whole test suite (fast tests, then the slow ones)
	$(BIN)/python -m pytest -m "not slow"
	$(BIN)/python -m pytest -m slow || [ $$? -eq 5 ]  # 5: no slow test collected

test-fast: $(STAMP) ## only the fast tests
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP) ## ruff
	$(BIN)/ruff check src tests benchmarks tools

yamls: $(STAMP) ## write conf/<group>/<name>.yaml from each choice's class
	$(BIN)/python -m trainlab.config.yamls

bench: $(STAMP) ## workload W through trainlab vs hand-written JAX (and PyTorch); start-up times
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_startup.py

bench-sweep: $(STAMP) ## a 64-trial lr sweep: vectorized launcher vs basic, per-trial jit, PyTorch
	$(BIN)/python benchmarks/bench_sweep.py

bench-scale: $(STAMP) ## sweeps of 64..4096 tiny jobs: wall, compile, training, bookkeeping per job, RSS
	$(BIN)/python benchmarks/bench_scale.py $(ARGS)

bench-data: $(STAMP) ## MLP 784-256-10 on Fashion-MNIST: trainlab vs hand-written JAX and PyTorch
	$(BIN)/python benchmarks/bench_data.py $(ARGS)

bench-search: $(STAMP) ## random vs halving vs PBT (vs Optuna TPE+Hyperband if installed), 81 trials
	$(BIN)/python benchmarks/bench_search.py $(ARGS)

bench-report: $(STAMP) ## trainlab report on a made-up 2000-job sweep: seconds to the table and page
	$(BIN)/python benchmarks/bench_report.py $(ARGS)

report-screenshot: $(STAMP) ## docs/report-sweep.png, from the browser test's own run (chromium)
	TRAINLAB_REPORT_SCREENSHOT=docs/report-sweep.png $(BIN)/python -m pytest \
		tests/test_report_browser.py -m slow -k sweep_page

fig-%: $(STAMP) ## build one lecture figure: results/NAME/figure.png and table.csv
	$(BIN)/trainlab figure $*

figures: $(STAMP) ## build every lecture figure (all of them, then name those that failed)
	@failed=""; for name in $(FIGURES); do \
		$(BIN)/trainlab figure $$name || failed="$$failed $$name"; done; \
	if [ -n "$$failed" ]; then echo "figures with a failed check or error:$$failed"; exit 1; fi

gallery: $(STAMP) ## rebuild docs/gallery from results/ (run `make figures` first)
	$(BIN)/trainlab figure --gallery

clean: ## remove run outputs (outputs/, multirun/, results/), keep .venv
	rm -rf outputs multirun results
