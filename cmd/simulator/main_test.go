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
			if c.sim.Leads != 2000 || c.sim.Span != 240*24*time.Hour || c.to != "file" || c.out != "-" || c.topic != "crm.raw" || c.sim.LeadsPerHour != 0 {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "env", env: map[string]string{"CRM_SIM_LEADS": "50", "CRM_KAFKA_BROKERS": "k1:9092,k2:9092", "CRM_SIM_FLOW_TIMEOUT": "45m", "CRM_SIM_TO": "kafka"},
			check: func(t *testing.T, c config) {
				if c.sim.Leads != 50 || strings.Join(c.kafka.Brokers, ",") != "k1:9092,k2:9092" || c.sim.DefaultFlowTimeout != 45*time.Minute || c.to != "kafka" {
					t.Errorf("env not applied: leads %d brokers %v timeout %v to %q", c.sim.Leads, c.kafka.Brokers, c.sim.DefaultFlowTimeout, c.to)
				}
			}},
		{name: "flag beats env", args: []string{"--leads", "7"}, env: map[string]string{"CRM_SIM_LEADS": "50"},
			check: func(t *testing.T, c config) {
				if c.sim.Leads != 7 {
					t.Errorf("leads %d, want 7", c.sim.Leads)
				}
			}},
		{name: "make demo", args: []string{"--live", "--to", "collector", "--collector", "http://127.0.0.1:8081/v1/events", "--leads", "400", "--accounts", "80", "--rate", "200"},
			check: func(t *testing.T, c config) {
				if d := time.Since(c.sim.Start); d < 59*time.Minute || d > 61*time.Minute {
					t.Errorf("live start %v ago, want the 1h backfill", d)
				}
				if c.sim.LeadsPerHour != 120 || c.sim.Ramp != time.Hour || c.sim.Leads != 400 || c.rate != 200 || c.to != "collector" {
					t.Errorf("live: %+v", c)
				}
			}},
		{name: "http alias", args: []string{"--http", "http://ingest:8081/v1/events"}, check: func(t *testing.T, c config) {
			if c.to != "collector" || c.collector != "http://ingest:8081/v1/events" {
				t.Errorf("to %q collector %q", c.to, c.collector)
			}
		}},
		{name: "days span", args: []string{"--span", "30d"}, check: func(t *testing.T, c config) {
			if c.sim.Span != 30*24*time.Hour {
				t.Errorf("span %v", c.sim.Span)
			}
		}},
		{name: "every problem at once",
			args:    []string{"--to", "carrier-pigeon", "--span", "soon", "--duplicates", "0.9", "--seed", "-1"},
			wantErr: []string{"--to", "--span", "duplicate rate", "--seed"}},
		{name: "bad collector", args: []string{"--to", "collector", "--collector", "ftp://x"}, wantErr: []string{"http(s) URL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			c, _, _, err := parse(tc.args, getenv)
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
