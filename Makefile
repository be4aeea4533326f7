# Two entry points that work on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB ?= db/citations.db
PORT ?= 8001
EXAMPLE := examples/china-russia-central-asia.md

.PHONY: install chromium run test lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser tests; installed when we are root, otherwise explained.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core; \
	  else \
	    echo "Chromium is missing: 'sudo apt-get install chromium' (browser tests are skipped without it)"; \
	  fi; }

run: install
	$(BIN)/archiver archive $(EXAMPLE) --db $(DB)
	$(BIN)/archiver serve --db $(DB) --port $(PORT)

test: install chromium
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check archiver tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/cog --check README.md

docs: install
	$(BIN)/cog -r README.md

clean:
	rm -rf $(VENV) db/citations.db* db/warc tests/screenshots
