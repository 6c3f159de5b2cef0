package models

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/crmstream/crmstream/event"
	"github.com/crmstream/crmstream/features"
	"github.com/crmstream/crmstream/windows"
)

// rawVector writes a format-1 features vector by hand: numeric entries as
// float32 bits and categorical hashes, in the order given (so tests can
// write vectors features.Vector.AppendBinary never would).
func rawVector(at uint64, nums [][2]uint64, cats [][2]uint64) []byte {
	b := []byte{vectorFormat}
	b = binary.AppendUvarint(b, at)
	b = binary.AppendUvarint(b, uint64(len(nums)))
	for _, e := range nums {
		b = binary.AppendUvarint(b, e[0])
		b = binary.LittleEndian.AppendUint32(b, uint32(e[1]))
	}
	b = binary.AppendUvarint(b, uint64(len(cats)))
	for _, e := range cats {
		b = binary.AppendUvarint(b, e[0])
		b = binary.LittleEndian.AppendUint64(b, e[1])
	}
	return b
}

func f32(x float32) uint64 { return uint64(math.Float32bits(x)) }

// leadSamples follows a lead through its sample ages the way the scorer
// does and returns its Pending with every sample taken.
func leadSamples(t *testing.T) (Pending, *features.Set) {
	t.Helper()
	set, err := features.Lead()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	st := set.NewState()
	var v features.Vector
	str := func(k, s string) event.Property { return event.Property{Key: k, Kind: event.KindString, Str: s} }
	evs := []event.Event{
		{ID: "e0", Type: event.LeadCreated, OccurredAt: t0, LeadID: "L", Properties: event.Properties{
			str("campaign", "spring"), str("industry", "software"), str("landing_page_id", "lp7"), str("origin", "paid_search")}},
		{ID: "e1", Type: event.PageView, OccurredAt: t0.Add(7 * time.Hour), LeadID: "L", SessionID: "s1",
			Properties: event.Properties{str("page_type", "pricing")}},
		{ID: "e2", Type: event.EmailOpen, OccurredAt: t0.Add(50 * time.Hour), LeadID: "L"},
		{ID: "e3", Type: event.FormSubmit, OccurredAt: t0.Add(100 * time.Hour), LeadID: "L", SessionID: "s2"},
		{ID: "e4", Type: event.EmailClick, OccurredAt: t0.Add(250 * time.Hour), LeadID: "L",
			Properties: event.Properties{str("campaign", "summer")}},
		{ID: "e5", Type: event.EmailUnsubscribe, OccurredAt: t0.Add(500 * time.Hour), LeadID: "L"},
	}
	st.Update(&evs[0])
	start := windows.SecOf(t0)
	st.Vector(start, &v)
	p := NewPending(0.125, start, start.Add(90*windows.Day), v.AppendBinary(nil))
	for i, ev := range evs[1:] {
		st.Update(&ev)
		st.Vector(windows.SecOf(ev.OccurredAt).Add(windows.Day), &v)
		p.Take(v.AppendBinary(nil), 1+i%2)
	}
	return p, set
}

func samePending(t *testing.T, got, want Pending) {
	t.Helper()
	if got.Scored != want.Scored || got.Start != want.Start || got.Deadline != want.Deadline || got.Taken != want.Taken {
		t.Fatalf("header %+v, want %+v", got, want)
	}
	if len(got.Samples) != len(want.Samples) {
		t.Fatalf("%d samples, want %d", len(got.Samples), len(want.Samples))
	}
	for i := range got.Samples {
		g, w := got.Samples[i], want.Samples[i]
		if !bytes.Equal(g.Vector, w.Vector) || g.Weight != w.Weight {
			t.Fatalf("sample %d: %x (weight %d), want %x (weight %d)", i, g.Vector, g.Weight, w.Vector, w.Weight)
		}
	}
}

