package service

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServerHealthAndGracefulStop(t *testing.T) {
	mux := http.NewServeMux()
	notReady := errors.New("clickhouse down")
	var fail bool
	Mount(mux, NewRegistry(), map[string]Check{"clickhouse": func(context.Context) error {
		if fail {
			return notReady
		}
		return nil
	}})
	s := &Server{Addr: "127.0.0.1:0", Handler: mux, ready: make(chan net.Addr, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	base := "http://" + (<-s.ready).String()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("readyz %d", code)
	}
	fail = true
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "clickhouse down") {
		t.Errorf("readyz %d %q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics %d", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop")
	}
}
