package windows

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// timerOp is what the timer test handler does to one timer: set it to at,
// or clear it (at 0).
type timerOp struct {
	slot TimerKind
	at   Sec
}

// timerOps derives a handler's timer operations from an event's value or a
// fired timer, so that the engine run and the reference do the same:
// timers set later, earlier, at or before the watermark (fire at once),
// cleared, and set again after a clear or from inside Timer.
func timerOps(t Sec, v uint64) []timerOp {
	var ops []timerOp
	for i := range 1 + v%3 {
		x := v >> (8 * (i + 1))
		op := timerOp{slot: TimerKind(x % 4)}
		switch x / 4 % 6 {
		case 0:
			op.at = 0
		case 1:
			op.at = t - Sec(x%200) // at or before now: due at once when behind the watermark
		default:
			op.at = t + Sec(x%5000)
		}
		ops = append(ops, op)
	}
	return ops
}

type timerTestHandler struct {
	fired []string
}

func (h *timerTestHandler) Event(c *Ctx, _ *struct{}, v uint64) {
	for _, op := range timerOps(c.Time, v) {
		c.SetTimer(op.slot, op.at)
	}
}

func (h *timerTestHandler) Timer(c *Ctx, _ *struct{}, kind TimerKind) {
	h.fired = append(h.fired, fmt.Sprintf("%s/%d@%d", c.Key, kind, c.Time))
	if v := HashString(c.Key) ^ uint64(c.Time)*uint64(kind+1); v%3 == 0 {
		c.SetTimer(TimerKind(v/3%4), c.Time+1+Sec(v%700)) // re-set from Timer (later: no endless loop)
	}
}

func (h *timerTestHandler) Late(string, Sec, Sec, uint64) {}

// refTimers fires the timers of the same operations by brute force: each
// set timer fires once, when the watermark reaches its time, in order of
// time, key hash, key and kind.
type refTimers struct {
	due   map[string]*[MaxTimers]Sec
	fired []string
}

func (r *refTimers) set(key string, op timerOp) {
	if r.due[key] == nil {
		r.due[key] = new([MaxTimers]Sec)
	}
	r.due[key][op.slot] = op.at
}

func (r *refTimers) fire(wm Sec) {
	type item struct {
		at   Sec
		key  string
		slot TimerKind
	}
	for {
		var next *item
		for k, d := range r.due {
			for s, at := range d {
				if at == 0 || at > wm {
					continue
				}
				it := item{at, k, TimerKind(s)}
				if next == nil || cmp.Or(cmp.Compare(it.at, next.at), cmp.Compare(HashString(it.key), HashString(next.key)),
					cmp.Compare(it.key, next.key), cmp.Compare(it.slot, next.slot)) < 0 {
					next = &it
				}
			}
		}
		if next == nil {
			return
		}
		r.due[next.key][next.slot] = 0
		r.fired = append(r.fired, fmt.Sprintf("%s/%d@%d", next.key, next.slot, next.at))
		if v := HashString(next.key) ^ uint64(next.at)*uint64(next.slot+1); v%3 == 0 {
			r.set(next.key, timerOp{TimerKind(v / 3 % 4), next.at + 1 + Sec(v%700)})
		}
	}
}

