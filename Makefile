# Two commands do all set-up: `make run` serves on the development defaults, `make test` runs
# every check. Both create .venv and install into it on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck unit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The Procfile's two processes, both in the background of one shell that waits for them. A
# SIGTERM to make (which make passes on to this shell) or Ctrl-C runs the trap: both are stopped
# and waited for, so nothing of the run is left behind. The trap is set before either starts.
run: $(VENV)/.installed
	trap 'kill -TERM $$web $$worker 2>/dev/null; wait; exit 143' INT TERM; \
	$(BIN)/wxserver worker --env development & worker=$$!; \
	$(BIN)/wxserver run --env development & web=$$!; \
	wait $$web; status=$$?; kill -TERM $$worker 2>/dev/null; wait; exit $$status

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/pytest

test: lint typecheck unit
