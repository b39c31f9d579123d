# RecLab: `make run` starts the dashboard, `make test` runs lint and every test.
# The first Python >= 3.11 on the PATH (Streamlit 1.67 needs 3.11); override with `make PYTHON=/path/to/python`.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
            command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
            && echo $$p && break; done)
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8501
PYTEST_ARGS ?=

.PHONY: run test lint format chromium bench clean

# The venv is created once; requirements are (re)installed only when the files changed since the
# last install (the stamp files are newer than them otherwise).
$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "RecLab needs Python 3.11 or newer (Streamlit 1.67 requires it) and none was found on the PATH."; \
	  echo "Install one (e.g. apt-get install python3.11 / brew install python@3.12) or run: make PYTHON=/path/to/python3.11"; \
	  exit 1; fi
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-requirements: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e . \
	  || $(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed-requirements
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed-requirements
	$(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT)

# Browser tests drive Debian's Chromium. As root on a Debian/Ubuntu machine it is installed with apt;
# elsewhere this prints how to install it and the browser tests skip.
chromium:
	@bash scripts/ensure-chromium.sh

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: $(VENV)/.installed-dev chromium lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-requirements
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
