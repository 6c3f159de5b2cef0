package connectors

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/crmstream/crmstream/event"
)

// Adapter turns one CRM's webhook requests into canonical events.
//
// Implementations in this package are safe for concurrent use: they hold only
// configuration after construction.
type Adapter interface {
	// Name is the CRM's short name, used in the path /v1/webhooks/<name>,
	// in metrics labels and as the events' source ("hubspot", "salesforce", …).
	Name() string
	// Verify authenticates the request: a signature over the body, a shared
	// token or basic-auth credentials, as the CRM provides. It returns an
	// *AuthError when the request must be refused. body is the raw request
	// body, read once by the handler.
	Verify(r *http.Request, body []byte) error
	// Map decodes the body and maps every item in it. Items that cannot be
	// mapped come back as Rejects with a reason; they are never dropped. A
	// non-nil error means the body as a whole is unreadable (not JSON, not
	// the CRM's shape) and nothing in it was mapped. Map never panics.
	Map(body []byte) ([]event.Event, []Reject, error)
}

// Reject is one item of a webhook payload that was not turned into an event.
type Reject struct {
	Index  int    `json:"index"`         // position of the item in the payload; -1 for the payload as a whole
	Ref    string `json:"ref,omitempty"` // the CRM's own id of the item (event id, record id), to find it there
	Reason string `json:"reason"`        // why, in plain words
}

func (r Reject) String() string {
	if r.Ref == "" {
		return fmt.Sprintf("item %d: %s", r.Index, r.Reason)
	}
	return fmt.Sprintf("item %d (%s): %s", r.Index, r.Ref, r.Reason)
}

// AuthError is a refused request: a missing or wrong signature or token, or
// a timestamp outside the replay window. The handler answers 401 with
// Reason; the reason never contains the expected secret.
type AuthError struct {
	Reason string
}

func (e *AuthError) Error() string { return "unauthorized: " + e.Reason }

func authErr(format string, args ...any) error {
	return &AuthError{Reason: fmt.Sprintf(format, args...)}
}

// PayloadError is a body that could not be read at all: the handler answers
// 400 with Reason.
type PayloadError struct {
	Reason string
}

func (e *PayloadError) Error() string { return "bad payload: " + e.Reason }

func payloadErr(format string, args ...any) error {
	return &PayloadError{Reason: fmt.Sprintf(format, args...)}
}

// checkToken compares a presented secret with the configured one in
// constant time. An empty configured secret refuses everything: an adapter
// that was not given a secret must not accept unauthenticated requests.
func checkToken(what, presented, want string) error {
	if want == "" {
		return authErr("no %s is configured for this endpoint", what)
	}
	if presented == "" {
		return authErr("missing %s", what)
	}
	if subtle.ConstantTimeCompare([]byte(presented), []byte(want)) != 1 {
		return authErr("wrong %s", what)
	}
	return nil
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// eventID derives a deterministic event id from the source's own ids, so
// that a redelivered webhook maps to the same event_id (one event). The
// parts are hashed rather than joined: CRM ids have no length bound we can
// trust, and event_id has one (128).
func eventID(source string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return source + "-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// props builds event.Properties sorted by key, leaving out empty strings.
type props struct{ p event.Properties }

func (b *props) str(k, v string) *props {
	if v != "" {
		b.p = append(b.p, event.Property{Key: k, Kind: event.KindString, Str: v})
	}
	return b
}

func (b *props) num(k string, v float64, ok bool) *props {
	if ok {
		b.p = append(b.p, event.Property{Key: k, Kind: event.KindNumber, Num: v})
	}
	return b
}

func (b *props) done() event.Properties {
	if len(b.p) == 0 {
		return nil
	}
	sort.Slice(b.p, func(i, j int) bool { return b.p[i].Key < b.p[j].Key })
	// Keep the first of duplicate keys: the schema's properties are an object.
	out := b.p[:1]
	for _, p := range b.p[1:] {
		if p.Key != out[len(out)-1].Key {
			out = append(out, p)
		}
	}
	return out
}

// finish normalizes and validates an event built by an adapter. A failure
// becomes a Reject for the item: the adapter's mapping produced something
// the schema refuses (an id too long, say), which is data, not a crash.
func finish(e *event.Event) error {
	e.Normalize()
	if err := e.Validate(); err != nil {
		return fmt.Errorf("mapped event is invalid: %w", err)
	}
	return nil
}

// collector accumulates the result of Map.
type collector struct {
	events  []event.Event
	rejects []Reject
}

func (c *collector) reject(i int, ref, format string, args ...any) {
	c.rejects = append(c.rejects, Reject{Index: i, Ref: ref, Reason: fmt.Sprintf(format, args...)})
}

func (c *collector) add(i int, ref string, e event.Event) {
	if err := finish(&e); err != nil {
		c.reject(i, ref, "%v", err)
		return
	}
	c.events = append(c.events, e)
}

// unixMillis converts a millisecond timestamp; zero or negative is "unknown".
func unixMillis(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// Publish is how a handler hands mapped events to the pipeline (the ingest
// collector's producer). It must return only after the events are durable
// (acknowledged by Kafka); an error makes the handler answer 503 so the CRM
// retries, and deterministic event ids make the retry harmless.
type Publish func(ctx context.Context, events []event.Event) error
