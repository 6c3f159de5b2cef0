package chstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Config says where ClickHouse is and how to talk to it.
type Config struct {
	Addr         []string      // host:port of the native protocol; default 127.0.0.1:9000
	Database     string        // database holding the product's tables; default "crm"
	Username     string        // default "default"
	Password     string        // never logged
	TLS          *tls.Config   // nil: plain TCP
	Cluster      string        // non-empty: DDL runs ON CLUSTER with Replicated + Distributed tables
	MaxOpenConns int           // connection pool size; default 32
	MaxIdleConns int           // default MaxOpenConns
	DialTimeout  time.Duration // default 5 s
	ReadTimeout  time.Duration // default 60 s
	// Compression of the blocks sent and received: "lz4" (the default),
	// "zstd" or "none". Compressing costs CPU on both ends and saves only
	// bandwidth: "none" suits a server on the same machine or a fast LAN.
	Compression string
}

// Compression methods of Config.Compression.
const (
	CompressionLZ4  = "lz4"
	CompressionZSTD = "zstd"
	CompressionNone = "none"
)

// ParseCompression checks a Config.Compression value ("" is the default,
// lz4) and returns it in canonical form.
func ParseCompression(s string) (string, error) {
	switch v := strings.ToLower(strings.TrimSpace(s)); v {
	case "":
		return CompressionLZ4, nil
	case CompressionLZ4, CompressionZSTD, CompressionNone:
		return v, nil
	}
	return "", fmt.Errorf("clickhouse compression %q: want lz4, zstd or none", s)
}

// compression maps Config.Compression to the driver's setting (nil: none).
func (c Config) compression() (*clickhouse.Compression, error) {
	m, err := ParseCompression(c.Compression)
	if err != nil {
		return nil, err
	}
	switch m {
	case CompressionZSTD:
		return &clickhouse.Compression{Method: clickhouse.CompressionZSTD}, nil
	case CompressionNone:
		return nil, nil
	}
	return &clickhouse.Compression{Method: clickhouse.CompressionLZ4}, nil
}

func (c *Config) defaults() {
	if len(c.Addr) == 0 {
		c.Addr = []string{"127.0.0.1:9000"}
	}
	if c.Database == "" {
		c.Database = "crm"
	}
	if c.Username == "" {
		c.Username = "default"
	}
	if c.MaxOpenConns <= 0 {
		c.MaxOpenConns = 32
	}
	if c.MaxIdleConns <= 0 {
		c.MaxIdleConns = c.MaxOpenConns
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 60 * time.Second
	}
	if c.Compression == "" {
		c.Compression = CompressionLZ4
	}
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	for _, a := range c.Addr {
		if !strings.Contains(a, ":") {
			errs = append(errs, fmt.Errorf("clickhouse address %q: want host:port", a))
		}
	}
	if c.Database != "" && !validIdent(c.Database) {
		errs = append(errs, fmt.Errorf("clickhouse database %q: want letters, digits and _", c.Database))
	}
	if c.Cluster != "" && !validIdent(c.Cluster) {
		errs = append(errs, fmt.Errorf("clickhouse cluster %q: want letters, digits and _", c.Cluster))
	}
	if _, err := ParseCompression(c.Compression); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func validIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// Store is a connection pool to one ClickHouse database. Safe for concurrent
// use. Close releases the pool.
type Store struct {
	Conn    driver.Conn // the clickhouse-go connection pool
	DB      string      // database name, already validated: safe to splice into SQL
	Version Version     // server version, read at Open
	Dialect Dialect     // how to render DDL for this server
	log     *slog.Logger
}

// Open connects, reads the server version and makes sure the database
// exists. It does not migrate; call Migrate.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Store, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	comp, err := cfg.compression()
	if err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:             cfg.Addr,
		Auth:             clickhouse.Auth{Database: "default", Username: cfg.Username, Password: cfg.Password},
		TLS:              cfg.TLS,
		DialTimeout:      cfg.DialTimeout,
		ReadTimeout:      cfg.ReadTimeout,
		MaxOpenConns:     cfg.MaxOpenConns,
		MaxIdleConns:     cfg.MaxIdleConns,
		ConnMaxLifetime:  time.Hour,
		ConnOpenStrategy: clickhouse.ConnOpenRoundRobin,
		Compression:      comp,
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %v: %w", cfg.Addr, err)
	}
	sv, err := conn.ServerVersion()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect clickhouse %v: %w", cfg.Addr, err)
	}
	v := Version{Major: int(sv.Version.Major), Minor: int(sv.Version.Minor), Patch: int(sv.Version.Patch)}
	s := &Store{Conn: conn, DB: cfg.Database, Version: v, log: logger,
		Dialect: Dialect{DB: cfg.Database, Cluster: cfg.Cluster, Modern: v.AtLeast(20, 1)}}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+cfg.Database+s.Dialect.OnCluster()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("create database %s: %w", cfg.Database, err)
	}
	logger.Info("connected to clickhouse", "addr", cfg.Addr, "database", cfg.Database, "server", v.String(), "modern", s.Dialect.Modern, "compression", cfg.Compression)
	return s, nil
}

// Modern reports whether the server supports the clauses 18.16 lacks.
func (s *Store) Modern() bool { return s.Dialect.Modern }

// Table returns the qualified name of a table of the product's database.
func (s *Store) Table(name string) string { return s.DB + "." + name }

// LocalTable returns the table that holds the rows: the table itself on a
// single server, its per-shard <name>_local table on a cluster (where
// mutations such as ALTER … DELETE must go).
func (s *Store) LocalTable(name string) string {
	if s.Dialect.Cluster != "" {
		return s.DB + "." + name + LocalSuffix
	}
	return s.DB + "." + name
}

// Ping checks the server answers.
func (s *Store) Ping(ctx context.Context) error { return s.Conn.Ping(ctx) }

// Close releases the connection pool.
func (s *Store) Close() error { return s.Conn.Close() }

// Version is a ClickHouse server version.
type Version struct{ Major, Minor, Patch int }

// AtLeast reports whether v ≥ major.minor.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

func (v Version) String() string {
	return strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor) + "." + strconv.Itoa(v.Patch)
}
