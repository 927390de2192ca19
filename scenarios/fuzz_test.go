package scenarios

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse, Marshal or ApplyOverrides
// panic, that Parse returns exactly one of a scenario and an error, and that
// a parsed scenario survives a Marshal/Parse round trip.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"*.yaml", filepath.Join("testdata", "bad", "*.yaml")} {
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
	f.Add([]byte("name: a\nduration: 1s\nnodes: 1\nprotocol: {label: x, eager_puncture: true, fanout: 3}\n"))
	f.Add([]byte("name: a\nduration: 1m\nnodes: 3\ncommunity: {messages: [{name: a, distribution: {kind: last-sync, history_size: 2, " +
		"pruning: {inactive: 1, pruned: 2}}}, {name: b, authentication: none, distribution: {kind: direct}}]}\n" +
		"workload: [{at: 1s, publish: {message: b, count: 2, from: 2, rate: 3/m, size: 7}}]\n"))
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
