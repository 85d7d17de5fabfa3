# `make run` / `make test` create or refresh .venv from pyproject.toml, then go.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

export QT_QPA_PLATFORM_TEST := offscreen

.PHONY: run test parity bench venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) main.py

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

# PyTorch parity tests; .ci/run installs the CPU torch first so these never skip silently in CI.
parity: $(STAMP)
	$(PY) -m pip install -q 'torch==2.13.0'
	QT_QPA_PLATFORM=offscreen MATHDL_REQUIRE_TORCH=1 $(PY) -m pytest -q -m torch

bench: $(STAMP)
	$(PY) -m pip install -q 'torch==2.13.0'
	QT_QPA_PLATFORM=offscreen $(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
