package simnet

import (
	"fmt"
	"math/rand/v2"
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

// floorHost stands for the per-host state an event must touch: one cache
// line.
type floorHost struct {
	hits uint64
	_    [56]byte
}

// BenchmarkHoldFloor is the floor under the hold model: the same token
// traffic (N tokens, each hop to a uniformly random host after U[10,100]
// ms) through the calendar queue, where each event only reads and writes
// its destination's cache line and draws the next hop. No routing, packet
// or handler. An engine that touches any per-destination state per event
// cannot beat it on this machine; the gap to BenchmarkHoldModel is what
// routing, packets and handlers cost.
func BenchmarkHoldFloor(b *testing.B) {
	for _, nodes := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			hosts := make([]floorHost, nodes)
			q := newQueue(defaultBucketShift, defaultBucketBits)
			rng := rand.New(rand.NewPCG(1, 2))
			const lo, span = int64(10 * time.Millisecond), int64(90 * time.Millisecond)
			seq := uint64(0)
			for range nodes {
				q.push(event{t: lo + rng.Int64N(span), key: seq<<seqShift | rng.Uint64N(uint64(nodes))})
				seq++
			}
			b.ResetTimer()
			for range b.N {
				e, _ := q.popUntil(1 << 62)
				h := &hosts[e.key&refMask]
				h.hits++
				q.push(event{t: e.t + lo + rng.Int64N(span), key: seq<<seqShift | rng.Uint64N(uint64(nodes))})
				seq++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mevents/s")
			var total uint64
			for i := range hosts {
				total += hosts[i].hits
			}
			if total != uint64(b.N) {
				b.Fatalf("%d hits for %d events", total, b.N)
			}
		})
	}
}
