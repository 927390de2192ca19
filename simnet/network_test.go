package simnet

import (
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/dispersy-go/dispersy/natmodels"
)

func newNet(t testing.TB, cfg Config) *Network {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"negative loss", Config{Loss: -0.1}},
		{"loss one", Config{Loss: 1}},
		{"negative LAN latency", Config{LANLatency: -1}},
		{"negative constant", Config{Latency: ConstantLatency{D: -time.Millisecond}}},
		{"inverted uniform", Config{Latency: UniformLatency{Min: 10, Max: 5}}},
		{"lognormal zero median", Config{Latency: LogNormalLatency{Sigma: 1}}},
		{"lognormal negative sigma", Config{Latency: LogNormalLatency{Median: time.Millisecond, Sigma: -1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New accepted a bad config")
			}
		})
	}
}

func TestEventOrder(t *testing.T) {
	n := newNet(t, Config{})
	var got []string
	rec := func(s string) func() {
		return func() { got = append(got, s+"@"+n.Now().String()) }
	}
	n.At(5*time.Millisecond, rec("a"))
	n.At(5*time.Millisecond, rec("b"))
	n.At(time.Millisecond, rec("c"))
	n.At(5*time.Millisecond, func() {
		got = append(got, "d@"+n.Now().String())
		n.After(0, rec("f")) // same instant, after everything already queued
	})
	n.At(5*time.Millisecond, rec("e"))
	n.At(90*time.Second, rec("far")) // beyond the calendar's horizon
	n.At(90*time.Second, rec("far2"))
	if err := n.RunUntil(100 * time.Second); err != nil {
		t.Fatal(err)
	}
	want := []string{"c@1ms", "a@5ms", "b@5ms", "d@5ms", "e@5ms", "f@5ms", "far@1m30s", "far2@1m30s"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if n.Now() != 100*time.Second {
		t.Fatalf("clock %v after RunUntil(100s)", n.Now())
	}
	if s := n.Stats(); s.Events != 8 || s.TimersFired != 8 {
		t.Fatalf("stats %+v, want 8 events", s)
	}
}

func TestRunUntilErrors(t *testing.T) {
	n := newNet(t, Config{})
	if err := n.RunUntil(time.Second); err != nil {
		t.Fatal(err)
	}
	if err := n.RunUntil(time.Millisecond); err == nil {
		t.Fatal("RunUntil into the past succeeded")
	}
	var inner error
	n.After(time.Millisecond, func() { inner = n.RunUntil(5 * time.Second) })
	if err := n.RunUntil(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	if inner == nil {
		t.Fatal("RunUntil from inside a callback succeeded")
	}
	// Events stop at the limit and resume on the next call.
	ran := 0
	n.At(3*time.Second, func() { ran++ })
	if err := n.RunUntil(3*time.Second - 1); err != nil || ran != 0 {
		t.Fatalf("ran=%d err=%v before the event's time", ran, err)
	}
	if err := n.RunUntil(3 * time.Second); err != nil || ran != 1 {
		t.Fatalf("ran=%d err=%v at the event's time", ran, err)
	}
}

func TestTimerStop(t *testing.T) {
	tests := []struct {
		name      string
		stopAt    time.Duration // when Stop is called (-1: never)
		wantStop  bool
		wantFired bool
	}{
		{"stop before", 5 * time.Millisecond, true, false},
		{"stop at same instant before it", 9 * time.Millisecond, true, false},
		{"stop after fire", 20 * time.Millisecond, false, true},
		{"never stopped", -1, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newNet(t, Config{})
			h, err := n.AddHost(natmodels.Profile{Name: "public"})
			if err != nil {
				t.Fatal(err)
			}
			fired := false
			var tm interface{ Stop() bool }
			var stopped bool
			if tc.stopAt >= 0 {
				n.At(tc.stopAt, func() { stopped = tm.Stop() })
			}
			n.At(0, func() {
				tm = h.Env().AfterFunc(10*time.Millisecond-n.Now(), func() { fired = true })
			})
			if err := n.RunUntil(time.Second); err != nil {
				t.Fatal(err)
			}
			if stopped != tc.wantStop || fired != tc.wantFired {
				t.Fatalf("Stop()=%v fired=%v, want %v %v", stopped, fired, tc.wantStop, tc.wantFired)
			}
			if tm.Stop() {
				t.Fatal("second Stop reported pending")
			}
		})
	}
}

func TestTimerStaleHandleAndNoLeak(t *testing.T) {
	n := newNet(t, Config{})
	first := n.After(time.Millisecond, func() {})
	if err := n.RunUntil(2 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	fired := false
	second := n.After(time.Millisecond, func() { fired = true })
	if second.idx != first.idx {
		t.Fatalf("slot not reused: %d then %d", first.idx, second.idx)
	}
	if first.Stop() {
		t.Fatal("stale handle stopped a timer")
	}
	if err := n.RunUntil(time.Second); err != nil {
		t.Fatal(err)
	}
	if !fired {
		t.Fatal("stale Stop cancelled the slot's new timer")
	}
	// Schedule-and-stop churn must not grow the slab.
	for round := 0; round < 50; round++ {
		for i := 0; i < 100; i++ {
			n.After(time.Duration(i)*time.Millisecond, func() { t.Error("stopped timer ran") }).Stop()
		}
		if err := n.RunUntil(n.Now() + time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if len(n.timers) > 101 || n.Pending() != 0 {
		t.Fatalf("timer slab %d entries, %d pending after stop churn", len(n.timers), n.Pending())
	}
	if s := n.Stats(); s.TimersStopped != 5000 {
		t.Fatalf("TimersStopped = %d, want 5000", s.TimersStopped)
	}
}

func TestOnProgress(t *testing.T) {
	n := newNet(t, Config{})
	var got []time.Duration
	var order []string
	n.OnProgress(time.Second, func(now time.Duration) {
		if now != n.Now() {
			t.Errorf("progress now %v, clock %v", now, n.Now())
		}
		got = append(got, now)
		order = append(order, "progress")
	})
	n.At(2*time.Second, func() { order = append(order, "event") })
	if err := n.RunUntil(3500 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(got, want) {
		t.Fatalf("progress at %v, want %v", got, want)
	}
	if want := []string{"progress", "progress", "event", "progress"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	if err := n.RunUntil(4 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got[len(got)-1] != 4*time.Second {
		t.Fatalf("progress at the RunUntil limit missing: %v", got)
	}
}

func TestNewRandStreams(t *testing.T) {
	a := NewRand(1, "node", 3).Uint64()
	if b := NewRand(1, "node", 3).Uint64(); a != b {
		t.Fatal("same stream differs")
	}
	for _, o := range []struct {
		seed  uint64
		label string
		index int
	}{{2, "node", 3}, {1, "nat", 3}, {1, "node", 4}, {1, "nod", 3}} {
		if NewRand(o.seed, o.label, o.index).Uint64() == a {
			t.Fatalf("stream %+v equals (1, node, 3)", o)
		}
	}
}

func TestHostIsOneCacheLine(t *testing.T) {
	if s := unsafe.Sizeof(Host{}); s != 64 {
		t.Fatalf("Host is %d bytes, want 64", s)
	}
}
