// Package deploy holds no code: it is the home of the deployment files and
// of the test that checks them offline (no cluster, no Docker engine here).
//
//	k8s/base                kustomize base: Namespace, ConfigMap, and per service a
//	                        Deployment (probes, resources, non-root), Service and
//	                        PodDisruptionBudget
//	k8s/components/keda     optional: scale the scorer by consumer lag (KEDA)
//	prometheus/             scrape configuration and alert rules (docker-compose)
//	grafana/                provisioned ClickHouse and Prometheus data sources, dashboard
//	clickhouse/             cluster configuration example (remote_servers, macros, Keeper)
//
// The Dockerfile and docker-compose.yml live at the repository root.
// deploy_test.go decodes every Kubernetes manifest strictly into the
// k8s.io/api types (an unknown or misspelt field fails), checks the
// invariants the services rely on (probes on /healthz and /readyz, ports,
// resources, a Service and a PodDisruptionBudget per Deployment, secrets and
// ConfigMaps that exist), that kustomizations name existing files, and that
// the Grafana dashboard uses only provisioned data sources. kustomize_test.go
// runs kustomize itself (sigs.k8s.io/kustomize/api, what kubectl -k uses) on
// the base and on an overlay with the KEDA component.
// kcat_test.go has Debian's kcat (librdkafka, a third-party client)
// produce raw events to a development broker and finds them, relayed, in
// crm.events. scripts/validate-deploy.sh runs these tests together with
// `docker-compose config -q`, installing docker-compose and kcat when
// missing.
package deploy
