package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/crmstream/crmstream/event"
)

// KafkaPublisher produces events to a topic the way the collector does:
// key Event.Key(), value the canonical JSON, record timestamp occurred_at.
// Publish returns after every record is acknowledged. The client is owned
// by the caller (create it with kgo.RequiredAcks(kgo.AllISRAcks())).
type KafkaPublisher struct {
	Client *kgo.Client
	Topic  string
}

// Publish implements Publisher.
func (p *KafkaPublisher) Publish(ctx context.Context, events []event.Event) ([]Refused, error) {
	recs := make([]*kgo.Record, len(events))
	for i := range events {
		e := &events[i]
		recs[i] = &kgo.Record{Topic: p.Topic, Key: []byte(e.Key()), Value: e.AppendJSON(nil), Timestamp: e.OccurredAt}
	}
	if err := p.Client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return nil, fmt.Errorf("produce to %s: %w", p.Topic, err)
	}
	return nil, nil
}

// HTTPPublisher posts events as NDJSON to the collector (POST /v1/events),
// which validates them again and produces them. A 503 or 429 is retried
// with backoff (the batch is idempotent: event ids); per-event rejections
// (207, 422) come back as Refused.
type HTTPPublisher struct {
	URL     string       // e.g. http://127.0.0.1:8081/v1/events
	Token   string       // bearer token, if the collector requires one
	Client  *http.Client // default: 30 s timeout
	Retries int          // attempts after the first on 429/503/network errors; default 5
}

// Publish implements Publisher.
func (p *HTTPPublisher) Publish(ctx context.Context, events []event.Event) ([]Refused, error) {
	var body []byte
	for i := range events {
		body = events[i].AppendJSON(body)
		body = append(body, '\n')
	}
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	retries := p.Retries
	if retries <= 0 {
		retries = 5
	}
	backoff := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		refused, retry, err := p.post(ctx, client, body)
		if err == nil || !retry || attempt >= retries {
			return refused, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (p *HTTPPublisher) post(ctx context.Context, client *http.Client, body []byte) (refused []Refused, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return nil, false, fmt.Errorf("collector request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if p.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, true, fmt.Errorf("collector: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	var answer struct {
		Accepted int `json:"accepted"`
		Rejected []struct {
			Index  int    `json:"index"`
			Reason string `json:"reason"`
		} `json:"rejected"`
		Error string `json:"error"`
	}
	_ = json.Unmarshal(raw, &answer) // a non-JSON answer is reported by status below
	switch resp.StatusCode {
	case http.StatusOK, http.StatusMultiStatus, http.StatusUnprocessableEntity:
		for _, r := range answer.Rejected {
			refused = append(refused, Refused{Index: r.Index, Reason: r.Reason})
		}
		return refused, false, nil
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return nil, true, fmt.Errorf("collector answered %s: %s", resp.Status, answer.Error)
	default:
		return nil, false, fmt.Errorf("collector answered %s: %s", resp.Status, firstNonEmpty(answer.Error, string(bytes.TrimSpace(raw))))
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return b
}
