# crmstream — local stack, tests, benchmarks. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ROLE ?= leader
# USER is also the login name in the environment; only a USER given on the
# command line names the token's user.
TOKEN_USER := $(if $(filter command line,$(origin USER)),$(USER),demo)

.PHONY: help build up down status demo test test-faults bench bench-micro eval token clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

build: ## build every binary into bin/
	go build -o bin/ ./cmd/...

up: ## start ClickHouse, the dev Kafka broker and the services (idempotent)
	scripts/up.sh

down: ## stop everything make up started
	scripts/down.sh

status: ## show what is running
	scripts/status.sh

demo: ## make up, then live simulated traffic; prints the dashboard URL; Ctrl-C stops all
	scripts/demo.sh

test: ## every test (installs and starts what it needs)
	scripts/test.sh

test-faults: ## slow fault-injection tests: kill -9, ClickHouse outage, broker restart, rebalance
	scripts/test-faults.sh

bench: ## end-to-end benchmark on this machine, side by side with the floor and peers
	scripts/bench.sh

bench-micro: ## per-stage Go micro-benchmarks
	go test -run '^$$' -bench . -benchmem ./event/ ./windows/ ./features/ ./models/ ./ingest/... ./scorer/...

eval: ## score the simulator's ground truth: model AUC vs oracle, alert precision/recall
	go run ./cmd/crmctl eval

token: ## print a dashboard API token: make token ROLE=rep USER=rep-1
	@go run ./cmd/crmctl token --role $(ROLE) --user $(TOKEN_USER)

clean: ## stop everything and delete local data
	scripts/down.sh; rm -rf .data .run bin artifacts
