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

// Each codec's batches reach the broker compressed with it (none: as they
// are) and read back intact.
func TestCompressionCodecs(t *testing.T) {
	brokers := kafkatest.Cluster(t, "codecs")
	value := []byte(strings.Repeat("a compressible canonical event ", 64))
	for _, tc := range []struct {
		name string
		want uint8 // kgo.RecordAttrs.CompressionType
	}{{"", 2}, {"snappy", 2}, {"LZ4", 3}, {"zstd", 4}, {"gzip", 1}, {"none", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := kafka.Config{Brokers: brokers, Compression: tc.name}.Opts()
			if err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic("codecs"), kgo.ConsumeTopics("codecs"))...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(tc.name), Value: value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			for ctx.Err() == nil {
				for _, r := range cl.PollRecords(ctx, 1).Records() {
					if string(r.Key) != tc.name {
						continue
					}
					if got := r.Attrs.CompressionType(); got != tc.want || string(r.Value) != string(value) {
						t.Fatalf("codec %d (want %d), value intact %v", got, tc.want, string(r.Value) == string(value))
					}
					return
				}
			}
			t.Fatal("record not read back")
		})
	}
}
