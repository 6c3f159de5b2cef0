#!/usr/bin/env bash
# Every test: formatting, vet, unit and integration tests (real ClickHouse,
# kfake brokers on loopback, kcat, headless Chromium), deployment checks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/clickhouse.sh start

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...

[ -x scripts/validate-deploy.sh ] && scripts/validate-deploy.sh --compose-only

# -p 2: two packages at a time on this 2-core machine keeps integration
# tests from starving each other of CPU.
log=$(mktemp)
set +e
go test -race -shuffle=on -p 2 -timeout 20m ./... 2>&1 | tee "$log" | grep -v 'no test files'
status=${PIPESTATUS[0]}
# The statistical tests of the simulator and the evaluation need the speed
# of a build without the race detector (they skip under it): run them again.
go test -shuffle=on -count=1 -timeout 10m ./simulator/ ./eval/ 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
set -e
passed=$(grep -c '^ok' "$log" || true)
failed=$(grep -c '^FAIL' "$log" || true)
rm -f "$log"
echo "packages: $passed passed, $failed failed"
exit "$status"
