# Shared helpers of the local-stack scripts (sourced, not run).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
run="$root/.run"
bin="$root/bin"
mkdir -p "$run" "$bin"

# Services of the local stack, in start order: name|health check.
services=(
  "devkafka|tcp:127.0.0.1:9092"
  "ingest|http://127.0.0.1:8081/healthz"
  "scorer|http://127.0.0.1:8082/healthz"
  "devhook|http://127.0.0.1:8084/healthz"
  "notifier|http://127.0.0.1:8083/healthz"
  "dashboard-api|http://127.0.0.1:8080/healthz"
)

healthy() { # healthy <check>
  case "$1" in
    tcp:*) local hp="${1#tcp:}"; (exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}") 2>/dev/null ;;
    *) curl -fsS -m 2 "$1" >/dev/null 2>&1 ;;
  esac
}

running() { # running <name>: its pid file names a live process
  local pf="$run/$1.pid"
  [ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null
}

build() {
  echo "build: go build ./cmd/... → bin/" >&2
  (cd "$root" && go build -o "$bin/" ./cmd/...)
}
