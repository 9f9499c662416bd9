# Two commands do all set-up: `make run` serves on the development defaults, `make test` runs
# every check. Both create .venv and install into it on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run simulate test lint typecheck unit system-check

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

# The programs the tests start or call for real, as program:Debian package. Checked first, so
# that a machine without one is told so in one line rather than by failures minutes later.
SYSTEM_PROGRAMS := nginx:nginx redis-server:redis-server openssl:openssl systemd-analyze:systemd \
	chromium:chromium

system-check:
	@missing=""; for pair in $(SYSTEM_PROGRAMS); do \
	    command -v $${pair%%:*} >/dev/null 2>&1 || [ -x /usr/sbin/$${pair%%:*} ] \
	        || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "make test: the tests need the system packages$$missing;" \
	        "install them with: sudo apt-get install -y$$missing"; \
	    exit 1; \
	fi

test: system-check lint typecheck unit
