package runner

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/dispersy-go/dispersy/scenarios"
)

// TestWeibullChurnCoverage: with Weibull sessions (shape 0.6: many short
// and a few long; mean 30 min) and exponential downtimes, peers keep leaving and coming
// back, yet the messages reach 99 % of the online peers; the summary says
// it counts online peers only.
func TestWeibullChurnCoverage(t *testing.T) {
	s := parse(t, "churn", `name: churn
duration: 10m
nodes: 400
crypto: fast
`+walkerMix+`
churn:
  session: {distribution: weibull, shape: 0.6, scale: 20m}
  downtime: {distribution: exponential, mean: 2m}
  start: 30s
workload:
  - at: 60s
    publish: {message: text, count: 40, rate: 2/s}
`)
	sum := mustRun(t, s, Options{})
	c, ss := sum.Churn, sum.Sync
	t.Logf("churn: %d downs, %d ups, online %d to %d; coverage %.4f, t99 %s",
		c.Downs, c.Ups, c.OnlineMin, c.OnlineMax, ss.Coverage, secs(ss.Convergence.T99))
	if c.Model != "distributions" || c.Downs < 150 || c.Ups < 100 {
		t.Fatalf("churn %+v: too little churn to test anything", c)
	}
	if c.OnlineMin > 390 || c.OnlineEnd >= 400 || c.OnlineEnd != sum.Walker.OnlinePeers {
		t.Fatalf("online min %d, at the end %d (walker counts %d): peers did not stay down", c.OnlineMin, c.OnlineEnd, sum.Walker.OnlinePeers)
	}
	if ss.Counting != CoverageCounting || ss.Messages != 40 {
		t.Fatalf("sync counting %q, messages %d", ss.Counting, ss.Messages)
	}
	if ss.Convergence.T99 == nil {
		t.Fatalf("coverage among online peers never reached 99%% (end %.4f)", ss.Coverage)
	}
	if ss.Coverage < 0.99 {
		t.Errorf("coverage among online peers %.4f at the end, want >= 0.99", ss.Coverage)
	}
	if sum.PacketsDropped["offline"] == 0 {
		t.Error("no packet dropped for an offline peer")
	}
	if n := len(c.Sessions); n == 0 || c.MeanSessionSeconds <= 0 {
		t.Errorf("%d sessions, mean %.1f s", n, c.MeanSessionSeconds)
	}
}

// TestPartitionHeal: a partition into two groups converges within each
// group, nothing crosses it, and after the heal every online peer holds
// every message.
func TestPartitionHeal(t *testing.T) {
	s := parse(t, "part", `name: part
duration: 10m
nodes: 300
crypto: fast
timeline:
  - at: 40s
    partition: {groups: [0.5, 0.5]}
  - at: 60s
    publish: {message: text, count: 30, rate: 2/s}
  - at: 5m
    heal: {}
`)
	sum := mustRun(t, s, Options{})
	if len(sum.Partitions) != 1 {
		t.Fatalf("%d partitions recorded", len(sum.Partitions))
	}
	p := sum.Partitions[0]
	if p.HealedSeconds == nil || *p.HealedSeconds != 300 || len(p.Groups) != 2 {
		t.Fatalf("partition %+v", p)
	}
	msgs := 0
	for i, g := range p.Groups {
		if g.Peers < 140 || g.Peers > 160 || g.Messages == 0 {
			t.Errorf("group %d: %+v", i, g)
		}
		if g.Coverage != 1 {
			t.Errorf("group %d did not converge within itself: coverage %.4f", i, g.Coverage)
		}
		if g.Leaked != 0 {
			t.Errorf("group %d holds %.4f of the other group's messages: the partition leaked", i, g.Leaked)
		}
		msgs += g.Messages
	}
	ss := sum.Sync
	if msgs != 30 || ss.Messages != 30 {
		t.Fatalf("groups published %d, run %d", msgs, ss.Messages)
	}
	if sum.PacketsDropped["partitioned"] == 0 {
		t.Error("no packet dropped at the partition")
	}
	healed := 300 - 60.0 // seconds from the first publish to the heal
	if ss.Convergence.T100 == nil || *ss.Convergence.T100 <= healed {
		t.Fatalf("t100 = %s, want after the heal (%.0f s after the first publish)", secs(ss.Convergence.T100), healed)
	}
	if ss.Coverage != 1 {
		t.Fatalf("coverage %.4f after the heal, want 1", ss.Coverage)
	}
}

