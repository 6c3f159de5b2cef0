// Command devkafka runs a single-node development Kafka broker (franz-go's
// kfake: the real Kafka wire protocol) on 127.0.0.1:9092, keeping its data on
// disk so topics and committed offsets survive a restart. It is for the local
// stack and tests only: no replication, no quotas. Production uses real Kafka
// (see docker-compose.yml).
//
//	devkafka --addr-port 9092 --data .data/kafka --partitions 4
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/crmstream/crmstream/internal/kafka"
)

func main() {
	fs := flag.NewFlagSet("devkafka", flag.ExitOnError)
	port := fs.Int("port", envInt("CRM_DEVKAFKA_PORT", 9092), "port to listen on, 127.0.0.1 (env CRM_DEVKAFKA_PORT)")
	dir := fs.String("data", envStr("CRM_DEVKAFKA_DATA", ".data/kafka"), "directory for the broker's data; empty = memory only (env CRM_DEVKAFKA_DATA)")
	parts := fs.Int("partitions", envInt("CRM_DEVKAFKA_PARTITIONS", 4), "partitions of the product's topics (env CRM_DEVKAFKA_PARTITIONS)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "devkafka: a development Kafka broker (kfake) for the local stack.\n\nUsage: devkafka [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("component", "devkafka")
	if err := run(*port, *dir, int32(*parts), log); err != nil {
		log.Error("devkafka failed", "error", err)
		os.Exit(1)
	}
}

func run(port int, dir string, partitions int32, log *slog.Logger) error {
	opts := []kfake.Opt{kfake.Ports(port), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(int(partitions))}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		opts = append(opts, kfake.DataDir(dir), kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("start broker: %w", err)
	}
	defer c.Close()
	for _, t := range kafka.DefaultTopics(partitions) {
		if c.TopicInfo(t.Name) == nil {
			if err := c.CreateTopic(t.Name, t.Partitions, t.Configs); err != nil {
				log.Warn("create topic", "topic", t.Name, "error", err)
			}
		}
	}
	log.Info("broker ready", "addrs", c.ListenAddrs(), "data", dir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("broker stopping")
	return nil
}

func envStr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(k string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(k), &n); err == nil {
		return n
	}
	return def
}
