# The two set-up commands of the README. Both create ./.venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bundle

# Opens the window on the bundled demo case (headless demo where there is no display).
run: $(BIN)/.app-installed
	$(BIN)/kneeseg demo

# Installs the test and trainer dependencies, then checks style, architecture and runs the whole test suite.
# KNEESEG_REQUIRE_TRAIN=1: the nnU-Net parity and trainer tests fail (never skip) when their dependencies are missing.
test: $(BIN)/.dev-installed lint
	KNEESEG_REQUIRE_TRAIN=1 QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 $(BIN)/python -m pytest tests

# Style (ruff) and the architecture's import contracts (pyproject.toml [tool.importlinter]).
lint: $(BIN)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# One-folder PyInstaller bundle + versioned archive in dist/ (see packaging/README.md).
bundle: $(BIN)/.dev-installed
	$(BIN)/python packaging/build.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(BIN)/.app-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e .
	touch $@

$(BIN)/.dev-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e ".[dev,train]"
	touch $(BIN)/.app-installed $@