// TestPendingCompactRoundTrip: format 5 gives back each sample byte for
// byte (a model learns exactly what it would from format 4), in a fraction
// of format 4's size, and in a buffer of its exact length.
func TestPendingCompactRoundTrip(t *testing.T) {
	p, set := leadSamples(t)
	b := p.Encode()
	if b[0] != pendingFormat || cap(b) != len(b) {
		t.Fatalf("format %d, len %d cap %d", b[0], len(b), cap(b))
	}
	got, err := DecodePending(b)
	if err != nil {
		t.Fatal(err)
	}
	samePending(t, got, p)
	v4 := p.appendV4(nil)
	t.Logf("%d samples: format 5 %d bytes, format 4 %d bytes", len(p.Samples), len(b), len(v4))
	if len(b)*2 > len(v4) {
		t.Errorf("format 5 is %d bytes, more than half of format 4's %d", len(b), len(v4))
	}
	var v features.Vector
	for i, s := range got.Samples {
		if err := set.DecodeVector(s.Vector, &v); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
	}
	// Decoded, given one more sample and encoded again (what the scorer
	// does at each sample age: the samples it had are copied, not encoded
	// again), it holds the same samples as when encoded whole.
	more := got
	more.Take(got.Samples[2].Vector, 3)
	again, err := DecodePending(more.Encode())
	if err != nil {
		t.Fatal(err)
	}
	whole := Pending{Scored: more.Scored, Deadline: more.Deadline, Start: more.Start, Taken: more.Taken, Samples: more.Samples}
	if wb := whole.Encode(); !bytes.Equal(wb, more.Encode()) {
		t.Fatalf("re-encoded with the samples copied: %x, encoded whole: %x", more.Encode(), wb)
	}
	samePending(t, again, more)
	if more.encN != len(got.Samples) || &more.Samples[0].Vector[0] != more.encFirst {
		t.Fatalf("the decoded samples' encoding is not reused (%d of %d)", more.encN, len(got.Samples))
	}
	// A new start or new samples are encoded whole.
	moved := got
	moved.Start -= 100
	if back, err := DecodePending(moved.Encode()); err != nil || back.Start != moved.Start {
		t.Fatalf("moved start: %v", err)
	} else {
		samePending(t, back, moved)
	}
	swapped := got
	swapped.Samples = append([]Sample(nil), p.Samples[3:]...)
	if back, err := DecodePending(swapped.Encode()); err != nil {
		t.Fatal(err)
	} else {
		samePending(t, back, swapped)
	}

	// The scorer rewrites the served probability in place.
	if !SetScored(b, 0.75) {
		t.Fatal("SetScored refused format 5")
	}
	if got, _ := DecodePending(b); got.Scored != 0.75 {
		t.Fatalf("scored %v after SetScored", got.Scored)
	}
}

// TestPendingCompactValues covers the values the compact encoding treats
// apart: whole numbers (positive, negative, zero, beyond float32's exact
// range), fractions, −0, NaN, infinities, entries that appear, change and
// disappear between samples, and a time before the wait's start.
func TestPendingCompactValues(t *testing.T) {
	nan := uint64(math.Float32bits(float32(math.NaN())))
	vs := [][]byte{
		rawVector(1000, [][2]uint64{{0, f32(1)}, {1, f32(-1)}, {2, f32(0)}, {3, f32(0.5)}, {7, f32(1 << 24)}}, [][2]uint64{{0, 42}, {3, 1 << 63}}),
		rawVector(999, [][2]uint64{{0, f32(2)}, {1, 1 << 31}, {3, f32(0.5)}, {9, nan}}, [][2]uint64{{0, 42}, {2, 0}}),
		rawVector(1<<32-1, [][2]uint64{{1, f32(float32(math.Inf(-1)))}, {200, f32(-16777215)}, {300, f32(16777215)}}, nil),
		rawVector(5, [][2]uint64{{0, f32(3)}, {1, f32(2)}, {2, f32(-2)}, {14, f32(4)}, {15, f32(1)}, {16, f32(-1)}}, [][2]uint64{{6, 7}}),
		rawVector(5, nil, nil),
	}
	p := NewPending(0.5, 1000, 2000, vs[0])
	for i, v := range vs[1:] {
		p.Take(v, i+1)
	}
	b := p.Encode()
	if b[0] != pendingFormat {
		t.Fatalf("format %d, want %d", b[0], pendingFormat)
	}
	got, err := DecodePending(b)
	if err != nil {
		t.Fatal(err)
	}
	samePending(t, got, p)
}

// TestPendingFallsBackToV4: samples that are not format-1 vectors with
// ascending indexes (another features format, hand-made bytes) are kept as
// they are, in format 4, which still decodes.
func TestPendingFallsBackToV4(t *testing.T) {
	good := rawVector(10, [][2]uint64{{1, f32(3)}}, nil)
	for name, bad := range map[string][]byte{
		"other format": {2, 10, 0, 0},
		"descending":   rawVector(10, [][2]uint64{{4, f32(1)}, {2, f32(1)}}, nil),
		"duplicate":    rawVector(10, nil, [][2]uint64{{1, 5}, {1, 6}}),
		"trailing":     append(rawVector(10, nil, nil), 0),
		"truncated":    rawVector(10, [][2]uint64{{1, f32(3)}}, nil)[:5],
		"empty":        {},
	} {
		t.Run(name, func(t *testing.T) {
			p := NewPending(0.25, 10, 100, good)
			p.Take(bad, 1)
			b := p.Encode()
			if b[0] != pendingFormatV4 {
				t.Fatalf("format %d, want %d", b[0], pendingFormatV4)
			}
			got, err := DecodePending(b)
			if err != nil {
				t.Fatal(err)
			}
			samePending(t, got, p)
		})
	}
}

