# RecLab: `make run` starts the dashboard, `make test` runs lint and every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8501
PYTEST_ARGS ?=

.PHONY: run test lint format chromium bench clean

# The venv is created once; requirements are (re)installed only when the files changed since the
# last install (the stamp files are newer than them otherwise).
$(BIN)/python:
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
