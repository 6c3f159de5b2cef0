package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/kafka"
)

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	pw := filepath.Join(dir, "pw")
	os.WriteFile(cfg, []byte("batch: 7\nname: fromfile\nwait: 2s\nkafka-brokers: [a:1, b:2]\n"), 0o600)
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	var (
		batch int
		name  string
		wait  time.Duration
		k     kafka.Config
	)
	f := New("t", "test", "")
	f.Int(&batch, "batch", "T_BATCH", 1, "")
	f.String(&name, "name", "T_NAME", "def", "")
	f.Duration(&wait, "wait", "", time.Second, "")
	f.Kafka(&k)
	env := map[string]string{"T_NAME": "fromenv", "CRM_KAFKA_SASL_PASSWORD_FILE": pw}
	if err := f.Parse([]string{"--config", cfg, "--batch", "9"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if batch != 9 || name != "fromenv" || wait != 2*time.Second || strings.Join(k.Brokers, ",") != "a:1,b:2" || k.SASLPassword != "s3cret" {
		t.Fatalf("batch=%d name=%q wait=%v brokers=%v pw=%q", batch, name, wait, k.Brokers, k.SASLPassword)
	}
	settings := strings.Join(f.Settings(), " ")
	if strings.Contains(settings, "s3cret") {
		t.Errorf("secret shown: %s", settings)
	}
	if !strings.Contains(settings, "kafka-brokers=a:1,b:2") || !strings.Contains(settings, "kafka-sasl-password=(set)") {
		t.Errorf("settings: %s", settings)
	}
}

func TestUnknownConfigKey(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("nope: 1\n"), 0o600)
	f := New("t", "test", "")
	err := f.Parse([]string{"--config", cfg}, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), `unknown setting "nope"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestHelp(t *testing.T) {
	var b strings.Builder
	var k kafka.Config
	f := New("svc", "does things", "  svc --kafka-brokers k:9092")
	f.Out = &b
	f.Kafka(&k)
	if err := f.Parse([]string{"--help"}, func(string) string { return "" }); err != ErrHelp {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"--kafka-brokers", "$CRM_KAFKA_BROKERS", "Examples:", "svc --kafka-brokers k:9092"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, b.String())
		}
	}
}

// TestClickHouseCompression: lz4 by default, set by environment or flag,
// shown in --help with its variable, and a bad value fails naming it.
func TestClickHouseCompression(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want string
		err  string
	}{
		{want: "lz4"},
		{env: "none", want: "none"},
		{env: "none", args: []string{"--clickhouse-compression", "ZSTD"}, want: "zstd"},
		{env: "snappy", err: `environment CRM_CLICKHOUSE_COMPRESSION for clickhouse-compression: clickhouse compression "snappy": want lz4, zstd or none`},
		{args: []string{"--clickhouse-compression", "gzip"}, err: `want lz4, zstd or none`},
	} {
		var c chstore.Config
		f := New("t", "test", "")
		f.ClickHouse(&c)
		env := map[string]string{"CRM_CLICKHOUSE_COMPRESSION": tc.env}
		err := f.Parse(tc.args, func(k string) string { return env[k] })
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v env %q: err = %v, want %q", tc.args, tc.env, err, tc.err)
			}
		case err != nil:
			t.Errorf("%v env %q: %v", tc.args, tc.env, err)
		case c.Compression != tc.want || c.Validate() != nil:
			t.Errorf("%v env %q: compression %q (valid: %v), want %q", tc.args, tc.env, c.Compression, c.Validate(), tc.want)
		}
	}
	var b strings.Builder
	var c chstore.Config
	f := New("svc", "does things", "")
	f.Out = &b
	f.ClickHouse(&c)
	if err := f.Parse([]string{"--help"}, func(string) string { return "" }); !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"--clickhouse-compression  $CRM_CLICKHOUSE_COMPRESSION", "lz4, zstd or none", "(default lz4)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, b.String())
		}
	}
}
