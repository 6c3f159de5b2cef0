package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/crmstream/crmstream/internal/cli"
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		err  string // "" = no error; "help" = cli.ErrHelp
	}{
		{args: []string{"--validate"}},
		{args: []string{"--help"}, err: "help"},
		{args: []string{"--validate", "--mode", "backfill", "--lateness", "10m"}},
		{args: []string{"--validate", "--mode", "sometimes"}, err: "--mode"},
		{args: []string{"--validate", "--partitions", "0"}, err: "--partitions"},
		{args: []string{"--validate"}, env: map[string]string{"CRM_SCORER_LATENESS": "-1m"}, err: "negative"},
		{args: []string{"--validate"}, env: map[string]string{"CRM_KAFKA_BROKERS": "nohostport"}, err: "host:port"},
		{args: []string{"--validate", "--abandonment-timeout", "2m", "--flow-timeouts", "checkout=20m,signup=1h", "--inactivity-lead", "1h"}},
		{args: []string{"--validate", "--flow-timeouts", "checkout"}, err: "flow=duration"},
		{args: []string{"--validate", "--abandonment-timeout", "0s"}, err: "alert rules"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			err := run(tc.args)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.err == "help" && !errors.Is(err, cli.ErrHelp):
				t.Fatalf("want ErrHelp, got %v", err)
			case tc.err != "" && tc.err != "help" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("want an error naming %q, got %v", tc.err, err)
			}
		})
	}
}
