package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// build runs kustomize (the library kubectl -k uses) on dir of fs.
func build(t *testing.T, fs filesys.FileSystem, dir string) resmap.ResMap {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return m
}

// TestKustomizeBuild builds the base, and an overlay with the KEDA
// component as docs/deploy.md shows it, and checks what kubectl would
// apply: every object in the crmstream namespace, the image rewritten, the
// ScaledObject only with the component.
func TestKustomizeBuild(t *testing.T) {
	root, err := filepath.Abs("k8s")
	if err != nil {
		t.Fatal(err)
	}
	disk := filesys.MakeFsOnDisk()
	base := build(t, disk, filepath.Join(root, "base"))

	counts := map[string]int{}
	for _, r := range base.Resources() {
		kind := r.GetKind()
		counts[kind]++
		if kind != "Namespace" && r.GetNamespace() != "crmstream" {
			t.Errorf("%s/%s is in namespace %q, want crmstream", kind, r.GetName(), r.GetNamespace())
		}
		if r.GetLabels()["app.kubernetes.io/part-of"] != "crmstream" {
			t.Errorf("%s/%s lacks the part-of label", kind, r.GetName())
		}
		if kind == "Deployment" {
			y, _ := r.AsYAML()
			if !strings.Contains(string(y), "image: ghcr.io/crmstream/crmstream:latest") {
				t.Errorf("deployment %s: image not rewritten by the images transformer:\n%s", r.GetName(), y)
			}
		}
	}
	want := map[string]int{"Namespace": 1, "ConfigMap": 1, "Deployment": 4, "Service": 4, "PodDisruptionBudget": 4}
	for kind, n := range want {
		if counts[kind] != n {
			t.Errorf("base has %d %s, want %d (all: %v)", counts[kind], kind, n, counts)
		}
	}
	if counts["ScaledObject"] != 0 {
		t.Error("the base must not need KEDA")
	}

	// An overlay as an operator writes it, beside the real base.
	mem := filesys.MakeFsInMemory()
	if err := copyDir(disk, mem, root, "/k8s"); err != nil {
		t.Fatal(err)
	}
	overlay := "resources: [../../base]\ncomponents: [../../components/keda]\n"
	if err := mem.WriteFile("/k8s/overlays/prod/kustomization.yaml", []byte(overlay)); err != nil {
		t.Fatal(err)
	}
	prod := build(t, mem, "/k8s/overlays/prod")
	var scaled bool
	for _, r := range prod.Resources() {
		if r.GetKind() == "ScaledObject" {
			scaled = true
			if r.GetNamespace() != "crmstream" {
				t.Errorf("ScaledObject in namespace %q", r.GetNamespace())
			}
		}
	}
	if !scaled || prod.Size() != base.Size()+1 {
		t.Errorf("overlay with the KEDA component: %d objects (base %d), ScaledObject %v", prod.Size(), base.Size(), scaled)
	}
}

func copyDir(from, to filesys.FileSystem, src, dst string) error {
	return from.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return to.MkdirAll(target)
		}
		b, err := from.ReadFile(path)
		if err != nil {
			return err
		}
		return to.WriteFile(target, b)
	})
}
