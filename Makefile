# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

#: The lowest openai SDK pyproject.toml allows (3.0 is the first on httpx2); `make test-lowest-sdk` checks it.
LOWEST_OPENAI ?= 3.0.0
FAST := -m "not kernel and not browser"

.PHONY: demo test test-fast test-kernel test-lowest-sdk lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $(STAMP)

## demo: install, start the local emulator and run the quickstart on it
demo: $(STAMP)
	$(BIN)/openai-artifacts demo

## test: install, then ruff, mypy and the whole pytest suite (browser tests included)
test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-fast: the edit-run loop: every test that needs no kernel and no browser (under a minute)
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(FAST) $(PYTEST_ARGS)

## test-kernel: the tests that run code in real kernels (the emulator's containers, nbclient)
test-kernel: $(STAMP)
	$(BIN)/python -m pytest -m "kernel and not browser" $(PYTEST_ARGS)

## test-lowest-sdk: the fast tier against the lowest openai SDK we support, installed beside the venv's
test-lowest-sdk: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --target $(VENV)/lowest-openai openai==$(LOWEST_OPENAI) distro
	PYTHONPATH=$(VENV)/lowest-openai $(BIN)/python -c "import openai; assert openai.__version__ == '$(LOWEST_OPENAI)'"
	PYTHONPATH=$(VENV)/lowest-openai $(BIN)/python -m pytest $(FAST) -p no:cacheprovider $(PYTEST_ARGS)

## bench: the benchmarks in bench/, printed and written to bench/results.json
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist
