package scenarios

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/natmodels"
)

// TestBadTraces checks every testdata/trace/bad-*.csv and empty.csv
// against the exact error text in the .err file beside it (run with
// -update to regenerate), and that every error line names the trace file
// and a line.
func TestBadTraces(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "trace", "*.csv"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, file := range files {
		base := filepath.Base(file)
		if base == "good.csv" {
			continue
		}
		n++
		t.Run(base, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ParseTrace(file, data, 100)
			if err == nil {
				t.Fatalf("ParseTrace(%s) = %+v, want an error", file, s)
			}
			checkGolden(t, file, err.Error()+"\n", strings.TrimSuffix(file, ".csv")+".err")
		})
	}
	if n < 4 {
		t.Fatalf("only %d bad traces", n)
	}
}

// TestTraceErrorsThroughScenario: a scenario naming a bad trace reports the
// trace's problems at the trace file's lines, with the key of the column.
func TestTraceErrorsThroughScenario(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "trace", "uses-bad-trace.yaml"))
	if err == nil {
		t.Fatal("no error")
	}
	trace := filepath.Join("testdata", "trace", "bad-lines.csv")
	for _, want := range []string{
		trace + ":3: node: expected a node index",
		trace + ":4: up_at: must not be negative",
		trace + ":5: down_at: session ends at 30s, not after it starts",
		trace + ":6: 4 fields, want 3",
		trace + ":7: up_at: expected a time",
		trace + ":8: up_at: node 0 is already online from 0s (line 2) until 1m0s",
		trace + ":9: node: node index 100 is out of range: the 100 peers are 0 to 99",
		trace + ":10: down_at: expected a time",
	} {
		if !strings.Contains(err.Error()+"\n", want) {
			t.Errorf("error\n%v\nhas no line starting %q", err, want)
		}
	}
}

// TestGoodTrace checks the sessions of a valid trace, as Load reads them.
func TestGoodTrace(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "trace", "uses-good-trace.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Churn
	if c == nil || c.Trace == nil || c.KeepStore || c.Session != nil {
		t.Fatalf("churn %+v", c)
	}
	want := []Session{
		{Node: 0, Up: 0, Down: 5 * time.Minute, Line: 3},
		{Node: 0, Up: 7 * time.Minute, Down: 9*time.Minute + 30*time.Second, Line: 4},
		{Node: 1, Up: 30 * time.Second, Down: 90500 * time.Millisecond, Line: 5},
		{Node: 2, Up: 2 * time.Minute, Down: Forever, Line: 6},
	}
	if !reflect.DeepEqual(c.Trace.Sessions, want) {
		t.Errorf("sessions %+v\nwant %+v", c.Trace.Sessions, want)
	}
	if c.Trace.File != filepath.Join("testdata", "trace", "good.csv") || c.Trace.Path != "good.csv" {
		t.Errorf("trace path %q, file %q", c.Trace.Path, c.Trace.File)
	}
}

// TestParseChurn checks the values and defaults of the churn block.
func TestParseChurn(t *testing.T) {
	const head = "name: t\nduration: 1h\nnodes: 10\n"
	exp := &Dist{Distribution: DistExponential, Mean: 2 * time.Minute}
	tests := []struct {
		name, yaml string
		want       *Churn
	}{
		{"weibull defaults", "churn:\n  session: {distribution: weibull, shape: 0.5, scale: 20m}\n  downtime: {distribution: exponential, mean: 2m}\n",
			&Churn{Session: &Dist{Distribution: DistWeibull, Shape: 0.5, Scale: 20 * time.Minute}, Downtime: exp,
				Fraction: 1, KeepStore: true}},
		{"pareto lognormal spelled out", "churn:\n  session: {distribution: pareto, shape: 1.5, scale: 1m}\n" +
			"  downtime: {distribution: lognormal, median: 3m, sigma: 1.2}\n  start: 2m\n  fraction: 0.25\n  keep_store: false\n",
			&Churn{Session: &Dist{Distribution: DistPareto, Shape: 1.5, Scale: time.Minute},
				Downtime: &Dist{Distribution: DistLognormal, Median: 3 * time.Minute, Sigma: 1.2},
				Start:    2 * time.Minute, Fraction: 0.25}},
		{"constant", "churn: {session: {distribution: constant, value: 30s}, downtime: {distribution: constant, value: 1s}}\n",
			&Churn{Session: &Dist{Distribution: DistConstant, Value: 30 * time.Second},
				Downtime: &Dist{Distribution: DistConstant, Value: time.Second}, Fraction: 1, KeepStore: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(head+tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s.Churn, tt.want) {
				t.Errorf("churn %+v\nwant  %+v", s.Churn, tt.want)
			}
		})
	}
}

