// Package kafkatest starts an in-process Kafka cluster (franz-go's kfake,
// the real wire protocol on a loopback port) for tests.
package kafkatest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Cluster starts a one-broker cluster with the given topics (4 partitions
// each; more topics are created on demand) and returns its seed brokers. It
// is shut down when the test ends.
func Cluster(t testing.TB, topics ...string) []string {
	t.Helper()
	c := New(t, 4, topics...)
	return c.ListenAddrs()
}

// New starts a cluster with the given partitions per seeded topic and
// returns it, for tests that need to control it (restart, faults).
func New(t testing.TB, partitions int32, topics ...string) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(int(partitions))}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kafkatest: start cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
