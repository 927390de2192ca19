package scenarios

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse checks that no input makes Parse, Marshal or ApplyOverrides
// panic, that Parse returns exactly one of a scenario and an error, and that
// a parsed scenario survives a Marshal/Parse round trip.
func FuzzParse(f *testing.F) {
	addFiles(f, "*.yaml", filepath.Join("testdata", "bad", "*.yaml"))
	f.Add([]byte("name: a\nduration: 1s\nnodes: 1\nprotocol: {label: x, eager_puncture: true, fanout: 3}\n"))
	f.Add([]byte("name: a\nduration: 1m\nnodes: 3\ncommunity: {messages: [{name: a, distribution: {kind: last-sync, history_size: 2, " +
		"pruning: {inactive: 1, pruned: 2}}}, {name: b, authentication: none, distribution: {kind: direct}}]}\n" +
		"workload: [{at: 1s, publish: {message: b, count: 2, from: 2, rate: 3/m, size: 7}}]\n"))
	f.Add([]byte("name: a\nduration: 1h\nnodes: 3\nchurn: {session: {distribution: weibull, shape: 0.5, scale: 1m}, " +
		"downtime: {distribution: pareto, shape: 2, scale: 1s}, keep_store: false, fraction: 0.5, start: 1s}\n" +
		"metrics: {interval: 5s}\ntimeline: [{at: 1s, partition: {groups: [0.5, 0.5]}}, {at: 2s, heal: {}}, " +
		"{at: 3s, crash: {count: 1, for: 1s}}, {at: 4s, join: {nodes: 2, over: 1s, mix: {public: 1}}}, " +
		"{at: 5s, set: {loss: 0.1, latency: {distribution: constant, value: 1ms}}}]\n"))
	f.Add([]byte("name: a\nduration: 1h\nnodes: 3\nchurn: {trace: testdata/trace/good.csv}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if (s == nil) == (err == nil) {
			t.Fatalf("Parse returned %v and %v", s, err)
		}
		if err != nil {
			return
		}
		var cfg testConfig
		_ = s.ApplyOverrides(&cfg)
		out, err := s.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if _, err := Parse("fuzz.yaml", out); err != nil {
			t.Fatalf("Marshal output does not parse: %v\n%s", err, out)
		}
	})
}

// FuzzParseTrace checks that no input makes ParseTrace panic, that it
// returns sessions or an error, and that the sessions it returns are valid.
func FuzzParseTrace(f *testing.F) {
	addFiles(f, filepath.Join("testdata", "trace", "*.csv"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sessions, err := ParseTrace("fuzz.csv", data, 50)
		if err != nil {
			if sessions != nil {
				t.Fatalf("sessions %v along with error %v", sessions, err)
			}
			return
		}
		end := map[int]time.Duration{}
		for _, s := range sessions {
			if s.Node < 0 || s.Node >= 50 || s.Up < 0 || s.Down <= s.Up || s.Line < 2 {
				t.Fatalf("invalid session %+v", s)
			}
			if e, ok := end[s.Node]; ok && s.Up < e {
				t.Fatalf("overlapping session %+v", s)
			}
			end[s.Node] = s.Down
		}
	})
}

// addFiles adds the files matching the patterns to the seed corpus.
func addFiles(f *testing.F, patterns ...string) {
	for _, pattern := range patterns {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}
