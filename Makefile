# Sahaya — two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint typecheck unit bench clean install system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start PostgreSQL (embedded, under ./var), migrate, seed the demo once, serve and work.
run: $(STAMP)
	$(BIN)/sahaya run

## Lint, type-check, architecture contracts and the whole test suite.
test: $(STAMP) system-deps lint typecheck
	$(BIN)/pytest -q

## Dovecot's IMAP server for the email tests (the tests start their own private instance;
## the system service the package may start is stopped and disabled).
system-deps:
	@if ! test -x /usr/sbin/dovecot || ! test -x /usr/lib/dovecot/imap; then \
		echo "installing dovecot-imapd (for the email tests)"; \
		$(SUDO) apt-get update -qq || exit 1; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			dovecot-imapd >/dev/null || exit 1; \
		{ $(SUDO) systemctl disable --now dovecot.service dovecot.socket; \
		  $(SUDO) service dovecot stop; } >/dev/null 2>&1 || true; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	@echo "see bench/README.md"

clean:
	rm -rf $(VENV) build *.egg-info
