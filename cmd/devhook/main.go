// Command devhook is the local stack's stand-in for Slack: a webhook
// receiver on 127.0.0.1:8084 that logs every notification the notifier
// delivers (the Slack-compatible "text") and lists the last 200 at GET /.
// For development only; production routes point at real webhooks.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/crmstream/crmstream/internal/cli"
	"github.com/crmstream/crmstream/internal/service"
)

type received struct {
	At   time.Time `json:"at"`
	Path string    `json:"path"`
	Key  string    `json:"idempotency_key"`
	Text string    `json:"text"`
}

func main() {
	var h cli.HTTP
	f := cli.New("devhook", "a development webhook receiver that logs the alerts the notifier delivers.", "  devhook --http-addr 127.0.0.1:8084")
	f.HTTP(&h, "127.0.0.1:8084")
	newLogger := f.Log()
	if err := f.Parse(os.Args[1:], os.Getenv); err != nil {
		if errors.Is(err, cli.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "devhook:", err)
		os.Exit(2)
	}
	log := newLogger()
	var (
		mu   sync.Mutex
		last []received
	)
	mux := http.NewServeMux()
	service.Mount(mux, service.NewRegistry(), nil)
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		var msg struct {
			Text string `json:"text"`
		}
		_ = json.Unmarshal(body, &msg)
		rec := received{At: time.Now().UTC(), Path: r.URL.Path, Key: r.Header.Get("Idempotency-Key"), Text: msg.Text}
		log.Info("notification", "path", rec.Path, "idempotency_key", rec.Key, "text", rec.Text)
		mu.Lock()
		last = append(last, rec)
		if len(last) > 200 {
			last = last[len(last)-200:]
		}
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(last)
	})
	ctx, stop := signalContext()
	defer stop()
	srv := &service.Server{Addr: h.Addr, Handler: mux, CertFile: h.CertFile, KeyFile: h.KeyFile, Logger: log}
	if err := srv.Run(ctx); err != nil {
		log.Error("devhook failed", "error", err)
		os.Exit(1)
	}
}
