package deploy

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// servicePorts is the contract of PLAN.md: every service listens (API,
// /metrics, /healthz, /readyz) on its own port.
var servicePorts = map[string]int32{"ingest": 8081, "scorer": 8082, "dashboard-api": 8080, "notifier": 8083}

// manifests is everything decoded from one kustomization directory.
type manifests struct {
	deployments []appsv1.Deployment
	services    []corev1.Service
	pdbs        []policyv1.PodDisruptionBudget
	configMaps  []corev1.ConfigMap
	other       []string // kinds decoded structurally (ScaledObject, …)
}

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// splitDocs splits a multi-document YAML file on "---" lines.
func splitDocs(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(b, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// strict decodes doc into v, failing on unknown or duplicate fields.
func strict(t *testing.T, where string, doc []byte, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		t.Errorf("%s: %v", where, err)
	}
}

// scaledObject is the part of KEDA's ScaledObject the deployment uses;
// decoded strictly so a misspelt field fails here, not in the cluster.
type scaledObject struct {
	typeMeta `json:",inline"`
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		ScaleTargetRef struct {
			Name string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount int `json:"minReplicaCount"`
		MaxReplicaCount int `json:"maxReplicaCount"`
		PollingInterval int `json:"pollingInterval"`
		CooldownPeriod  int `json:"cooldownPeriod"`
		Advanced        struct {
			HorizontalPodAutoscalerConfig struct {
				Behavior json.RawMessage `json:"behavior"`
			} `json:"horizontalPodAutoscalerConfig"`
		} `json:"advanced"`
		Triggers []struct {
			Type     string            `json:"type"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

type kustomization struct {
	typeMeta   `json:",inline"`
	Namespace  string            `json:"namespace"`
	Resources  []string          `json:"resources"`
	Components []string          `json:"components"`
	Labels     []json.RawMessage `json:"labels"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

// load decodes the kustomization in dir and every resource it names.
func load(t *testing.T, dir string) (kustomization, manifests) {
	t.Helper()
	var k kustomization
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	strict(t, dir+"/kustomization.yaml", raw, &k)
	var m manifests
	for _, res := range k.Resources {
		path := filepath.Join(dir, res)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("kustomization names %s: %v", res, err)
			continue
		}
		for i, doc := range splitDocs(b) {
			where := fmt.Sprintf("%s document %d", path, i+1)
			var tm typeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				var d appsv1.Deployment
				strict(t, where, doc, &d)
				m.deployments = append(m.deployments, d)
			case "v1 Service":
				var s corev1.Service
				strict(t, where, doc, &s)
				m.services = append(m.services, s)
			case "policy/v1 PodDisruptionBudget":
				var p policyv1.PodDisruptionBudget
				strict(t, where, doc, &p)
				m.pdbs = append(m.pdbs, p)
			case "v1 ConfigMap":
				var c corev1.ConfigMap
				strict(t, where, doc, &c)
				m.configMaps = append(m.configMaps, c)
			case "v1 Namespace":
				var n corev1.Namespace
				strict(t, where, doc, &n)
				m.other = append(m.other, tm.Kind)
			case "keda.sh/v1alpha1 ScaledObject":
				var so scaledObject
				strict(t, where, doc, &so)
				m.other = append(m.other, tm.Kind)
			default:
				t.Errorf("%s: unexpected %s %s", where, tm.APIVersion, tm.Kind)
			}
		}
	}
	return k, m
}

func TestBaseManifests(t *testing.T) {
	const dir = "k8s/base"
	k, m := load(t, dir)
	if k.Kind != "Kustomization" || k.Namespace != "crmstream" {
		t.Errorf("kustomization kind %q namespace %q", k.Kind, k.Namespace)
	}
	// Every manifest in the directory is either listed or an example.
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		name := filepath.Base(f)
		if name != "kustomization.yaml" && !strings.HasSuffix(name, ".example.yaml") && !slices.Contains(k.Resources, name) {
			t.Errorf("%s is not listed in kustomization.yaml resources", name)
		}
	}
	configMaps := map[string]bool{}
	for _, c := range m.configMaps {
		configMaps[c.Name] = true
	}
	var secretExample corev1.Secret
	raw, err := os.ReadFile(filepath.Join(dir, "secret.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	strict(t, "secret.example.yaml", raw, &secretExample)

	seen := map[string]bool{}
	for _, d := range m.deployments {
		name := d.Name
		seen[name] = true
		port, known := servicePorts[name]
		if !known {
			t.Errorf("deployment %q is not one of the services %v", name, servicePorts)
			continue
		}
		t.Run(name, func(t *testing.T) {
			checkDeployment(t, d, port, configMaps, secretExample)
			checkSelected(t, d, m)
		})
	}
	for name := range servicePorts {
		if !seen[name] {
			t.Errorf("no Deployment for service %s", name)
		}
	}
}

func checkDeployment(t *testing.T, d appsv1.Deployment, port int32, configMaps map[string]bool, secret corev1.Secret) {
	sel, err := metav1LabelSelector(d)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("selector %v does not match the pod template labels %v", d.Spec.Selector, d.Spec.Template.Labels)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 && d.Name != "scorer" {
		t.Errorf("replicas %v: want at least 2 for availability", d.Spec.Replicas)
	}
	ps := d.Spec.Template.Spec
	if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
		t.Error("pod must set runAsNonRoot")
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(ps.Containers))
	}
	c := ps.Containers[0]
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != port || c.Ports[0].Name != "http" {
		t.Errorf("container ports %+v, want http %d", c.Ports, port)
	}
	if len(c.Command) != 1 || c.Command[0] != "/usr/local/bin/"+d.Name {
		t.Errorf("command %v, want the %s binary of the image", c.Command, d.Name)
	}
	addr := ""
	for _, e := range c.Env {
		if e.Name == "CRM_HTTP_ADDR" {
			addr = e.Value
		}
		if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
			if ref.SecretKeyRef.Name != secret.Name {
				t.Errorf("env %s reads secret %q, want %q", e.Name, ref.SecretKeyRef.Name, secret.Name)
			}
			if _, ok := secret.StringData[ref.SecretKeyRef.Key]; !ok {
				t.Errorf("env %s reads key %q, which secret.example.yaml does not document", e.Name, ref.SecretKeyRef.Key)
			}
		}
	}
	if addr != fmt.Sprintf("0.0.0.0:%d", port) {
		t.Errorf("CRM_HTTP_ADDR %q, want 0.0.0.0:%d (the default listens on loopback only)", addr, port)
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil && !configMaps[ef.ConfigMapRef.Name] {
			t.Errorf("envFrom names ConfigMap %q, which the base does not define", ef.ConfigMapRef.Name)
		}
	}
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		want := map[string]string{"liveness": "/healthz", "readiness": "/readyz"}[name]
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe %+v, want GET %s on port http", name, p, want)
		}
	}
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	if lim.Memory().Cmp(*req.Memory()) < 0 {
		t.Errorf("memory limit %s below request %s", lim.Memory(), req.Memory())
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("container must have a read-only root filesystem and no privilege escalation")
	}
}

