package dashboard

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// cache holds encoded responses by key: fresh for ttl, then served stale for
// up to stale more while a single background refresh runs. Safe for
// concurrent use.
type cache struct {
	ctx        context.Context // refreshes stop with it
	ttl, stale time.Duration
	max        int
	now        func() time.Time
	group      singleflight.Group
	hits       prometheus.Counter
	stales     prometheus.Counter
	misses     prometheus.Counter

	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	body    []byte
	fresh   time.Time // fresh until
	expires time.Time // usable (stale) until
}

func newCache(ctx context.Context, ttl, stale time.Duration, max int, now func() time.Time, c *prometheus.CounterVec) *cache {
	return &cache{ctx: ctx, ttl: ttl, stale: stale, max: max, now: now, entries: map[string]*entry{},
		hits: c.WithLabelValues("hit"), stales: c.WithLabelValues("stale"), misses: c.WithLabelValues("miss")}
}

// get returns the body cached under key, computing it with load when absent
// or expired. Concurrent loads of one key run once.
func (c *cache) get(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, error) {
	now := c.now()
	c.mu.Lock()
	e := c.entries[key]
	c.mu.Unlock()
	if e != nil && now.Before(e.fresh) {
		c.hits.Inc()
		return e.body, nil
	}
	if e != nil && now.Before(e.expires) {
		c.stales.Inc()
		c.group.DoChan(key, func() (any, error) { return c.load(c.ctx, key, load) }) // background refresh; result unused
		return e.body, nil
	}
	c.misses.Inc()
	ch := c.group.DoChan(key, func() (any, error) {
		// Detached from the first caller: its cancellation must not fail the
		// callers that joined it.
		return c.load(c.ctx, key, load)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.([]byte), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *cache) load(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	start := c.now()
	body, err := load(ctx)
	if err != nil {
		return nil, err
	}
	now := c.now()
	// Freshness scales with cost: a query that takes 10 s is not re-run
	// every 2 s just because someone keeps looking at it.
	ttl, stale := max(c.ttl, 5*now.Sub(start)), max(c.stale, 20*now.Sub(start))
	c.mu.Lock()
	if len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = &entry{body: body, fresh: now.Add(ttl), expires: now.Add(ttl + stale)}
	c.mu.Unlock()
	return body, nil
}

// evict drops expired entries, and if none expired, an arbitrary half: a
// cache miss costs a query, never correctness. Called with mu held.
func (c *cache) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) < c.max {
		return
	}
	n := 0
	for k := range c.entries {
		if n%2 == 0 {
			delete(c.entries, k)
		}
		n++
	}
}
