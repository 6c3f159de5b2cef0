package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// sseStart sends the stream headers. Write deadlines are lifted: a stream
// lives as long as the client stays.
func sseStart(w http.ResponseWriter) (*http.ResponseController, error) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 3000\n\n"); err != nil {
		return nil, err
	}
	return rc, rc.Flush()
}

func sseSend(w http.ResponseWriter, rc *http.ResponseController, event string, data []byte) error {
	if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return err
	}
	return rc.Flush()
}

func (s *Server) alertStream(w http.ResponseWriter, r *http.Request, c *call) error {
	sub := s.hub.subscribe(c.scope())
	defer s.hub.unsubscribe(sub)
	rc, err := sseStart(w)
	if err != nil {
		return nil // client gone; nothing to answer
	}
	hb := time.NewTicker(s.cfg.Heartbeat)
	defer hb.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case msg, ok := <-sub.ch:
			if !ok {
				return nil // dropped as slow, or shutting down: the client reconnects
			}
			if err := sseSend(w, rc, "alert", msg); err != nil {
				return nil
			}
		case <-hb.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
		}
	}
}

// funnelLive re-reads the funnel (through the cache shared with GET /funnel)
// every LivePoll and sends it when it changed. Without from/to the range
// slides with the clock.
func (s *Server) funnelLive(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := s.funnelRequest(c); err != nil {
		return err // 400 before the stream starts
	}
	s.metrics.sseClients.WithLabelValues("funnel").Inc()
	defer s.metrics.sseClients.WithLabelValues("funnel").Dec()
	rc, err := sseStart(w)
	if err != nil {
		return nil
	}
	t := time.NewTicker(s.cfg.LivePoll)
	defer t.Stop()
	var last []byte
	quiet := time.Duration(0)
	for {
		c.now = s.cfg.Now()
		key, load, err := s.funnelLoad(c)
		if err != nil {
			return nil
		}
		// The same cache entry as GET /funnel with these parameters.
		key = "GET /api/v1/funnel|" + string(c.p.Role) + "|" + c.p.OwnerScope() + "|" + key
		body, err := s.cache.get(r.Context(), key, func(ctx2 context.Context) ([]byte, error) {
			f, err := load(ctx2)
			if err != nil {
				return nil, err
			}
			return json.Marshal(f)
		})
		switch {
		case err != nil:
			if r.Context().Err() != nil {
				return nil
			}
			s.log.Warn("live funnel", "error", err)
		case !bytes.Equal(body, last):
			if sseSend(w, rc, "funnel", body) != nil {
				return nil
			}
			last, quiet = body, 0
		default:
			if quiet += s.cfg.LivePoll; quiet >= s.cfg.Heartbeat {
				if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
					return nil
				}
				quiet = 0
			}
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-t.C:
		}
	}
}
