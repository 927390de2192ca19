package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunWritesSummary(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if err := run([]string{"run", "testdata/tiny.yaml", "--seed", "7", "--out", dir}, &out, &errb); err != nil {
		t.Fatalf("run: %v\n%s", err, errb.String())
	}
	m := readSummary(t, dir)
	// the summary contract: these keys are never renamed
	for _, k := range []string{"scenario", "seed", "nodes", "trackers", "crypto", "virtual_seconds", "wall_seconds",
		"events", "packets_sent", "packets_delivered", "packets_dropped", "max_heap_bytes", "trace_hash", "walker", "puncture"} {
		if _, ok := m[k]; !ok {
			t.Errorf("summary.json has no %q", k)
		}
	}
	if m["seed"].(float64) != 7 || m["scenario"] != "tiny" || m["crypto"] != "fast" {
		t.Errorf("summary: seed %v scenario %v crypto %v", m["seed"], m["scenario"], m["crypto"])
	}
	w := m["walker"].(map[string]any)
	for _, k := range []string{"connected_fraction", "mean_verified_candidates", "connection_type_accuracy"} {
		if _, ok := w[k]; !ok {
			t.Errorf("walker block has no %q", k)
		}
	}
	d := m["packets_dropped"].(map[string]any)
	for _, k := range []string{"loss", "nat_filtered"} {
		if _, ok := d[k]; !ok {
			t.Errorf("packets_dropped has no %q", k)
		}
	}
	if _, ok := m["puncture"].(map[string]any)["pairs"]; !ok {
		t.Errorf("puncture block has no pairs")
	}
	if !strings.Contains(out.String(), "connected fraction") || !strings.Contains(out.String(), "trace hash") {
		t.Errorf("no summary table printed:\n%s", out.String())
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, "usage"},
		{[]string{"walk"}, "usage"},
		{[]string{"run"}, "missing scenario FILE"},
		{[]string{"run", "testdata/tiny.yaml", "--seed", "x"}, `--seed "x"`},
		{[]string{"run", "testdata/nope.yaml"}, "nope.yaml"},
		{[]string{"run", "testdata/bad.yaml"}, "bad.yaml:5: network.latency"},
		{[]string{"run", "testdata/tiny.yaml", "testdata/tiny.yaml"}, "unexpected argument"},
		{[]string{"run", "testdata/tiny.yaml", "--bogus"}, "flag provided but not defined"},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		err := run(tc.args, &out, &errb)
		if err == nil {
			t.Errorf("%v: no error", tc.args)
			continue
		}
		if msg := err.Error() + errb.String(); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: error %q, want it to contain %q", tc.args, msg, tc.want)
		}
	}
}
