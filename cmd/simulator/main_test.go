package main

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr []string // substrings, all present
		check   func(t *testing.T, c config)
	}{
		{name: "defaults", check: func(t *testing.T, c config) {
			if c.sim.Leads != 2000 || c.sim.Span != 240*24*time.Hour || c.out != "" || c.topic != "crm.raw" {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "env", env: map[string]string{"CRM_SIM_LEADS": "50", "CRM_KAFKA_BROKERS": "127.0.0.1:9092", "CRM_SIM_FLOW_TIMEOUT": "45m"},
			check: func(t *testing.T, c config) {
				if c.sim.Leads != 50 || c.brokers != "127.0.0.1:9092" || c.sim.DefaultFlowTimeout != 45*time.Minute {
					t.Errorf("env not applied: leads %d brokers %q timeout %v", c.sim.Leads, c.brokers, c.sim.DefaultFlowTimeout)
				}
			}},
		{name: "flag beats env", args: []string{"--leads", "7"}, env: map[string]string{"CRM_SIM_LEADS": "50"},
			check: func(t *testing.T, c config) {
				if c.sim.Leads != 7 {
					t.Errorf("leads %d, want 7", c.sim.Leads)
				}
			}},
		{name: "live", args: []string{"--live", "--backfill", "30m", "--http", "http://127.0.0.1:8081/v1/events"},
			check: func(t *testing.T, c config) {
				if d := time.Since(c.sim.Start); d < 29*time.Minute || d > 31*time.Minute {
					t.Errorf("live start %v ago, want 30m", d)
				}
				if c.sim.LeadsPerHour != 120 || c.sim.AccountRamp != 30*time.Minute {
					t.Errorf("live: leads/h %v ramp %v", c.sim.LeadsPerHour, c.sim.AccountRamp)
				}
			}},
		{name: "days span", args: []string{"--span", "30d"}, check: func(t *testing.T, c config) {
			if c.sim.Span != 30*24*time.Hour {
				t.Errorf("span %v", c.sim.Span)
			}
		}},
		{name: "every problem at once",
			args:    []string{"--out", "x.ndjson", "--kafka", "k:9092", "--span", "soon", "--duplicates", "0.9", "--http", "ftp://x"},
			wantErr: []string{"choose one output", "--span", "duplicate rate", "want an http(s) URL"}},
		{name: "leads per hour needs live", args: []string{"--leads-per-hour", "10"}, wantErr: []string{"needs --live"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"CRM_SIM_LEADS", "CRM_KAFKA_BROKERS", "CRM_SIM_FLOW_TIMEOUT", "CRM_INGEST_URL", "CRM_SIM_OUT"} {
				t.Setenv(k, tc.env[k])
				if tc.env[k] == "" {
					t.Setenv(k, "")
				}
			}
			c, err := parse(tc.args)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}
