#!/usr/bin/env bash
# Stop the local stack started by up.sh, services first (in reverse order),
# each with SIGTERM so it drains and commits, then ClickHouse.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
for (( i=${#services[@]}-1; i>=0; i-- )); do
  name="${services[$i]%%|*}"
  pf="$run/$name.pid"
  [ -f "$pf" ] || continue
  pid=$(cat "$pf")
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null && echo "down: $name killed after 20 s" >&2
  fi
  rm -f "$pf"
  echo "down: $name stopped" >&2
done
if [ "${1:-}" = "--keep-clickhouse" ] || [ -n "${CRM_KEEP_CLICKHOUSE:-}" ]; then exit 0; fi
"$root/scripts/clickhouse.sh" stop
