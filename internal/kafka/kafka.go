package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// The product's topics.
const (
	TopicRaw       = "crm.raw"
	TopicEvents    = "crm.events"
	TopicDLQ       = "crm.events.dlq"
	TopicAlerts    = "crm.alerts"
	TopicAlertsDLQ = "crm.alerts.dlq"
	TopicChangelog = "crm.scorer.changelog"
)

// Headers of dead-letter records.
const (
	HeaderReason   = "crm-reject-reason" // why the record was rejected
	HeaderOrigin   = "crm-origin"        // topic/partition/offset it came from
	HeaderFailedAt = "crm-failed-at"     // RFC 3339 wall-clock time of the failure
)

// Config says how to reach the brokers. The zero value plus Brokers works
// for a local plaintext cluster.
type Config struct {
	Brokers       []string // seed brokers, host:port; default 127.0.0.1:9092
	ClientID      string   // client.id sent to brokers; default "crmstream"
	TLS           bool     // connect with TLS (system roots unless TLSCAFile)
	TLSCAFile     string   // PEM CA bundle for the brokers' certificates
	TLSCertFile   string   // client certificate (mutual TLS), PEM
	TLSKeyFile    string   // client key, PEM
	SASLMechanism string   // "", PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	SASLUser      string
	SASLPassword  string // never logged
	// Compression is the codec of produced batches: snappy (the default),
	// lz4, zstd, gzip or none. Consumers read every codec. Compression saves
	// broker disk and network at the price of CPU on both ends; with the
	// broker on the same machine, none is cheaper.
	Compression string
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	for _, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			errs = append(errs, fmt.Errorf("kafka broker %q: want host:port", b))
		}
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		errs = append(errs, fmt.Errorf("kafka sasl mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism))
	}
	if c.SASLMechanism != "" && c.SASLUser == "" {
		errs = append(errs, errors.New("kafka sasl: user is required"))
	}
	if _, err := c.codec(); err != nil {
		errs = append(errs, err)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("kafka tls: cert and key files go together"))
	}
	return errors.Join(errs...)
}

// Opts returns the franz-go options for the configuration. Callers add their
// own (consumer group, topics, kprom hooks).
func (c Config) Opts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	brokers := c.Brokers
	if len(brokers) == 0 {
		brokers = []string{"127.0.0.1:9092"}
	}
	id := c.ClientID
	if id == "" {
		id = "crmstream"
	}
	comp, err := c.compressor()
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ClientID(id), kgo.WithCompressor(comp)}
	if c.TLS || c.TLSCAFile != "" || c.TLSCertFile != "" {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha512Mechanism()))
	}
	return opts, nil
}

// compressor builds the produce compressor once per Opts. Not
// kgo.ProducerBatchCompression: every client built from the same options
// rewrites that option's codec slice, a data race when a service starts
// clients concurrently (the scorer restores partitions in parallel).
func (c Config) compressor() (kgo.Compressor, error) {
	codec, err := c.codec()
	if err != nil {
		return nil, err
	}
	comp, err := kgo.DefaultCompressor(codec)
	if err != nil {
		return nil, fmt.Errorf("kafka compression %q: %w", c.Compression, err)
	}
	if comp == nil { // none
		return noCompression{}, nil
	}
	return comp, nil
}

// noCompression sends batches as they are (franz-go keeps a batch
// uncompressed when its compressor returns nil).
type noCompression struct{}

func (noCompression) Compress(*bytes.Buffer, []byte, ...kgo.CompressFlag) ([]byte, kgo.CompressionCodecType) {
	return nil, kgo.CodecNone
}

// codec maps Compression to franz-go's codec.
func (c Config) codec() (kgo.CompressionCodec, error) {
	switch strings.ToLower(c.Compression) {
	case "", "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("kafka compression %q: want snappy, lz4, zstd, gzip or none", c.Compression)
}

func (c Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka tls ca %s: no PEM certificates", c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// TopicSpec describes a topic to create when missing.
type TopicSpec struct {
	Name       string
	Partitions int32             // default 4
	Replicas   int16             // -1: broker default
	Configs    map[string]string // e.g. cleanup.policy=compact
}

// DefaultTopics are the product's topics with their settings.
func DefaultTopics(partitions int32) []TopicSpec {
	return []TopicSpec{
		{Name: TopicRaw, Partitions: partitions},
		{Name: TopicEvents, Partitions: partitions},
		{Name: TopicDLQ, Partitions: 1},
		{Name: TopicAlerts, Partitions: partitions},
		{Name: TopicAlertsDLQ, Partitions: 1},
		{Name: TopicChangelog, Partitions: partitions, Configs: map[string]string{"cleanup.policy": "compact"}},
	}
}

// EnsureTopics creates the topics that do not exist yet; existing topics are
// left as they are.
func EnsureTopics(ctx context.Context, cl *kgo.Client, topics ...TopicSpec) error {
	adm := kadm.NewClient(cl)
	for _, t := range topics {
		parts := t.Partitions
		if parts <= 0 {
			parts = 4
		}
		repl := t.Replicas
		if repl == 0 {
			repl = -1
		}
		var cfg map[string]*string
		for k, v := range t.Configs {
			if cfg == nil {
				cfg = map[string]*string{}
			}
			cfg[k] = kadm.StringPtr(v)
		}
		resp, err := adm.CreateTopic(ctx, parts, repl, cfg, t.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t.Name, err)
		}
	}
	return nil
}
