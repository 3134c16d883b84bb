# `make run` starts the app, `make test` runs the tests; each creates the virtual
# environment first when it is missing (or when requirements.txt changed).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
REQ_HASH := $(shell $(PYTHON) -c "import hashlib;print(hashlib.sha256(open('requirements.txt','rb').read()).hexdigest()[:12])")
STAMP := $(VENV)/.requirements-$(REQ_HASH)

.PHONY: venv run serve haproxy test test-fast lint bench defaults docs screenshots clean

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	@rm -f $(VENV)/.requirements-*
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m streamlit run app.py

# A class: N Streamlit processes (default: one per core) behind HAProxy with sticky sessions, on
# http://$(ADDRESS):$(PORT); Ctrl-C stops them all. See the README, "For a class".
N ?= $(shell nproc 2>/dev/null || echo 2)
ADDRESS ?= 127.0.0.1
PORT ?= 8501
serve: $(STAMP) haproxy
	$(BIN)/python -m serve --processes $(N) --address $(ADDRESS) --port $(PORT)

# Debian's haproxy, installed when missing (as root, or with sudo); otherwise says how. `make test`
# needs it too: tests/test_serve.py runs two processes behind it and must not skip on a fresh machine.
haproxy:
	@command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
		else echo "HAProxy is missing: as root, run apt-get install haproxy" >&2; exit 2; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq haproxy >/dev/null; }

test: $(STAMP) haproxy
	$(BIN)/python -m pytest

# Two workers (pytest-xdist): each builds the session's tiny pairs once; no fast test binds a port.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not browser and not slow" -n 2

lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench

# The README's screenshots: the pages at 1400 px, then the layout and run-list tests saving theirs into docs/
# (under `make test` they save into temporary folders, so a test run leaves a checkout clean).
screenshots: $(STAMP)
	$(BIN)/python docs/screenshots.py
	LATENT_EXPLORER_SHOTS=docs $(BIN)/python -m pytest -q tests/test_layout.py tests/test_browser_runs.py

defaults: $(STAMP)
	$(BIN)/python -m training defaults

docs: $(STAMP)  # README.md's generated result blocks, from the sidecars, lab/results.json and bench/results.md
	$(BIN)/python -m training report

clean:
	rm -rf .pytest_cache .pytest-data