// TestTimersMatchReference drives the engine with random timer moves
// (later, earlier, due at once, cleared, set again, set from Timer) and
// checks that every timer fires exactly once, at its time, in the same
// order as a brute-force reference — with and without restores from the
// changelog — and that no item is left in the heap.
func TestTimersMatchReference(t *testing.T) {
	const lateness = 300
	for seed := range 60 {
		r := rand.New(rand.NewPCG(uint64(seed), 11))
		keys := 1 + r.IntN(12)
		type ev struct {
			key string
			t   Sec
			v   uint64
		}
		var stream []ev
		now := Sec(1_000_000)
		for range 200 + r.IntN(800) {
			now += Sec(r.IntN(120))
			stream = append(stream, ev{fmt.Sprintf("k%d", r.IntN(keys)), now, r.Uint64()})
		}

		ref := &refTimers{due: map[string]*[MaxTimers]Sec{}}
		var maxT Sec
		for _, e := range stream {
			if e.t > maxT {
				maxT = e.t
			}
			ref.fire(maxT - lateness)
			for _, op := range timerOps(e.t, e.v) {
				ref.set(e.key, op)
			}
			ref.fire(maxT - lateness)
		}
		ref.fire(^Sec(0) - 1)

		for _, restoreEvery := range []int{0, 1 + r.IntN(50)} {
			h := &timerTestHandler{}
			eng := New[struct{}, uint64](Config{Mode: Backfill, Lateness: lateness * 1e9}, h, emptyCodec{})
			maxHeap := 0 // for -v: items the heap held at most
			for i, e := range stream {
				eng.Process(e.key, e.t, e.v)
				maxHeap = max(maxHeap, len(eng.heap))
				if restoreEvery > 0 && i%restoreEvery == restoreEvery-1 {
					log := map[string][]byte{}
					if err := eng.Snapshot(func(k string, v []byte) error { log[k] = slices.Clone(v); return nil }); err != nil {
						t.Fatal(err)
					}
					meta := eng.Meta()
					next := New[struct{}, uint64](Config{Mode: Backfill, Lateness: lateness * 1e9}, h, emptyCodec{})
					for k, v := range log {
						if err := next.Restore(k, v); err != nil {
							t.Fatal(err)
						}
					}
					if err := next.RestoreMeta(meta); err != nil {
						t.Fatal(err)
					}
					eng = next
				}
			}
			eng.AdvanceTo(^Sec(0) - 1)
			if !slices.Equal(h.fired, ref.fired) {
				t.Fatalf("seed %d (restore every %d): fired\n%q\nwant\n%q", seed, restoreEvery, h.fired, ref.fired)
			}
			if len(eng.heap) != 0 {
				t.Fatalf("seed %d: %d items left in the heap", seed, len(eng.heap))
			}
			if restoreEvery == 0 && seed%20 == 0 {
				t.Logf("seed %d: %d timers fired, heap held at most %d items", seed, len(h.fired), maxHeap)
			}
		}
	}
}

type emptyCodec struct{}

func (emptyCodec) Encode(*Enc, *struct{}) {}

func (emptyCodec) Decode(*Dec, *struct{}) error { return nil }

// TestTimerMovesKeepOneItem: timers moved later on every event (inactivity
// timers, the scorer's re-score) push nothing: the heap keeps one item per
// timer. (One cleared and set again pushes an item each time: see setSlot.)
func TestTimerMovesKeepOneItem(t *testing.T) {
	h := &timerTestHandler{}
	eng := New[struct{}, uint64](Config{Mode: Backfill}, h, nil)
	var ctx Ctx
	for i := range 1000 {
		at := Sec(1_000_000 + 10*i)
		en := eng.keys.get("k")
		if en == nil {
			eng.Process("k", at, 0) // v 0: clears kind 0
			en = eng.keys.get("k")
		}
		eng.cur = en
		ctx.eng, ctx.m = eng, &en.keyMeta
		ctx.SetTimer(1, at+3600)
		ctx.SetTimer(2, at+7200)
		if len(eng.heap) > 2 {
			t.Fatalf("move %d: %d heap items for 2 timers", i, len(eng.heap))
		}
	}
}

// TestKeyMetaSize: the engine's bookkeeping per key is 56 bytes, so that an
// entry with the scorer's 296-byte State is one 352-byte allocation (the
// scorer checks its side in TestStateSize).
func TestKeyMetaSize(t *testing.T) {
	if n := unsafe.Sizeof(keyMeta{}); n != 56 {
		t.Fatalf("keyMeta is %d bytes, want 56", n)
	}
}

// TestTimerItemOrder: items order by time, key hash, key and slot — also
// when the hash bits an item holds agree and the whole hashes decide.
func TestTimerItemOrder(t *testing.T) {
	type it = timerItem[struct{}]
	var ens []*entry[struct{}]
	for i := range 50 {
		ens = append(ens, &entry[struct{}]{keyMeta: keyMeta{key: fmt.Sprintf("key-%d", i)}})
	}
	want := func(a, b it) bool {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(HashString(a.e.key), HashString(b.e.key)),
			cmp.Compare(a.e.key, b.e.key), cmp.Compare(a.slot(), b.slot())) < 0
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		a := newTimerItem(ens[r.IntN(len(ens))], Sec(r.IntN(3)), uint8(r.IntN(8)))
		b := newTimerItem(ens[r.IntN(len(ens))], Sec(r.IntN(3)), uint8(r.IntN(8)))
		if r.IntN(2) == 0 { // the held hash bits agree: the whole hashes decide
			a.hs, b.hs = 8|uint32(a.slot()), 8|uint32(b.slot())
		}
		if got := a.less(b); got != want(a, b) {
			t.Fatalf("%s/%d@%d < %s/%d@%d: %v", a.e.key, a.slot(), a.at, b.e.key, b.slot(), b.at, got)
		}
	}
	if n := unsafe.Sizeof(it{}); n != 16 {
		t.Fatalf("timerItem is %d bytes, want 16", n)
	}
}
