#!/usr/bin/env bash
# Local ClickHouse for development and tests: Debian's clickhouse-server, run
# from the project's own config with all data under .data/clickhouse.
#
#   scripts/clickhouse.sh install   install the Debian packages if missing
#   scripts/clickhouse.sh start     install, start (idempotent), wait until it answers
#   scripts/clickhouse.sh stop      stop the server started here
#   scripts/clickhouse.sh status    exit 0 when it answers on :9000/:8123
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${CRM_CLICKHOUSE_DATA:-$root/.data/clickhouse}"
run="$root/.run"
pidfile="${CRM_CLICKHOUSE_PIDFILE:-$run/clickhouse.pid}"
http_port="${CRM_CLICKHOUSE_HTTP_PORT:-8123}"
tcp_port="${CRM_CLICKHOUSE_TCP_PORT:-9000}"

install() {
  if command -v clickhouse-server >/dev/null 2>&1; then return; fi
  echo "clickhouse: installing Debian's clickhouse-server (needs root)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
}

answers() { curl -fsS "http://127.0.0.1:$http_port/ping" >/dev/null 2>&1; }

config() {
  mkdir -p "$data"/{data,tmp,user_files,format_schemas,log} "$run"
  cat >"$data/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>$data/log/server.log</log>
    <errorlog>$data/log/error.log</errorlog>
    <size>100M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$http_port</http_port>
  <tcp_port>$tcp_port</tcp_port>
  <max_connections>4096</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>200</max_concurrent_queries>
  <uncompressed_cache_size>1073741824</uncompressed_cache_size>
  <mark_cache_size>1073741824</mark_cache_size>
  <path>$data/data/</path>
  <tmp_path>$data/tmp/</tmp_path>
  <user_files_path>$data/user_files/</user_files_path>
  <format_schema_path>$data/format_schemas/</format_schema_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
  <max_session_timeout>3600</max_session_timeout>
  <default_session_timeout>60</default_session_timeout>
</yandex>
XML
}

start() {
  install
  if answers; then echo "clickhouse: already running on 127.0.0.1:$tcp_port" >&2; return; fi
  config
  # setsid: the server outlives the calling shell (make up returns at once).
  setsid clickhouse-server --config-file="$data/config.xml" >>"$data/log/stdout.log" 2>&1 < /dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if answers; then echo "clickhouse: ready on 127.0.0.1:$tcp_port (data in $data)" >&2; return; fi
    sleep 0.5
  done
  echo "clickhouse: did not answer within 60 s; see $data/log/error.log" >&2
  tail -20 "$data/log/error.log" >&2 || true
  exit 1
}

stop() {
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    rm -f "$pidfile"
  fi
  echo "clickhouse: stopped" >&2
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