// timelineScenario exercises every timeline action and churn at once.
const timelineScenario = `name: tl
duration: 4m
nodes: 150
crypto: fast

` + walkerMix + `
churn:
  session: {distribution: pareto, shape: 1.5, scale: 40s}
  downtime: {distribution: lognormal, median: 20s, sigma: 1}
  keep_store: false
  fraction: 0.5
timeline:
  - {at: 20s, publish: {message: text, count: 20, rate: 2/s}}
  - {at: 30s, partition: {groups: [0.3, 0.7]}}
  - {at: 60s, crash: {fraction: 0.1, for: 30s}}
  - {at: 70s, crash: {count: 5}}
  - {at: 80s, join: {nodes: 40, over: 20s, mix: {public: 0.5, symmetric: 0.5}}}
  - {at: 90s, set: {loss: 0.05, latency: {distribution: uniform, min: 20ms, max: 200ms}}}
  - {at: 2m, heal: {}}
`

// TestChurnDeterminism: churn and every timeline action keep a run
// reproducible: one file and seed, one trace hash, whatever GOMAXPROCS.
func TestChurnDeterminism(t *testing.T) {
	s := parse(t, "tl", timelineScenario)
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	one := mustRun(t, s, Options{})
	runtime.GOMAXPROCS(2)
	two := mustRun(t, s, Options{})
	if one.TraceHash != two.TraceHash || one.Events != two.Events {
		t.Fatalf("trace hashes differ: GOMAXPROCS=1 %s, =2 %s", one.TraceHash, two.TraceHash)
	}
	c := one.Churn
	if c.Joins != 40 || c.Crashed < 15 || c.Downs < 30 || c.KeepStore {
		t.Fatalf("churn %+v: the actions did not all happen", c)
	}
	if one.PacketsDropped["partitioned"] == 0 || one.PacketsDropped["loss"] == 0 {
		t.Fatalf("drops %v: partition or set loss did not apply", one.PacketsDropped)
	}
	seed := uint64(2)
	other := mustRun(t, s, Options{Seed: &seed})
	if other.TraceHash == one.TraceHash {
		t.Fatal("seeds 1 and 2 give the same trace hash")
	}
}

// TestCrashAndJoin: peers crashed for good stay down; a flash crowd that
// joins late connects and receives what was published before it came.
func TestCrashAndJoin(t *testing.T) {
	s := parse(t, "cj", `name: cj
duration: 4m
nodes: 200
crypto: fast

workload:
  - {at: 20s, publish: {message: text, count: 10}}
timeline:
  - {at: 40s, crash: {fraction: 0.25}}
  - {at: 60s, join: {nodes: 100, over: 10s}}
`)
	sum := mustRun(t, s, Options{})
	if sum.Churn.Crashed != 50 || sum.Churn.Joins != 100 {
		t.Fatalf("churn %+v", sum.Churn)
	}
	if sum.Walker.OnlinePeers != 250 {
		t.Fatalf("%d peers online at the end, want 200 - 50 + 100", sum.Walker.OnlinePeers)
	}
	if sum.Walker.ConnectedFraction < 0.95 {
		t.Errorf("connected fraction %.3f among online peers", sum.Walker.ConnectedFraction)
	}
	if sum.Sync.Coverage != 1 {
		t.Errorf("coverage %.4f: the joiners did not get the older messages", sum.Sync.Coverage)
	}
	if len(sum.Series) != 24 || sum.Series[0].Online != 200 || sum.Series[len(sum.Series)-1].Online != 250 {
		t.Errorf("series of %d points, online %v", len(sum.Series), onlineOf(sum.Series))
	}
}

func onlineOf(pts []TimePoint) []int {
	var out []int
	for _, p := range pts {
		out = append(out, p.Online)
	}
	return out
}

// TestTraceChurn replays a churn trace: the peers it names are online
// exactly during their sessions, joined peers included.
func TestTraceChurn(t *testing.T) {
	s, err := scenarios.Parse(filepath.Join("testdata", "trace.yaml"), []byte(`name: trace
duration: 2m
nodes: 30
crypto: fast
metrics: {interval: 5s}
churn: {trace: trace.csv}
timeline:
  - {at: 20s, join: {nodes: 2}}
`))
	if err != nil {
		t.Fatal(err)
	}
	sum := mustRun(t, s, Options{})
	online := map[int]int{}
	for _, p := range sum.Series {
		online[int(p.T.Seconds())] = p.Online
	}
	// 27 untraced initial peers are always online; peer 31 (the second
	// joiner) is untraced and online from 20 s.
	want := map[int]int{5: 28, 25: 30, 35: 31, 45: 30, 55: 31, 65: 32, 75: 31, 85: 30, 95: 29, 105: 30, 120: 30}
	for at, n := range want {
		if online[at] != n {
			t.Errorf("at %ds: %d online, want %d (series %v)", at, online[at], n, online)
		}
	}
	if sum.Churn.Model != "trace" || sum.Churn.Joins != 2 {
		t.Errorf("churn %+v", sum.Churn)
	}
}
