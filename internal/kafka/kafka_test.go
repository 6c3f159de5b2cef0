package kafka_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/kafkatest"
)

func TestEnsureTopicsIsIdempotent(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	opts, err := kafka.Config{Brokers: brokers}.Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 2; i++ {
		if err := kafka.EnsureTopics(ctx, cl, kafka.DefaultTopics(3)...); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	td, err := kadm.NewClient(cl).ListTopics(ctx, kafka.TopicEvents, kafka.TopicChangelog)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(td[kafka.TopicEvents].Partitions); n != 3 {
		t.Errorf("%s has %d partitions, want 3", kafka.TopicEvents, n)
	}
}

func TestConfigValidate(t *testing.T) {
	err := kafka.Config{Brokers: []string{"nohost"}, SASLMechanism: "GSSAPI", TLSCertFile: "c.pem", Compression: "brotli"}.Validate()
	for _, want := range []string{"host:port", "GSSAPI", "cert and key", `compression "brotli"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to mention %q", err, want)
		}
	}
}

func TestCompressionCodecs(t *testing.T) {
	for _, c := range []string{"", "snappy", "LZ4", "zstd", "gzip", "none"} {
		if _, err := (kafka.Config{Compression: c}).Opts(); err != nil {
			t.Errorf("compression %q: %v", c, err)
		}
	}
}
