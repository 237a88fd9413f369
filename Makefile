# The two set-up commands are `make up` and `make test`; both install what is missing.
VENV ?= .venv
NL := $(VENV)/bin/netledger

.PHONY: install up down test test-fast bench soak clean

install:
	@./deploy/install.sh

up: install
	@$(NL) up --detach

down:
	@$(NL) down

test: install
	@$(VENV)/bin/pytest -q --durations=25

test-fast: install
	@$(VENV)/bin/pytest -q -m "not dataplane and not slow"

bench: install
	@$(VENV)/bin/python -m netledger.bench.run

clean:
	rm -rf var .pytest_cache
