# Two entry points that work on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB ?= db/citations.db
PORT ?= 8001
EXAMPLE := examples/china-russia-central-asia.md
# "Originally published by the East Asia Forum": its site, where --find looks for the original.
EXAMPLE_SITE := eastasiaforum.org

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

# The whole job on the example, whose links were lost in a copy: archive its claims, find the
# original in the Wayback Machine under its publisher's site and fill the links from it, fetch
# and annotate the sources, look up the snapshot nearest its date, then publish. Offline, the
# web-archive steps say in one line what they could not reach, and the citations are served.
run: install
	$(BIN)/archiver archive $(EXAMPLE) --db $(DB)
	$(BIN)/archiver resolve $(EXAMPLE) --find --site $(EXAMPLE_SITE) --db $(DB) || true
	$(BIN)/archiver archive $(EXAMPLE) --db $(DB)
	$(BIN)/archiver mementos --db $(DB) || true
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
