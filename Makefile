# Two commands do all set-up: `make run` serves on the development defaults, `make test` runs
# every check. Both create .venv and install into it on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run simulate test lint typecheck unit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The Procfile's two processes: the job worker in the background, gunicorn in the foreground;
# Ctrl-C stops both.
run: $(VENV)/.installed
	$(BIN)/wxserver worker --env development & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/wxserver run --env development

# The chat page of `wxserver simulate --web` on http://127.0.0.1:8100/, with the job worker and
# the server on the development settings, which send their late replies to the page's simulated
# WeChat API; the server's log goes to instance/simulator-server.log, where the page reads which
# handler answered. Ctrl-C stops all three.
SIMULATOR_PORT ?= 8100
simulate: $(VENV)/.installed
	mkdir -p instance
	export WX_ENV=development WX_APPSECRET=simulated \
		WX_API_BASE_URL=http://127.0.0.1:$(SIMULATOR_PORT); \
	$(BIN)/wxserver worker > instance/simulator-worker.log 2>&1 & worker=$$!; \
	$(BIN)/wxserver run > instance/simulator-server.log 2>&1 & server=$$!; \
	trap 'kill $$worker $$server 2>/dev/null; wait' EXIT INT TERM; \
	$(BIN)/wxserver simulate --web --port $(SIMULATOR_PORT) \
		--server-log instance/simulator-server.log

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/pytest

test: lint typecheck unit