// TestDistExpected checks the means of the churn distributions.
func TestDistExpected(t *testing.T) {
	tests := []struct {
		d    Dist
		want time.Duration
		ok   bool
	}{
		{Dist{Distribution: DistExponential, Mean: time.Minute}, time.Minute, true},
		{Dist{Distribution: DistConstant, Value: time.Second}, time.Second, true},
		{Dist{Distribution: DistWeibull, Shape: 1, Scale: time.Minute}, time.Minute, true},       // Γ(2) = 1
		{Dist{Distribution: DistWeibull, Shape: 0.5, Scale: time.Minute}, 2 * time.Minute, true}, // Γ(3) = 2
		{Dist{Distribution: DistPareto, Shape: 2, Scale: time.Minute}, 2 * time.Minute, true},
		{Dist{Distribution: DistPareto, Shape: 1, Scale: time.Minute}, 0, false},
		{Dist{Distribution: DistLognormal, Median: time.Minute}, time.Minute, true},
	}
	for _, tt := range tests {
		got, ok := tt.d.Expected()
		if ok != tt.ok || (ok && (got-tt.want > time.Millisecond || tt.want-got > time.Millisecond)) {
			t.Errorf("%+v: Expected() = %v, %v; want %v, %v", tt.d, got, ok, tt.want, tt.ok)
		}
	}
}

// TestParseTimeline checks every timeline action, and that the workload
// block keeps accepting publish only.
func TestParseTimeline(t *testing.T) {
	const head = "name: t\nduration: 10m\nnodes: 100\n"
	loss := 0.05
	s, err := Parse("t.yaml", []byte(head+`timeline:
  - at: 1m
    publish: {message: text, count: 10, rate: 1/s}
  - at: 2m
    partition: {groups: [0.25, 0.25, 0.5]}
  - {at: 3m, heal: }
  - at: 4m
    crash: {fraction: 0.1, for: 1m}
  - at: 4m
    crash: {count: 7}
  - {join: {nodes: 50, over: 30s, mix: {symmetric: 1}}, at: 5m}
  - at: 6m
    join: {nodes: 5}
  - at: 7m
    set: {loss: 0.05, latency: {distribution: constant, value: 20ms}}
  - at: 8m
    set: {loss: 0.05}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{At: time.Minute, Line: 5, Publish: &Publish{Message: "text", Count: 10, From: FromRandom, Rate: 1, Size: DefaultSize}},
		{At: 2 * time.Minute, Line: 7, Partition: &Partition{Groups: []float64{0.25, 0.25, 0.5}}},
		{At: 3 * time.Minute, Line: 9, Heal: &Heal{}},
		{At: 4 * time.Minute, Line: 10, Crash: &Crash{Fraction: 0.1, For: time.Minute}},
		{At: 4 * time.Minute, Line: 12, Crash: &Crash{Count: 7}},
		{At: 5 * time.Minute, Line: 14, Join: &Join{Nodes: 50, Over: 30 * time.Second, Mix: []natmodels.Share{{Profile: "symmetric", Fraction: 1}}}},
		{At: 6 * time.Minute, Line: 15, Join: &Join{Nodes: 5}},
		{At: 7 * time.Minute, Line: 17, Set: &Set{Loss: &loss, Latency: &Latency{Distribution: DistConstant, Value: 20 * time.Millisecond}}},
		{At: 8 * time.Minute, Line: 19, Set: &Set{Loss: &loss}},
	}
	if !reflect.DeepEqual(s.Timeline, want) {
		t.Errorf("timeline\n%+v\nwant\n%+v", s.Timeline, want)
	}
	actions := []string{}
	for i := range s.Timeline {
		actions = append(actions, s.Timeline[i].Action())
	}
	if got := strings.Join(actions, " "); got != "publish partition heal crash crash join join set set" {
		t.Errorf("actions %s", got)
	}
	if s.Joined() != 55 {
		t.Errorf("Joined() = %d, want 55", s.Joined())
	}
	if s.Metrics.Interval != DefaultMetricsInterval {
		t.Errorf("metrics interval %v", s.Metrics.Interval)
	}
}

// TestTraceBoundCountsJoins: a trace may name the peers the timeline adds.
func TestTraceBoundCountsJoins(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tr.csv"), []byte("node,up_at,down_at\n12,1m,2m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := "name: t\nduration: 10m\nnodes: 10\nchurn: {trace: tr.csv}\n"
	if _, err := Parse(filepath.Join(dir, "s.yaml"), []byte(body)); err == nil || !strings.Contains(err.Error(), "tr.csv:2: node: node index 12 is out of range") {
		t.Fatalf("without joins: %v", err)
	}
	s, err := Parse(filepath.Join(dir, "s.yaml"), []byte(body+"timeline: [{at: 1m, join: {nodes: 3}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Churn.Trace.Sessions) != 1 || s.Churn.Trace.Sessions[0].Node != 12 {
		t.Fatalf("sessions %+v", s.Churn.Trace.Sessions)
	}
}