// checkSelected: a Service exposes the pods on their port, and a
// PodDisruptionBudget covers them with fewer than all replicas required.
func checkSelected(t *testing.T, d appsv1.Deployment, m manifests) {
	podLabels := labels.Set(d.Spec.Template.Labels)
	port := servicePorts[d.Name]
	var svc, pdb bool
	for _, s := range m.services {
		if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			svc = true
			if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != port || s.Spec.Ports[0].TargetPort.String() != "http" {
				t.Errorf("service %s ports %+v, want %d → http", s.Name, s.Spec.Ports, port)
			}
		}
	}
	for _, p := range m.pdbs {
		sel, err := labelSelector(p.Spec.Selector)
		if err != nil {
			t.Errorf("pdb %s: %v", p.Name, err)
			continue
		}
		if sel.Matches(podLabels) {
			pdb = true
			if p.Spec.MinAvailable == nil || p.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
				t.Errorf("pdb %s minAvailable %v with %d replicas: a drain could never evict a pod", p.Name, p.Spec.MinAvailable, *d.Spec.Replicas)
			}
		}
	}
	if !svc {
		t.Error("no Service selects the pods")
	}
	if !pdb {
		t.Error("no PodDisruptionBudget covers the pods")
	}
}

func TestKEDAComponent(t *testing.T) {
	raw, err := os.ReadFile("k8s/components/keda/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	strict(t, "keda kustomization", raw, &k)
	if k.Kind != "Component" || len(k.Resources) != 1 {
		t.Fatalf("keda: kind %q resources %v", k.Kind, k.Resources)
	}
	b, err := os.ReadFile(filepath.Join("k8s/components/keda", k.Resources[0]))
	if err != nil {
		t.Fatal(err)
	}
	var so scaledObject
	strict(t, "scaledobject", b, &so)
	if so.Spec.ScaleTargetRef.Name != "scorer" || len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "kafka" {
		t.Fatalf("scaled object %+v: want the scorer scaled by a kafka trigger", so.Spec)
	}
	md := so.Spec.Triggers[0].Metadata
	for _, key := range []string{"bootstrapServers", "consumerGroup", "topic", "lagThreshold"} {
		if md[key] == "" {
			t.Errorf("kafka trigger lacks %s", key)
		}
	}
	if md["topic"] != "crm.events" || so.Spec.MinReplicaCount < 1 || so.Spec.MaxReplicaCount < so.Spec.MinReplicaCount {
		t.Errorf("trigger topic %q replicas %d..%d", md["topic"], so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount)
	}
	// The brokers it watches are the ones the services use, and it never
	// runs more scorers than crm.events has partitions.
	_, m := load(t, "k8s/base")
	if parts, err := strconv.Atoi(m.configMaps[0].Data["CRM_KAFKA_PARTITIONS"]); err != nil || so.Spec.MaxReplicaCount > parts {
		t.Errorf("maxReplicaCount %d with CRM_KAFKA_PARTITIONS %q: idle scorers", so.Spec.MaxReplicaCount, m.configMaps[0].Data["CRM_KAFKA_PARTITIONS"])
	}
	if m.configMaps[0].Data["CRM_KAFKA_BROKERS"] != md["bootstrapServers"] {
		t.Errorf("KEDA watches %q, the services use %q", md["bootstrapServers"], m.configMaps[0].Data["CRM_KAFKA_BROKERS"])
	}
}

func TestPrometheusConfig(t *testing.T) {
	var cfg struct {
		Global        map[string]string `json:"global"`
		RuleFiles     []string          `json:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	raw, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	strict(t, "prometheus.yml", raw, &cfg)
	targets := map[string]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, s := range sc.StaticConfigs {
			for _, tg := range s.Targets {
				targets[sc.JobName] = tg
			}
		}
	}
	for name, port := range servicePorts {
		if want := fmt.Sprintf("%s:%d", name, port); targets[name] != want {
			t.Errorf("scrape job %s target %q, want %q", name, targets[name], want)
		}
	}
	var rules struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	raw, err = os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	strict(t, "alerts.yml", raw, &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v: want alert, expr and a summary", r)
			}
		}
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `json:"apiVersion"`
		Datasources []struct {
			Name           string            `json:"name"`
			UID            string            `json:"uid"`
			Type           string            `json:"type"`
			IsDefault      bool              `json:"isDefault"`
			Access         string            `json:"access"`
			URL            string            `json:"url"`
			JSONData       map[string]any    `json:"jsonData"`
			SecureJSONData map[string]string `json:"secureJsonData"`
		} `json:"datasources"`
	}
	raw, err := os.ReadFile("grafana/provisioning/datasources/datasources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	strict(t, "datasources.yaml", raw, &ds)
	uids := map[string]string{}
	for _, d := range ds.Datasources {
		uids[d.UID] = d.Type
	}
	if uids["crm-clickhouse"] != "grafana-clickhouse-datasource" || uids["crm-prometheus"] != "prometheus" {
		t.Fatalf("data sources %v", uids)
	}
	raw, err = os.ReadFile("grafana/dashboards/crmstream.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				Type string `json:"type"`
				UID  string `json:"uid"`
			} `json:"datasource"`
			Targets []map[string]any `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatal("dashboard has no uid or no panels")
	}
	for _, p := range dash.Panels {
		if typ, ok := uids[p.Datasource.UID]; !ok || typ != p.Datasource.Type {
			t.Errorf("panel %q uses data source %+v, which is not provisioned", p.Title, p.Datasource)
		}
		for _, tg := range p.Targets {
			q, _ := tg["rawSql"].(string)
			if p.Datasource.Type == "grafana-clickhouse-datasource" && !strings.Contains(q, "crm.") {
				t.Errorf("panel %q: ClickHouse query %q reads no crm table", p.Title, q)
			}
		}
	}
}

func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string         `json:"image"`
			Command     []string       `json:"command"`
			Profiles    []string       `json:"profiles"`
			Environment map[string]any `json:"environment"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatal(err)
	}
	for name, port := range servicePorts {
		s, ok := compose.Services[name]
		if !ok {
			t.Errorf("compose has no %s service", name)
			continue
		}
		if got := fmt.Sprint(s.Environment["CRM_HTTP_ADDR"]); got != fmt.Sprintf("0.0.0.0:%d", port) {
			t.Errorf("%s CRM_HTTP_ADDR %q", name, got)
		}
		if fmt.Sprint(s.Environment["CRM_KAFKA_BROKERS"]) != "kafka:9092" || fmt.Sprint(s.Environment["CRM_CLICKHOUSE_ADDR"]) != "clickhouse:9000" {
			t.Errorf("%s does not point at the compose kafka and clickhouse: %v", name, s.Environment)
		}
	}
	if sim := compose.Services["simulator"]; !slices.Contains(sim.Profiles, "sim") {
		t.Error("the simulator must be an optional profile")
	}
	if img := compose.Services["clickhouse"].Image; !strings.HasPrefix(img, "clickhouse/clickhouse-server:") {
		t.Errorf("clickhouse image %q", img)
	}
	if img := compose.Services["kafka"].Image; !strings.HasPrefix(img, "apache/kafka:") {
		t.Errorf("kafka image %q", img)
	}
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FROM golang:1.26 AS build", "FROM gcr.io/distroless/static-debian12:nonroot", "USER 65532:65532"} {
		if !strings.Contains(string(df), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

func metav1LabelSelector(d appsv1.Deployment) (labels.Selector, error) {
	return labelSelector(d.Spec.Selector)
}

func labelSelector(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return nil, fmt.Errorf("no selector")
	}
	return metav1.LabelSelectorAsSelector(s)
}

func TestClickHouseClusterExample(t *testing.T) {
	raw, err := os.ReadFile("clickhouse/cluster.xml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Clusters struct {
			Crm struct {
				Shards []struct {
					InternalReplication bool `xml:"internal_replication"`
					Replicas            []struct {
						Host string `xml:"host"`
						Port int    `xml:"port"`
					} `xml:"replica"`
				} `xml:"shard"`
			} `xml:"crm"`
		} `xml:"remote_servers"`
		Macros struct {
			Shard   string `xml:"shard"`
			Replica string `xml:"replica"`
		} `xml:"macros"`
	}
	if err := xml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("cluster.xml: %v", err)
	}
	shards := cfg.Clusters.Crm.Shards
	if len(shards) < 2 || cfg.Macros.Shard == "" || cfg.Macros.Replica == "" {
		t.Fatalf("cluster.xml: %d shards, macros %+v", len(shards), cfg.Macros)
	}
	for i, s := range shards {
		// Replicated tables replicate themselves; the Distributed table
		// must write one replica per shard, not all of them.
		if !s.InternalReplication || len(s.Replicas) < 2 {
			t.Errorf("shard %d: internal_replication %v with %d replicas", i+1, s.InternalReplication, len(s.Replicas))
		}
	}
}
