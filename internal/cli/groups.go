package cli

import (
	"log/slog"
	"os"
	"strings"

	"github.com/crmstream/crmstream/internal/chstore"
	"github.com/crmstream/crmstream/internal/kafka"
	"github.com/crmstream/crmstream/internal/tracing"
)

// Kafka binds the Kafka client settings shared by every service.
func (f *Flags) Kafka(c *kafka.Config) {
	f.List(&c.Brokers, "kafka-brokers", "CRM_KAFKA_BROKERS", []string{"127.0.0.1:9092"}, "Kafka seed brokers, host:port")
	f.Bool(&c.TLS, "kafka-tls", "CRM_KAFKA_TLS", false, "connect to Kafka with TLS")
	f.String(&c.TLSCAFile, "kafka-tls-ca", "CRM_KAFKA_TLS_CA", "", "PEM CA bundle for the brokers' certificates")
	f.String(&c.TLSCertFile, "kafka-tls-cert", "CRM_KAFKA_TLS_CERT", "", "client certificate for mutual TLS, PEM")
	f.String(&c.TLSKeyFile, "kafka-tls-key", "CRM_KAFKA_TLS_KEY", "", "client key for mutual TLS, PEM")
	f.String(&c.SASLMechanism, "kafka-sasl-mechanism", "CRM_KAFKA_SASL_MECHANISM", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	f.String(&c.SASLUser, "kafka-sasl-user", "CRM_KAFKA_SASL_USER", "", "SASL user")
	f.Secret(&c.SASLPassword, "kafka-sasl-password", "CRM_KAFKA_SASL_PASSWORD", "SASL password")
	f.String(&c.Compression, "kafka-compression", "CRM_KAFKA_COMPRESSION", "snappy", "codec of produced batches: snappy, lz4, zstd, gzip or none (none when the broker is on the same machine)")
}

// ClickHouse binds the ClickHouse settings shared by every service.
func (f *Flags) ClickHouse(c *chstore.Config) {
	f.List(&c.Addr, "clickhouse-addr", "CRM_CLICKHOUSE_ADDR", []string{"127.0.0.1:9000"}, "ClickHouse native-protocol addresses, host:port")
	f.String(&c.Database, "clickhouse-database", "CRM_CLICKHOUSE_DATABASE", "crm", "ClickHouse database of the product's tables")
	f.String(&c.Username, "clickhouse-user", "CRM_CLICKHOUSE_USER", "default", "ClickHouse user")
	f.Secret(&c.Password, "clickhouse-password", "CRM_CLICKHOUSE_PASSWORD", "ClickHouse password")
	f.String(&c.Cluster, "clickhouse-cluster", "CRM_CLICKHOUSE_CLUSTER", "", "run DDL ON CLUSTER with Replicated tables (empty: single server)")
	f.Int(&c.MaxOpenConns, "clickhouse-max-conns", "CRM_CLICKHOUSE_MAX_CONNS", 32, "ClickHouse connection pool size")
	c.Compression = chstore.CompressionLZ4
	f.fs.Var((*compressionValue)(&c.Compression), "clickhouse-compression",
		"compression of the blocks sent to and read from ClickHouse: lz4, zstd or none (none when the server is on the same machine: compressing only costs CPU on both ends)")
	f.bind("clickhouse-compression", "CRM_CLICKHOUSE_COMPRESSION")
	f.fs.Func("clickhouse-tls", "connect to ClickHouse with TLS (true/false; env CRM_CLICKHOUSE_TLS)", func(s string) error {
		c.TLS = nil
		if s == "true" || s == "1" {
			c.TLS = tlsClientConfig()
		}
		return nil
	})
	f.bind("clickhouse-tls", "CRM_CLICKHOUSE_TLS")
}

// compressionValue is a chstore.Config.Compression flag, checked as it is
// set so that a typo fails at start-up naming the setting.
type compressionValue string

func (v *compressionValue) String() string {
	if v == nil {
		return ""
	}
	return string(*v)
}

func (v *compressionValue) Set(s string) error {
	m, err := chstore.ParseCompression(s)
	if err != nil {
		return err
	}
	*v = compressionValue(m)
	return nil
}

// Tracing binds the OpenTelemetry settings; service names the spans' source.
func (f *Flags) Tracing(c *tracing.Config, service string) {
	c.Service = service
	f.String(&c.Endpoint, "otlp-endpoint", "CRM_OTLP_ENDPOINT", "", "export traces over OTLP/HTTP to this collector URL, e.g. http://otel-collector:4318 (empty: tracing off)")
	f.Float(&c.SampleRatio, "trace-sample", "CRM_TRACE_SAMPLE", 1, "fraction of new traces sampled, 0..1 (spans of a traced request always follow it)")
}

// HTTP binds a service's listen address and optional TLS certificate.
type HTTP struct {
	Addr     string // host:port
	CertFile string // PEM; with KeyFile, serve HTTPS
	KeyFile  string
}

// HTTP binds the HTTP server settings with the service's default address.
func (f *Flags) HTTP(h *HTTP, defAddr string) {
	f.String(&h.Addr, "http-addr", "CRM_HTTP_ADDR", defAddr, "HTTP listen address (API, /metrics, /healthz, /readyz)")
	f.String(&h.CertFile, "tls-cert", "CRM_TLS_CERT", "", "serve HTTPS with this certificate (PEM)")
	f.String(&h.KeyFile, "tls-key", "CRM_TLS_KEY", "", "private key of --tls-cert (PEM)")
}

// Log binds the logging settings and returns a constructor for the logger.
func (f *Flags) Log() func() *slog.Logger {
	var level, format string
	f.String(&level, "log-level", "CRM_LOG_LEVEL", "info", "debug, info, warn or error")
	f.String(&format, "log-format", "CRM_LOG_FORMAT", "json", "json or text")
	return func() *slog.Logger {
		var lv slog.Level
		_ = lv.UnmarshalText([]byte(strings.ToUpper(level)))
		opts := &slog.HandlerOptions{Level: lv}
		var h slog.Handler = slog.NewJSONHandler(os.Stderr, opts)
		if format == "text" {
			h = slog.NewTextHandler(os.Stderr, opts)
		}
		return slog.New(h).With("service", f.name)
	}
}
