package simnet

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// refQueue is the obvious implementation the calendar queue must agree with.
type refQueue struct{ h []event }

func (r *refQueue) push(e event) { heapPush(&r.h, e) }
func (r *refQueue) popUntil(limit int64) (event, bool) {
	if len(r.h) == 0 || r.h[0].t > limit {
		return event{}, false
	}
	return heapPop(&r.h), true
}

func TestQueueOrderTiesBySeq(t *testing.T) {
	tests := []struct {
		name  string
		times []int64
	}{
		{"all equal", []int64{5, 5, 5, 5, 5}},
		{"descending", []int64{50, 40, 30, 20, 10}},
		{"ties mixed", []int64{3, 1, 3, 1, 2, 3, 1}},
		{"zero", []int64{0, 0, 0}},
		{"beyond horizon", []int64{1 << 40, 1, 1 << 40, 1 << 36, 1 << 36, 2}},
		{"same bucket different ns", []int64{1000, 10, 999, 10, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueue(defaultBucketShift, defaultBucketBits)
			var want []event
			for seq, at := range tc.times {
				e := event{t: at, key: uint64(seq) << seqShift}
				q.push(e)
				want = append(want, e)
			}
			slices.SortStableFunc(want, func(a, b event) int {
				switch {
				case a.t < b.t:
					return -1
				case a.t > b.t:
					return 1
				}
				return 0
			})
			for i, w := range want {
				got, ok := q.popUntil(1 << 62)
				if !ok || got != w {
					t.Fatalf("pop %d = %+v, %v; want %+v", i, got, ok, w)
				}
			}
			if _, ok := q.popUntil(1 << 62); ok || q.Len() != 0 {
				t.Fatalf("queue not empty after draining: len %d", q.Len())
			}
		})
	}
}

// TestQueueMatchesHeap drives the calendar queue and a plain heap with the
// same random hold-model workload (including pushes into the current bucket,
// beyond the horizon, and limits that stop mid-bucket) and checks they pop
// the same sequence.
func TestQueueMatchesHeap(t *testing.T) {
	for _, geom := range []struct{ shift, nbits uint }{{20, 16}, {4, 3}, {10, 2}} {
		t.Run(fmt.Sprintf("shift%d_bits%d", geom.shift, geom.nbits), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			q := newQueue(geom.shift, geom.nbits)
			var ref refQueue
			var seq uint64
			now := int64(0)
			push := func(at int64) {
				e := event{t: at, key: seq << seqShift}
				seq++
				q.push(e)
				ref.push(e)
			}
			for i := 0; i < 1000; i++ {
				push(r.Int64N(1 << 24))
			}
			for step := 0; step < 200000; step++ {
				limit := now + r.Int64N(1<<22)
				if step%7 == 0 {
					limit = now // pop only what is due now
				}
				got, gok := q.popUntil(limit)
				want, wok := ref.popUntil(limit)
				if got != want || gok != wok {
					t.Fatalf("step %d: got %+v,%v want %+v,%v", step, got, gok, want, wok)
				}
				if gok {
					now = got.t
				} else {
					// Between runs the driver may still schedule at now.
					push(now)
					continue
				}
				switch r.IntN(6) {
				case 0:
					push(now) // same instant
				case 1:
					push(now + r.Int64N(16)) // current bucket
				case 2:
					push(now + r.Int64N(1<<30)) // likely beyond the horizon
				case 3: // nothing: the queue shrinks
				default:
					push(now + r.Int64N(1<<22))
					push(now + r.Int64N(1<<24))
				}
			}
			if q.Len() != len(ref.h) {
				t.Fatalf("len %d, ref %d", q.Len(), len(ref.h))
			}
		})
	}
}

// benchHold runs the hold model: pop the minimum, push one event a random
// delay later, with `pending` events always queued. Delays are U[10, 100] ms
// (the PeerSim baseline workload) in nanoseconds.
func benchHold(b *testing.B, pending int, push func(event), pop func() event) {
	r := rand.New(rand.NewPCG(7, 7))
	var seq uint64
	delay := func() int64 { return 10e6 + r.Int64N(90e6) }
	for i := 0; i < pending; i++ {
		push(event{t: delay(), key: seq << seqShift})
		seq++
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := pop()
		push(event{t: e.t + delay(), key: seq << seqShift})
		seq++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mevents/s")
}

func BenchmarkQueue(b *testing.B) {
	for _, pending := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("calendar/pending=%d", pending), func(b *testing.B) {
			q := newQueue(defaultBucketShift, defaultBucketBits)
			benchHold(b, pending, q.push, func() event { e, _ := q.popUntil(1 << 62); return e })
		})
		b.Run(fmt.Sprintf("binaryheap/pending=%d", pending), func(b *testing.B) {
			var h []event
			benchHold(b, pending, func(e event) { heapPush(&h, e) }, func() event { return heapPop(&h) })
		})
	}
}
