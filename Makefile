# The two commands the README names: `make demo` and `make test`. Both build .venv themselves.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: demo test lint soak bench clean browser

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/collectbridge demo

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The browser tests drive Debian's Chromium (never a downloaded browser); installed when missing.
CHROMIUM = $(or $(CHROMIUM_PATH),/usr/bin/chromium)
SUDO = $(if $(filter 0,$(shell id -u)),,sudo)

browser:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

test: lint browser
	$(BIN)/pytest

# The full soak of the queue (minutes); `make test` runs only its short version.
soak: $(BIN)/.installed
	$(BIN)/pytest -m soak -s

bench: $(BIN)/.installed
	$(BIN)/python -m bench.queue
	$(BIN)/python -m bench.backfill
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.pushback
	$(BIN)/python -m bench.pages

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
