package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("rejects", "", "")
	fs.Bool("dry-run", false, "")
	tests := []struct {
		args         []string
		flags, files []string
	}{
		{[]string{"a.csv", "--rejects", "r.ndjson", "b.ndjson"}, []string{"--rejects", "r.ndjson"}, []string{"a.csv", "b.ndjson"}},
		{[]string{"--dry-run", "a.csv", "--rejects=r"}, []string{"--dry-run", "--rejects=r"}, []string{"a.csv"}},
		{[]string{"-", "--", "--odd-name.csv"}, nil, []string{"-", "--odd-name.csv"}},
		{[]string{"--unknown", "a.csv"}, []string{"--unknown"}, []string{"a.csv"}},
	}
	for _, tt := range tests {
		flags, files := splitArgs(fs, tt.args)
		if !slices.Equal(flags, tt.flags) || !slices.Equal(files, tt.files) {
			t.Errorf("splitArgs(%q) = %q, %q; want %q, %q", tt.args, flags, files, tt.flags, tt.files)
		}
	}
}

func TestImportDryRunWritesRejects(t *testing.T) {
	rejects := filepath.Join(t.TempDir(), "rejects.ndjson")
	err := runImport(context.Background(), []string{"--dry-run", "../../importer/testdata/history.ndjson", "--rejects", rejects})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(rejects)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"line":4`) {
		t.Fatalf("rejects file:\n%s", b)
	}
}
