# insight_nb: two commands on a fresh machine, `make report` and `make test`.
# Everything runs inside a local virtual environment that the first command creates.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# The CPU wheel; a bare `torch` requirement would resolve a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
# Run every tool (and the kernels papermill starts) inside the project's environment.
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(VIRTUAL_ENV)/bin:$(PATH)
OUT ?= reports/output

.PHONY: help venv report test sync-check nbtest pytest bench docs export readme clean-nbs clean

help:
	@echo "make report      run the Telco churn demo end to end and print where the output is"
	@echo "make test        the full test suite (notebooks, pytest, nbs/ <-> insight_nb/ sync)"
	@echo "make bench       benchmarks: print a table, write JSON under bench/output/"
	@echo "make docs        execute the notebooks and build the documentation site in _docs/ (open _docs/index.html)"
	@echo "make export      regenerate insight_nb/ and README.md from nbs/, clean notebook metadata"

venv: $(STAMP)

$(STAMP): settings.ini setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev,text]"
	$(PY) -m compileall -q insight_nb   # as pip does for an installed wheel (an editable install is not compiled)
	touch $@

report: $(STAMP)
	$(BIN)/insight-nb report demo:telco_churn --target Churn --out $(OUT)/telco_churn/report --threads 1

test: $(STAMP) sync-check nbtest pytest
	@echo "make test: all checks passed"

# The module and the README must be exactly what the notebooks export.
sync-check: $(STAMP)
	$(BIN)/nbdev_export
	$(PY) -c "from insight_nb.cells import sync_templates; sync_templates()"
	$(PY) tools/readme.py
	@if ! git diff --quiet -- insight_nb nbs/templates README.md || [ -n "$$(git status --porcelain --untracked-files=all -- insight_nb nbs/templates README.md)" ]; then \
	  echo "insight_nb/, nbs/templates/ or README.md is out of sync with nbs/: run 'make export' and commit both." >&2; \
	  git status --short -- insight_nb nbs/templates README.md >&2; exit 1; fi
	@echo "sync-check: insight_nb/ and README.md match nbs/"

nbtest: $(STAMP)
	$(BIN)/nbdev_test --n_workers 2 --timing

pytest: $(STAMP)
	$(BIN)/pytest -q tests

bench: $(STAMP)
	$(PY) bench/run.py $(BENCH)

# The notebooks, executed, as an offline site in _docs/ (DOCS_ARGS: e.g. --only 00 23, --jobs 2, --timeout 600).
# nbdev's own nbdev_docs needs Quarto: used when quarto is on PATH (it renders the outputs stored in the notebooks).
DOCS_ARGS ?=
docs: $(STAMP)
	@if command -v quarto >/dev/null 2>&1; then $(BIN)/nbdev_docs; else $(PY) tools/docs.py --out _docs $(DOCS_ARGS); fi

export: $(STAMP)
	$(BIN)/nbdev_clean
	$(BIN)/nbdev_export
	$(PY) -c "from insight_nb.cells import sync_templates; sync_templates()"
	$(PY) tools/readme.py

clean:
	rm -rf $(OUT) bench/output _proc _docs