// TestPendingOldFormats: encodings written by earlier releases decode —
// format 4 (testdata/pending_v4.txt, base64 of what models.Pending wrote at
// commit 3b81096 for leadSamples' wait with six samples) and format 3 — and
// re-encode with the same samples (format 4 as format 5).
func TestPendingOldFormats(t *testing.T) {
	v4, err := readTestdata("testdata/pending_v4.txt")
	if err != nil {
		t.Fatal(err)
	}
	v3 := []byte{pendingFormatV3}
	v3 = binary.LittleEndian.AppendUint64(v3, math.Float64bits(0.25))
	v3 = binary.LittleEndian.AppendUint32(v3, 1000)
	vec := rawVector(7, [][2]uint64{{2, f32(4)}}, [][2]uint64{{1, 9}})
	v3 = append(v3, 2)
	for range 2 {
		v3 = binary.AppendUvarint(v3, uint64(len(vec)))
		v3 = append(v3, vec...)
	}
	for name, tc := range map[string]struct {
		b       []byte
		samples int
	}{"v4": {v4, 6}, "v3": {v3, 2}} {
		t.Run(name, func(t *testing.T) {
			old, err := DecodePending(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if len(old.Samples) != tc.samples {
				t.Fatalf("%d samples, want %d", len(old.Samples), tc.samples)
			}
			b := old.Encode()
			// Format 3's samples after the first were not learned as
			// negatives when taken: it stays format 3, which says so.
			want := byte(pendingFormat)
			if old.v3 {
				want = pendingFormatV3
			}
			if b[0] != want || len(b) > len(tc.b) {
				t.Fatalf("re-encoded as format %d in %d bytes (was %d), want format %d", b[0], len(b), len(tc.b), want)
			}
			got, err := DecodePending(b)
			if err != nil {
				t.Fatal(err)
			}
			samePending(t, got, old)
			if got.v3 != old.v3 {
				t.Fatalf("v3 %v, was %v", got.v3, old.v3)
			}
		})
	}
}

// TestDecodePendingCorrupt: damaged format-5 encodings are rejected with
// ErrCorrupt, never a panic or a wrong Pending.
func TestDecodePendingCorrupt(t *testing.T) {
	p, _ := leadSamples(t)
	b := p.Encode()
	for n := range len(b) {
		if _, err := DecodePending(b[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: decoded", n, len(b))
		} else if !errors.Is(err, features.ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	if _, err := DecodePending(append(bytes.Clone(b), 0)); !errors.Is(err, features.ErrCorrupt) {
		t.Fatalf("trailing byte: %v", err)
	}
	// An index past any feature set's (gap coding cannot repeat one).
	one := NewPending(0, 1, 2, rawVector(1, nil, nil))
	bad := one.Encode()
	bad = binary.AppendUvarint(bad[:pendingHeader+2], 1+(maxIndex<<3|kindSmall))
	bad = append(bad, 0, 0)
	if _, err := DecodePending(bad); !errors.Is(err, features.ErrCorrupt) {
		t.Fatalf("index past the bound: %v", err)
	}
	if _, err := DecodePending(append(bad[:pendingHeader+2], 1+kindSmall, 0, 0)); err != nil {
		t.Fatalf("index 0 = 1: %v", err)
	}
}

// FuzzDecodePendingCompact: any input decodes or is rejected without a
// panic, and what decodes re-encodes to the same samples.
func FuzzDecodePendingCompact(f *testing.F) {
	p := NewPending(0.3, 1000, 2000, rawVector(1000, [][2]uint64{{0, f32(1)}, {3, f32(0.5)}}, [][2]uint64{{1, 42}}))
	p.Take(rawVector(1100, [][2]uint64{{0, f32(2)}}, [][2]uint64{{1, 42}, {2, 7}}), 2)
	f.Add(p.Encode())
	f.Add(p.appendV4(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePending(b)
		if err != nil {
			return
		}
		got, err := DecodePending(p.Encode())
		if err != nil {
			t.Fatalf("re-encoded: %v", err)
		}
		if len(got.Samples) != len(p.Samples) {
			t.Fatalf("%d samples re-decoded, want %d", len(got.Samples), len(p.Samples))
		}
		for i := range got.Samples {
			if !bytes.Equal(got.Samples[i].Vector, p.Samples[i].Vector) || got.Samples[i].Weight != p.Samples[i].Weight {
				t.Fatalf("sample %d changed", i)
			}
		}
	})
}

// BenchmarkPendingEncode: the scorer encodes a lead's Pending at its first
// score and at each sample age.
func BenchmarkPendingEncode(b *testing.B) {
	var t testing.T
	p, _ := leadSamples(&t)
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Encode()
	}
}

func readTestdata(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
}

// BenchmarkPendingTake: what the scorer does at a sample age — decode the
// key's pending label, take one more sample, encode it again.
func BenchmarkPendingTake(b *testing.B) {
	var t testing.T
	p, _ := leadSamples(&t)
	last := p.Samples[len(p.Samples)-1].Vector
	p.Samples = p.Samples[:len(p.Samples)-1]
	enc := p.Encode()
	b.ReportAllocs()
	for b.Loop() {
		q, err := DecodePending(enc)
		if err != nil {
			b.Fatal(err)
		}
		q.Take(last, 1)
		_ = q.Encode()
	}
}
