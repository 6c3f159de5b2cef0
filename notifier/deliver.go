package notifier

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/sony/gobreaker/v2"
)

// permanentError is a delivery failure that retrying cannot fix (the
// endpoint rejected the request as bad, 4xx other than 408/429): the alert
// goes to the dead-letter topic at once.
type permanentError struct{ reason string }

func (e *permanentError) Error() string { return e.reason }

// retryableError is a failed attempt worth repeating: 5xx, 408, 429, a
// timeout, a refused connection, an open breaker.
type retryableError struct {
	class      string        // metric label: 5xx, 429, timeout, network, breaker_open
	retryAfter time.Duration // from the Retry-After header, if any
	err        error
}

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// endpoint is one webhook with its circuit breaker. Safe for concurrent use.
type endpoint struct {
	name    string
	url     string
	timeout time.Duration
	cb      *gobreaker.CircuitBreaker[struct{}]
}

// post makes one attempt through the breaker.
func (n *Notifier) post(ctx context.Context, ep *endpoint, key string, body []byte) error {
	_, err := ep.cb.Execute(func() (struct{}, error) { return struct{}{}, n.postOnce(ctx, ep, key, body) })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return &retryableError{class: "breaker_open", err: fmt.Errorf("endpoint %s: %w", ep.name, err)}
	}
	return err
}

func (n *Notifier) postOnce(ctx context.Context, ep *endpoint, key string, body []byte) error {
	if ep.url == LogURL {
		n.logger.Info("alert (log endpoint)", "endpoint", ep.name, "idempotency_key", key, "message", string(body))
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, ep.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(body))
	if err != nil {
		return &permanentError{reason: "bad endpoint url"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("User-Agent", "crmstream-notifier")
	resp, err := n.http.Do(req)
	if err != nil {
		// The URL (a secret) is in err's text: name the endpoint instead.
		class := "network"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			class = "timeout"
		}
		return &retryableError{class: class, err: fmt.Errorf("endpoint %s: %s", ep.name, class)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
	resp.Body.Close()
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return nil
	case s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500:
		class := "5xx"
		if s < 500 {
			class = strconv.Itoa(s)
		}
		return &retryableError{class: class, retryAfter: retryAfter(resp.Header.Get("Retry-After"), n.now()),
			err: fmt.Errorf("endpoint %s: http %d", ep.name, s)}
	default:
		return &permanentError{reason: fmt.Sprintf("endpoint %s: http %d", ep.name, s)}
	}
}

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// backoff is the wait before attempt n+1 (n ≥ 1): exponential from
// BackoffBase, capped at BackoffMax, with "equal jitter" (half fixed, half
// random) so that retries of many alerts do not arrive in lockstep.
func (n *Notifier) backoff(attempt int, hint time.Duration) time.Duration {
	d := n.cfg.BackoffBase << min(attempt-1, 30)
	if d <= 0 || d > n.cfg.BackoffMax {
		d = n.cfg.BackoffMax
	}
	d = d/2 + rand.N(d/2+1)
	if hint > d {
		d = min(hint, n.cfg.BackoffMax)
	}
	return d
}

// deliver sends body to ep until it succeeds, fails permanently, runs out of
// attempts or ctx ends. It returns nil once delivered. Requests refused by
// an open breaker do not use up attempts: only requests that reached the
// endpoint count, so an outage shorter than the breaker cycles never costs
// an alert, while an endpoint that stays down still exhausts every alert's
// attempts (one trial request per breaker cycle) and dead-letters them.
func (n *Notifier) deliver(ctx context.Context, ep *endpoint, key string, body []byte) error {
	m := n.metrics
	for attempt, waits := 1, 1; ; waits++ {
		err := n.post(ctx, ep, key, body)
		if err == nil {
			m.sent.WithLabelValues(ep.name).Inc()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			m.failed.WithLabelValues(ep.name, "permanent").Inc()
			return err
		}
		var re *retryableError
		class, hint := "other", time.Duration(0)
		if errors.As(err, &re) {
			class, hint = re.class, re.retryAfter
		}
		m.failed.WithLabelValues(ep.name, class).Inc()
		if class != "breaker_open" {
			if attempt >= n.cfg.MaxAttempts {
				return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
			}
			attempt++
		}
		wait := n.backoff(min(waits, attempt), hint)
		n.logger.Debug("webhook attempt failed", "endpoint", ep.name, "attempt", attempt, "wait", wait, "error", err)
		m.retried.WithLabelValues(ep.name).Inc()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
