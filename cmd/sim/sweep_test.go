package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestSweep: three sizes times five seeds print the mean and confidence
// interval of t99 per size, write one CSV line per run and per cell, and
// give the same runs whatever the number of parallel jobs.
func TestSweep(t *testing.T) {
	var hashes []string
	for _, jobs := range []string{"1", "2"} {
		dir := t.TempDir()
		var out, errb bytes.Buffer
		err := run([]string{"sweep", "testdata/sweep.yaml", "--set", "nodes=20,30,40", "--seeds", "1-5", "--out", dir,
			"--jobs", jobs, "--metric", "sync.convergence.t99,sync.coverage"}, &out, &errb)
		if err != nil {
			t.Fatalf("sweep: %v\n%s", err, errb.String())
		}
		// the table: one row per size with mean ± CI of t99
		row := regexp.MustCompile(`│ (20|30|40) +│ 5 +│ ([0-9.]+) ± ([0-9.]+)`)
		rows := row.FindAllStringSubmatch(out.String(), -1)
		if len(rows) != 3 {
			t.Fatalf("table has %d rows with mean ± CI of t99:\n%s", len(rows), out.String())
		}
		for _, r := range rows {
			mean, _ := strconv.ParseFloat(r[2], 64)
			half, _ := strconv.ParseFloat(r[3], 64)
			if mean < 10 || mean > 100 || half <= 0 || half > mean {
				t.Errorf("nodes=%s: t99 %v ± %v", r[1], mean, half)
			}
		}
		cells := readCSV(t, filepath.Join(dir, "sweep.csv"))
		if len(cells) != 4 || cells[0][0] != "nodes" || cells[0][2] != "sync.convergence.t99_n" {
			t.Fatalf("sweep.csv: %v", cells)
		}
		for _, c := range cells[1:] {
			lo, _ := strconv.ParseFloat(c[4], 64)
			mean, _ := strconv.ParseFloat(c[3], 64)
			hi, _ := strconv.ParseFloat(c[5], 64)
			if c[1] != "5" || c[2] != "5" || !(lo < mean && mean < hi) {
				t.Errorf("sweep.csv cell %v: not 5 runs with low < mean < high", c)
			}
		}
		runs := readCSV(t, filepath.Join(dir, "runs.csv"))
		if len(runs) != 16 {
			t.Fatalf("runs.csv has %d lines, want a header and 15 runs", len(runs))
		}
		var h []string
		for _, r := range runs[1:] {
			h = append(h, r[0]+"/"+r[1]+"/"+r[len(r)-1])
		}
		hashes = append(hashes, strings.Join(h, "\n"))
		for _, f := range []string{"sweep.md", "sweep.png", filepath.Join("runs", "nodes=30-seed4", "summary.json")} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Error(err)
			}
		}
	}
	if hashes[0] != hashes[1] {
		t.Fatalf("trace hashes with --jobs 1 and 2 differ:\n%s\n--\n%s", hashes[0], hashes[1])
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestSweepErrors: a bad sweep parameter is an error naming the flag, the
// key and what is wrong, before anything runs (golden file
// testdata/sweep-errors.golden; go test -update rewrites it).
func TestSweepErrors(t *testing.T) {
	cases := [][]string{
		{"--set", "nodez=1,2"},
		{"--set", "nodes=abc"},
		{"--set", "nodes=10,0"},
		{"--set", "network.loss=0,2"},
		{"--set", "network.latency.median=5ms"},
		{"--set", "protocol.walk_intervl=5s"},
		{"--set", "protocol.walk_interval=-1s"},
		{"--set", "churn.session.shape=0.5"},
		{"--set", "workload[3].at=1s"},
		{"--set", "workload[0].publish.count=0"},
		{"--set", "seed=1,2"},
		{"--set", "nodes"},
		{"--set", "nodes=10,,20"},
		{"--set", "nodes=10", "--set", "nodes=20"},
		{"--set", "nodes=10", "--seeds", "5-1"},
		{"--set", "nodes=10", "--seeds", "1,1"},
		{"--set", "nodes=10", "--metric", "sync.t99"},
		{"--set", "nodes=10", "--jobs", "0"},
	}
	var b strings.Builder
	for _, c := range cases {
		var out, errb bytes.Buffer
		err := run(append([]string{"sweep", "testdata/sweep.yaml", "--out", t.TempDir()}, c...), &out, &errb)
		if err == nil {
			t.Errorf("sweep %v: no error", c)
			continue
		}
		if out.Len() != 0 {
			t.Errorf("sweep %v ran something:\n%s", c, out.String())
		}
		b.WriteString(strings.Join(c, " ") + "\n\t" + strings.ReplaceAll(err.Error(), "\n", "\n\t") + "\n")
	}
	golden := filepath.Join("testdata", "sweep-errors.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("sweep errors:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestBenchEngine: the JSON object has the figures a comparison needs, and
// the events match the hold model's rate.
func TestBenchEngine(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"bench-engine", "--nodes", "2000", "--duration", "2s", "--json"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	for _, k := range []string{"events", "wall_seconds", "events_per_second", "max_heap_bytes"} {
		if v, ok := m[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v", k, m[k])
		}
	}
	if ev := m["events"].(float64); ev < 0.95*2000*2/0.055 || ev > 1.05*2000*2/0.055 {
		t.Errorf("%v events, want about %.0f", ev, 2000*2/0.055)
	}
	for _, bad := range [][]string{{"--nodes", "1"}, {"--duration", "0s"}, {"extra"}} {
		if err := run(append([]string{"bench-engine"}, bad...), &out, &errb); err == nil {
			t.Errorf("bench-engine %v: no error", bad)
		}
	}
}
