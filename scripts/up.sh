#!/usr/bin/env bash
# Start the local stack: ClickHouse (installed if missing), the development
# Kafka broker, and the services. Idempotent: starts only what is not
# running. Returns when all are healthy. Logs: .run/<name>.log.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
"$root/scripts/clickhouse.sh" start
build

export CRM_KAFKA_BROKERS="${CRM_KAFKA_BROKERS:-127.0.0.1:9092}"
export CRM_CLICKHOUSE_ADDR="${CRM_CLICKHOUSE_ADDR:-127.0.0.1:9000}"
export CRM_CLICKHOUSE_DATABASE="${CRM_CLICKHOUSE_DATABASE:-crm}"
# Broker and ClickHouse run on this machine: compressing what goes over
# loopback only costs CPU. A deployment across a network keeps the defaults
# (snappy for Kafka batches, LZ4 for ClickHouse blocks).
export CRM_KAFKA_COMPRESSION="${CRM_KAFKA_COMPRESSION:-none}"
export CRM_CLICKHOUSE_COMPRESSION="${CRM_CLICKHOUSE_COMPRESSION:-none}"
# Alerts go to devhook (a local stand-in for Slack) unless a routing table is given.
if [ -z "${CRM_NOTIFIER_ROUTES:-}" ]; then
  cat >"$run/routes.yaml" <<YAML
default: team
endpoints:
  team: {url: "http://127.0.0.1:8084/hooks/team"}
YAML
  export CRM_NOTIFIER_ROUTES="$run/routes.yaml"
fi

for entry in "${services[@]}"; do
  name="${entry%%|*}"; check="${entry#*|}"
  [ -x "$bin/$name" ] || { echo "up: $name is not built; skipped" >&2; continue; }
  if running "$name" || healthy "$check"; then
    echo "up: $name already running" >&2; continue
  fi
  args=()
  [ "$name" = devkafka ] && args=(--data "$root/.data/kafka")
  setsid "$bin/$name" "${args[@]}" >>"$run/$name.log" 2>&1 < /dev/null &
  echo $! >"$run/$name.pid"
  ok=
  for _ in $(seq 1 120); do
    if healthy "$check"; then ok=1; break; fi
    kill -0 "$(cat "$run/$name.pid")" 2>/dev/null || break
    sleep 0.25
  done
  if [ -z "$ok" ]; then
    echo "up: $name did not become healthy; last log lines:" >&2
    tail -20 "$run/$name.log" >&2
    exit 1
  fi
  echo "up: $name ready ($check)" >&2
done
echo "up: all services healthy — dashboard http://127.0.0.1:8080/  collector http://127.0.0.1:8081/v1/events" >&2
