package dashboard

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/crmstream/crmstream/dashboard/auth"
	"github.com/crmstream/crmstream/dashboard/dashtest"
	"github.com/crmstream/crmstream/dashboard/reports"
)

// Serve, with an SSE client connected, stops every goroutine it started
// (pollers, audit writer, stream handlers) when its context ends.
func TestServeStopsEverything(t *testing.T) {
	conn, db := dashtest.NewDB(t)
	reader, err := reports.New(reports.Config{Conn: conn, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	if err := reader.Ping(context.Background()); err != nil { // the pool's goroutines exist before the snapshot
		t.Fatal(err)
	}
	ignore := goleak.IgnoreCurrent()
	v, _ := auth.NewVerifier(auth.Config{Secret: testSecret})
	srv, err := New(Config{Reader: reader, Verifier: v, AlertPoll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	tr := &http.Transport{}
	client := &http.Client{Transport: tr}
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/v1/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token(t, auth.Leader, "lee"))
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	streamDone := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, res.Body); res.Body.Close(); close(streamDone) }()
	time.Sleep(200 * time.Millisecond)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return: an open stream holds shutdown")
	}
	<-streamDone // the server ended the stream
	tr.CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
}
