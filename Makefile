# `make run` starts the app, `make test` runs the tests; each creates the virtual
# environment first when it is missing (or when requirements.txt changed).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
REQ_HASH := $(shell $(PYTHON) -c "import hashlib;print(hashlib.sha256(open('requirements.txt','rb').read()).hexdigest()[:12])")
STAMP := $(VENV)/.requirements-$(REQ_HASH)

.PHONY: venv run test test-fast lint bench defaults clean

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	@rm -f $(VENV)/.requirements-*
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m streamlit run app.py

test: $(STAMP)
	$(BIN)/python -m pytest

# Two workers (pytest-xdist): each builds the session's tiny pairs once; no fast test binds a port.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not browser and not slow" -n 2

lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench

defaults: $(STAMP)
	$(BIN)/python -m training defaults

clean:
	rm -rf .pytest_cache .pytest-data
