package dashboard

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"
)

// hub fans alert states out to SSE subscribers. Publish never blocks: a
// subscriber whose buffer is full is closed and must reconnect.
type hub struct {
	buf int
	m   *metrics

	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	owner string      // "" = every owner
	ch    chan []byte // encoded alert JSON; closed when dropped
}

func newHub(buf int, m *metrics) *hub {
	return &hub{buf: buf, m: m, subs: map[*subscriber]struct{}{}}
}

func (h *hub) subscribe(owner string) *subscriber {
	s := &subscriber{owner: owner, ch: make(chan []byte, h.buf)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	h.m.sseClients.WithLabelValues("alerts").Inc()
	return s
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
	h.mu.Unlock()
	h.m.sseClients.WithLabelValues("alerts").Dec()
}

func (h *hub) publish(owner string, msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.owner != "" && s.owner != owner {
			continue
		}
		select {
		case s.ch <- msg:
		default:
			delete(h.subs, s)
			close(s.ch)
			h.m.sseDropped.Inc()
		}
	}
}

func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		delete(h.subs, s)
		close(s.ch)
	}
}

// pollAlerts reads alert states written since the last poll and publishes
// them. updated_at has second resolution, so each poll re-reads the newest
// second and skips the (alert, version) pairs it has already sent.
func (s *Server) pollAlerts(ctx context.Context) {
	t := time.NewTicker(s.cfg.AlertPoll)
	defer t.Stop()
	cursor := s.cfg.Now().UTC().Truncate(time.Second)
	sent := map[string]time.Time{} // alert_id@version → updated_at
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		alerts, err := s.reader.AlertsSince(qctx, cursor, 1000)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("poll alerts", "error", err)
			}
			continue
		}
		for _, a := range alerts {
			k := a.AlertID + "@" + strconv.FormatUint(a.Version, 10)
			if _, ok := sent[k]; ok {
				continue
			}
			sent[k] = a.UpdatedAt
			if a.UpdatedAt.After(cursor) {
				cursor = a.UpdatedAt
			}
			b, err := json.Marshal(a)
			if err != nil {
				continue
			}
			s.hub.publish(a.OwnerID, b)
		}
		for k, at := range sent {
			if at.Before(cursor) {
				delete(sent, k)
			}
		}
	}
}
