package runner

import (
	"fmt"
	"strings"
	"testing"
)

// TestSyncConvergence: 1,000 public nodes with the default configuration,
// one message published at t=60s into a community idle since the start,
// reach every node within Dispersy's published 19 walk steps (95 s); with
// Dispersy's skip curve as it is (sync_skip_mode: dispersy) the idle
// minute makes most pulls skip and coverage lags far behind.
func TestSyncConvergence(t *testing.T) {
	base := `name: conv
duration: 4m
nodes: 1000
crypto: fast
workload:
  - at: 60s
    publish: {message: text, count: 1}
`
	sum := mustRun(t, parse(t, "conv", base), Options{})
	ss := sum.Sync
	if ss.SkipMode != "wake" || ss.Messages != 1 || ss.Convergence.T100 == nil || *ss.Convergence.T100 > 95 {
		t.Fatalf("skip mode %q: t100 = %s, want <= 95 s (messages %d, coverage %.3f)", ss.SkipMode, secs(ss.Convergence.T100), ss.Messages, ss.Coverage)
	}
	if ss.Coverage != 1 || ss.OverheadRatio <= 0 || ss.SyncBytes <= 0 {
		t.Fatalf("coverage %.3f, overhead %.2f, sync bytes %d", ss.Coverage, ss.OverheadRatio, ss.SyncBytes)
	}
	if n := len(ss.CoverageSeries); n == 0 || ss.CoverageSeries[n-1] != 1 {
		t.Fatalf("coverage series ends at %v", ss.CoverageSeries)
	}
	if len(ss.BytesPerNodeMinute) != 4 {
		t.Fatalf("bytes per node per minute %v, want 4 minutes", ss.BytesPerNodeMinute)
	}
	legacy := mustRun(t, parse(t, "conv", base+"protocol: {sync_skip_mode: dispersy}\n"), Options{})
	if ls := legacy.Sync; ls.SkipMode != "dispersy" || ls.Coverage > 0.9 {
		t.Fatalf("Dispersy's skip curve (%q) reached coverage %.3f in 3 minutes, want it to lag (< 0.9)", ls.SkipMode, ls.Coverage)
	}
}

// TestSyncIdleBytes: in a converged, idle 1,000-node community the default
// keeps the skip curve's saving: the sync bytes of an idle minute are at
// most 1.2 times those of Dispersy's curve, and a fraction of those with
// the curve off.
func TestSyncIdleBytes(t *testing.T) {
	base := `name: idle
duration: 9m
nodes: 1000
crypto: fast
workload:
  - at: 60s
    publish: {message: text, count: 100}
`
	idle := func(extra string) (float64, SyncSummary) {
		ss := mustRun(t, parse(t, "idle", base+extra), Options{}).Sync
		if ss.Coverage != 1 {
			t.Fatalf("%q: coverage %.4f, want a converged community", extra, ss.Coverage)
		}
		m := ss.BytesPerNodeMinute
		return (m[len(m)-1] + m[len(m)-2]) / 2, ss
	}
	wake, _ := idle("")
	legacy, _ := idle("protocol: {sync_skip_mode: dispersy}\n")
	off, _ := idle("protocol: {sync_skip: false}\n")
	if wake > 1.2*legacy || legacy <= 0 {
		t.Fatalf("idle bytes per node per minute: default %.0f, Dispersy's skip curve %.0f: want at most 1.2 times", wake, legacy)
	}
	if wake > 0.3*off {
		t.Fatalf("idle bytes per node per minute: default %.0f, skip curve off %.0f: the saving is lost", wake, off)
	}
}

// TestSyncManyMessages: 100 messages at once over a lossy NAT mix all
// reach every node, including those behind symmetric NATs, and the bloom
// false-positive rate stays below the configured one.
func TestSyncManyMessages(t *testing.T) {
	s := parse(t, "many", `name: many
duration: 6m
nodes: 500
crypto: fast
protocol: {eager_puncture: true, sync_bloom_fit: true}
`+walkerMix+`
workload:
  - at: 30s
    publish: {message: text, count: 100}
`)
	sum := mustRun(t, s, Options{})
	ss := sum.Sync
	if ss.Messages != 100 || ss.Convergence.T99 == nil {
		t.Fatalf("t99 never reached: coverage %.4f", ss.Coverage)
	}
	if ss.Coverage < 0.999 {
		t.Fatalf("coverage %.4f at the end, want >= 0.999", ss.Coverage)
	}
	sym, ok := ss.ByProfile["symmetric"]
	if !ok || sym.Peers == 0 || sym.Coverage < 0.999 || sym.Convergence.T99 == nil {
		t.Fatalf("symmetric-NAT peers: %+v, want coverage >= 0.999 and t99 reached", sym)
	}
	peers := 0
	for _, ps := range ss.ByProfile {
		peers += ps.Peers
	}
	if peers != 500 {
		t.Fatalf("profiles cover %d peers, want 500", peers)
	}
	if ss.BloomTested == 0 || ss.BloomFalsePositiveRate > 1.25*ss.BloomConfiguredRate {
		t.Fatalf("bloom false-positive rate %.4f on %d, configured %.4f", ss.BloomFalsePositiveRate, ss.BloomTested, ss.BloomConfiguredRate)
	}
	if e := ss.BloomExpectedRate; e <= 0 || e > ss.BloomConfiguredRate ||
		ss.BloomFalsePositiveRate < 0.75*e || ss.BloomFalsePositiveRate > 1.25*e {
		t.Fatalf("bloom false-positive rate %.4f on %d, the filters' fill predicts %.4f (within 25 %%)",
			ss.BloomFalsePositiveRate, ss.BloomTested, e)
	}
}

// TestSyncLastSync: with history 1, every node ends holding exactly the
// newest message of each member; sequence-numbered messages lost on the
// way are recovered.
func TestSyncLastSync(t *testing.T) {
	var b strings.Builder
	b.WriteString(`name: last
duration: 5m
nodes: 300
crypto: fast
network: {loss: 0.05}
community:
  messages:
    - name: status
      distribution: {kind: last-sync, history_size: 1}
    - name: log
      distribution: {kind: full-sync, sequence_numbers: true}
workload:
`)
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&b, "  - at: %ds\n    publish: {message: status, count: 4, from: %d, rate: 1/s}\n", 30+10*i, i*7)
		fmt.Fprintf(&b, "  - at: %ds\n    publish: {message: log, count: 10, from: %d, rate: 2/s}\n", 31+10*i, i*11)
	}
	sum := mustRun(t, parse(t, "last", b.String()), Options{})
	ss := sum.Sync
	if ss.LastSyncExact == nil || !*ss.LastSyncExact {
		t.Fatalf("last-sync: nodes do not hold exactly the newest status of each member")
	}
	// sequence numbers: the same workload without status messages; every
	// log message reaches every node although some arrive after a gap
	seqOnly := strings.ReplaceAll(b.String(), "message: status, count: 4", "message: log, count: 4")
	sum = mustRun(t, parse(t, "seq", seqOnly), Options{})
	if sum.Sync.Coverage != 1 {
		t.Fatalf("sequence-numbered messages: coverage %.4f, want 1", sum.Sync.Coverage)
	}
	if sum.Messages["dispersy-missing-sequence"].Count == 0 {
		t.Fatalf("no gap was ever asked for: the test does not exercise recovery")
	}
}

func secs(v *float64) string {
	if v == nil {
		return "never"
	}
	return fmt.Sprintf("%.1f s", *v)
}
