# The two set-up commands are `make up` and `make test`; both install what is missing.
VENV ?= .venv
NL := $(VENV)/bin/netledger

.PHONY: install up down test test-fast bench soak sdk-functional clean proto

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

soak: install
	@CHAOS_WRITES=10000 CHAOS_KILLS=60 CHAOS_DP_PORTS=300 $(VENV)/bin/pytest -q -s \
		tests/reliability/test_crash.py tests/dataplane/test_chaos_dataplane.py

# openstacksdk's own functional network tests against the all-in-one behind a real Keystone.
sdk-functional: install
	@$(VENV)/bin/python -m tests.sdk_functional.run

# Regenerate services/grpc_api/gen from services/grpc_api/protos.
proto:
	@PYTHON=$(VENV)/bin/python ./services/grpc_api/regen.sh

clean:
	rm -rf var .pytest_cache
