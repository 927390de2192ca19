package simnet

import (
	"testing"
	"time"
)

// TestHoldModel: N tokens stay in flight, each hop takes 55 ms on average,
// so N·T/55ms events happen; the run is reproducible.
func TestHoldModel(t *testing.T) {
	run := func(seed uint64) HoldResult {
		n, err := NewHoldModel(HoldConfig{Nodes: 1000, Duration: 2 * time.Second, Seed: seed, Trace: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.RunUntil(2 * time.Second); err != nil {
			t.Fatal(err)
		}
		if got := n.Stats().InFlight; got != 1000 {
			t.Fatalf("%d tokens in flight, want 1000", got)
		}
		return n.Hold()
	}
	a, b, c := run(1), run(1), run(2)
	want := 1000 * 2.0 / 0.055
	if d := float64(a.Delivered); d < 0.95*want || d > 1.05*want {
		t.Fatalf("%d deliveries, want about %.0f", a.Delivered, want)
	}
	if a.Events != a.Delivered+1 {
		t.Fatalf("%d events for %d deliveries: every event but the start should be a delivery", a.Events, a.Delivered)
	}
	if a != b || a.TraceHash == c.TraceHash {
		t.Fatalf("seed 1 twice: %x, %x; seed 2: %x", a.TraceHash, b.TraceHash, c.TraceHash)
	}
	if _, err := NewHoldModel(HoldConfig{Nodes: 1}); err == nil {
		t.Fatal("one node accepted")
	}
}

// BenchmarkHoldModel is the engine benchmark (sim bench-engine) at 100,000
// hosts: one op is one event.
func BenchmarkHoldModel(b *testing.B) {
	n, err := NewHoldModel(HoldConfig{Nodes: 100000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	if err := n.RunUntil(time.Second); err != nil { // warm up: pools, wheel
		b.Fatal(err)
	}
	start := n.Stats().Events
	b.ResetTimer()
	for n.Stats().Events-start < int64(b.N) {
		if err := n.RunUntil(n.Now() + 100*time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}
}
