#!/usr/bin/env bash
# Offline checks of the deployment files (no Docker engine, no cluster):
#  - docker-compose.yml with Debian's docker-compose (`config -q`), installed
#    here when missing;
#  - every Kubernetes manifest decoded strictly into the k8s.io/api types,
#    kustomizations, the KEDA component, Prometheus and Grafana provisioning
#    (go test ./deploy/);
#  - kcat (librdkafka) producing raw events through the ingest relay to
#    crm.events on a development broker (deploy/kcat_test.go).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v kcat >/dev/null 2>&1 || need+=(kcat) # deploy/kcat_test.go: a third-party Kafka client
if [ ${#need[@]} -gt 0 ]; then
  echo "validate-deploy: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
docker-compose --project-directory . -f docker-compose.yml config -q
# Captured first: grep -q exits at the first match, and under pipefail the
# writer's SIGPIPE would fail the script at random.
services=$(docker-compose --project-directory . -f docker-compose.yml --profile sim config --services)
grep -qx simulator <<<"$services"
echo "validate-deploy: docker-compose.yml ok"

# scripts/test.sh passes --compose-only: its `go test ./...` runs ./deploy/.
if [ "${1:-}" = --compose-only ]; then exit 0; fi
go test -count=1 ./deploy/
echo "validate-deploy: Kubernetes manifests, Prometheus and Grafana provisioning, kcat round trip ok"
