package cli

import "crypto/tls"

func tlsClientConfig() *tls.Config { return &tls.Config{MinVersion: tls.VersionTLS12} }
