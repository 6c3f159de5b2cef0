package dashboard

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestCache(clock *fakeClock, max int) *cache {
	return newCache(context.Background(), 2*time.Second, 10*time.Second, max, clock.now,
		prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"result"}))
}

func TestCacheSingleFlight(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	c := newTestCache(clock, 100)
	var loads atomic.Int64
	release := make(chan struct{})
	load := func(context.Context) ([]byte, error) {
		loads.Add(1)
		<-release
		return []byte("v1"), nil
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := c.get(context.Background(), "k", load)
			if err != nil || string(b) != "v1" {
				t.Errorf("get = %q, %v", b, err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads for 50 concurrent misses, want 1", n)
	}
}

func TestCacheStaleWhileRefresh(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	c := newTestCache(clock, 100)
	v := atomic.Int64{}
	refreshed := make(chan struct{}, 1)
	load := func(context.Context) ([]byte, error) {
		n := v.Add(1)
		if n > 1 {
			refreshed <- struct{}{}
		}
		return []byte{byte('0' + n)}, nil
	}
	get := func() string {
		b, err := c.get(context.Background(), "k", load)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := get(); got != "1" {
		t.Fatalf("first = %s", got)
	}
	clock.add(time.Second)
	if got := get(); got != "1" || v.Load() != 1 {
		t.Fatalf("fresh hit = %s after %d loads", got, v.Load())
	}
	clock.add(2 * time.Second) // stale: served at once, refreshed behind
	if got := get(); got != "1" {
		t.Fatalf("stale = %s", got)
	}
	select {
	case <-refreshed:
	case <-time.After(2 * time.Second):
		t.Fatal("no background refresh")
	}
	time.Sleep(10 * time.Millisecond)
	if got := get(); got != "2" {
		t.Fatalf("after refresh = %s", got)
	}
	clock.add(time.Minute) // expired: waits for a new load
	if got := get(); got != "3" {
		t.Fatalf("expired = %s", got)
	}
}

func TestCacheErrorsNotCachedAndBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	c := newTestCache(clock, 4)
	boom := errors.New("boom")
	if _, err := c.get(context.Background(), "k", func(context.Context) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if b, _ := c.get(context.Background(), "k", func(context.Context) ([]byte, error) { return []byte("ok"), nil }); string(b) != "ok" {
		t.Fatal("error was cached")
	}
	for i := range 20 {
		_, _ = c.get(context.Background(), string(rune('a'+i)), func(context.Context) ([]byte, error) { return []byte("x"), nil })
	}
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	if n > 4 {
		t.Fatalf("%d entries, bound 4", n)
	}
}

func TestLimiter(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	l := newLimiter(2, 3, clock.now) // 2/s, burst 3
	for i := range 3 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("4th = %v, wait %v", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("other key refused")
	}
	clock.add(500 * time.Millisecond) // one token back
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("refill refused")
	}
	if ok, _ := l.allow("a"); ok {
		t.Fatal("over rate accepted")
	}
}

func BenchmarkCacheHit(b *testing.B) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	c := newTestCache(clock, 100)
	load := func(context.Context) ([]byte, error) { return []byte("v"), nil }
	_, _ = c.get(context.Background(), "k", load)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = c.get(context.Background(), "k", load)
	}
}
