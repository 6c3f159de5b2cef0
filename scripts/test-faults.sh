#!/usr/bin/env bash
# Slow fault-injection tests against the real binaries: kill -9 of ingest and
# the scorer, ClickHouse stopped for a minute under load, a broker restart, a
# consumer-group rebalance. They run their own ClickHouse (ports 19000/18123)
# and brokers, so they do not disturb `make up`. About 10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
go test -tags faults -v -count=1 -timeout 40m ./faults/ "$@"
