# The two set-up commands of the README. Each creates .venv on first use and reuses it afterwards
# (it reinstalls only when pyproject.toml changed).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make run: install, then start the API (port 8000) and the web app (http://127.0.0.1:8501); Ctrl+C stops both
run: install
	$(BIN)/support-desk run

## make test: install, then ruff, import contracts (lint-imports), mypy and the pytest suite (browser test included)
test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check crew api desk bench cli security web_interface tests
	$(BIN)/ruff format --check crew api desk bench cli security web_interface tests
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

pytest: install
	sh scripts/ensure_chromium.sh
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
