# newsbench: two commands on a fresh machine with Python 3.11 and make.
#   make dataset   creates .venv, installs, builds dist/newsbench/ from raw/
#   make test      runs the whole test suite (installs first if needed)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= dist/newsbench

.PHONY: install dataset test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

dataset: $(STAMP)
	$(PY) build_dataset.py --raw raw --out $(OUT)

test: $(STAMP)
	$(PY) -m ruff check src tests build_dataset.py bench
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check src tests build_dataset.py bench
	$(PY) -m ruff format --check src tests build_dataset.py bench

bench: $(STAMP)
	$(PY) bench/run_bench.py

clean:
	rm -rf $(VENV) dist .pytest_cache
