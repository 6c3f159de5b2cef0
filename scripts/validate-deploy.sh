#!/usr/bin/env bash
# Offline checks of the deployment files (no Docker engine, no cluster):
#  - docker-compose.yml with Debian's docker-compose (`config -q`), installed
#    here when missing;
#  - every Kubernetes manifest decoded strictly into the k8s.io/api types,
#    kustomizations, the KEDA component, Prometheus and Grafana provisioning
#    (go test ./deploy/).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null 2>&1; then
  echo "validate-deploy: installing docker-compose" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi
docker-compose --project-directory . -f docker-compose.yml config -q
docker-compose --project-directory . -f docker-compose.yml --profile sim config --services | grep -qx simulator
echo "validate-deploy: docker-compose.yml ok"

go test -count=1 ./deploy/
echo "validate-deploy: Kubernetes manifests, Prometheus and Grafana provisioning ok"
