package simulator

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Sink delivers batches of records. Write is called from one goroutine;
// the batch and its values may be reused after Write returns.
type Sink interface {
	Write(ctx context.Context, batch []Record) error
	// Close flushes what is buffered and releases the sink. Idempotent.
	Close() error
}

// FileSink writes records as NDJSON, one record per line.
type FileSink struct {
	w      *bufio.Writer
	closer io.Closer
	closed bool
}

// NewFileSink writes to w; Close flushes and, if w is an io.Closer other
// than os.Stdout, closes it.
func NewFileSink(w io.Writer) *FileSink {
	s := &FileSink{w: bufio.NewWriterSize(w, 256<<10)}
	if c, ok := w.(io.Closer); ok && w != os.Stdout {
		s.closer = c
	}
	return s
}

func (s *FileSink) Write(_ context.Context, batch []Record) error {
	for i := range batch {
		s.w.Write(batch[i].Value)
		if err := s.w.WriteByte('\n'); err != nil {
			return fmt.Errorf("write ndjson: %w", err)
		}
	}
	return nil
}

func (s *FileSink) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.w.Flush()
	if s.closer != nil {
		err = errors.Join(err, s.closer.Close())
	}
	if err != nil {
		return fmt.Errorf("close ndjson: %w", err)
	}
	return nil
}

// HTTPSink posts batches as NDJSON to the ingest collector (POST
// /v1/events). A 200, 207 or 422 answer means the batch was processed (the
// collector rejected some records, as it should the malformed ones); 5xx,
// 429 and network errors are retried with backoff, other answers are errors.
type HTTPSink struct {
	URL string // e.g. http://127.0.0.1:8081/v1/events
	// WriteKey is sent as X-Write-Key when set (collectors with write keys
	// answer 401 without one).
	WriteKey string
	Client   *http.Client  // default: 10 s timeout
	Gzip     bool          // compress bodies
	Retries  int           // attempts after the first; default 5
	Backoff  time.Duration // first retry delay, doubled each time; default 200 ms
	// Rejected counts the records the collector rejected (from its answer).
	Rejected int
	// Accepted counts the records the collector accepted.
	Accepted int
	body     bytes.Buffer
}

type collectorAnswer struct {
	Accepted int `json:"accepted"`
	Rejected []struct {
		Index  int    `json:"index"`
		Reason string `json:"reason"`
	} `json:"rejected"`
}

func (s *HTTPSink) Write(ctx context.Context, batch []Record) error {
	s.body.Reset()
	var w io.Writer = &s.body
	var zw *gzip.Writer
	if s.Gzip {
		zw = gzip.NewWriter(&s.body)
		w = zw
	}
	for i := range batch {
		w.Write(batch[i].Value)
		w.Write([]byte{'\n'})
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("gzip batch: %w", err)
		}
	}
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	retries, backoff := s.Retries, s.Backoff
	if retries == 0 {
		retries = 5
	}
	if backoff <= 0 {
		backoff = 200 * time.Millisecond
	}
	var lastErr error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(ctx.Err(), lastErr)
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		ans, retry, err := s.post(ctx, client)
		if err == nil {
			s.Accepted += ans.Accepted
			s.Rejected += len(ans.Rejected)
			return nil
		}
		lastErr = err
		if !retry {
			break
		}
	}
	return fmt.Errorf("post %d records to %s: %w", len(batch), s.URL, lastErr)
}

func (s *HTTPSink) post(ctx context.Context, client *http.Client) (collectorAnswer, bool, error) {
	var ans collectorAnswer
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(s.body.Bytes()))
	if err != nil {
		return ans, false, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if s.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if s.WriteKey != "" {
		req.Header.Set("X-Write-Key", s.WriteKey)
	}
	resp, err := client.Do(req)
	if err != nil {
		return ans, ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return ans, true, fmt.Errorf("read collector answer: %w", err)
	}
	return parseAnswer(resp.StatusCode, body)
}

// parseAnswer interprets the collector's answer: counts on 200/207/422, a
// retryable error on 429 and 5xx, a final error otherwise. It never panics,
// whatever the body.
func parseAnswer(status int, body []byte) (ans collectorAnswer, retry bool, err error) {
	switch {
	case status == http.StatusOK || status == http.StatusMultiStatus || status == http.StatusUnprocessableEntity:
		if err := jsonUnmarshal(body, &ans); err != nil {
			return collectorAnswer{}, false, fmt.Errorf("collector answer (status %d): %w", status, err)
		}
		if ans.Accepted < 0 {
			return collectorAnswer{}, false, fmt.Errorf("collector answer: accepted %d", ans.Accepted)
		}
		return ans, false, nil
	case status == http.StatusTooManyRequests || status >= 500:
		return ans, true, fmt.Errorf("collector answered %d %s", status, http.StatusText(status))
	default:
		return ans, false, fmt.Errorf("collector answered %d %s: %.200q", status, http.StatusText(status), body)
	}
}

func (s *HTTPSink) Close() error { return nil }

// KafkaSink produces records to a topic, keyed by lead (else account), with
// the event time as the record timestamp. Write returns once every record
// of the batch is acknowledged.
type KafkaSink struct {
	client *kgo.Client
	topic  string
}

// NewKafkaSink creates a client from opts (seed brokers, TLS, SASL …).
func NewKafkaSink(topic string, opts ...kgo.Opt) (*KafkaSink, error) {
	opts = append([]kgo.Opt{kgo.ProducerLinger(5 * time.Millisecond)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return &KafkaSink{client: cl, topic: topic}, nil
}

func (s *KafkaSink) Write(ctx context.Context, batch []Record) error {
	recs := make([]*kgo.Record, len(batch))
	for i := range batch {
		r := &kgo.Record{Topic: s.topic, Value: batch[i].Value, Timestamp: batch[i].Time}
		if batch[i].Key != "" {
			r.Key = []byte(batch[i].Key)
		}
		recs[i] = r
	}
	if err := s.client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce to %s: %w", s.topic, err)
	}
	return nil
}

func (s *KafkaSink) Close() error {
	if s.client != nil {
		s.client.Close()
		s.client = nil
	}
	return nil
}
