package main

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

func TestEvalCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a small world")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	err = runEval(context.Background(), []string{"--leads", "400", "--accounts", "5", "--days", "130", "--warmup-days", "20"})
	w.Close()
	os.Stdout = stdout
	out := <-done
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"\nlead_auc=", "\nlead_oracle_auc=", "\nchurn_auc=", "\nchurn_oracle_auc=", "\nlead_ece=",
		"\nabandonment_precision=", "\ninactivity_recall=", "\nabandonment_delay_p95_s=", "\ngoal_lead_auc_ratio="} {
		if !strings.Contains(out, k) {
			t.Errorf("output lacks %q:\n%s", k[1:], out)
		}
	}
}

func TestEvalCommandRejectsBadFlags(t *testing.T) {
	err := runEval(context.Background(), []string{"--days", "50", "--partitions", "0"})
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--partitions") || !strings.Contains(err.Error(), "--days") {
		t.Fatalf("err = %v, want a usage error naming --days and --partitions", err)
	}
}
