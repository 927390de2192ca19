package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFillBlocks: generated blocks are replaced, the prose around them
// stays, and broken marks are errors naming the line.
func TestFillBlocks(t *testing.T) {
	doc := "# Results\n\nProse before.\n<!-- BEGIN GENERATED a -->\nold table\n<!-- END GENERATED a -->\nProse between.\n" +
		"<!-- BEGIN GENERATED b -->\n<!-- END GENERATED b -->\nProse after.\n"
	out, err := fillBlocks("R.md", []byte(doc), map[string]string{"a": "new A\n", "b": "new B\n"})
	if err != nil {
		t.Fatal(err)
	}
	want := "# Results\n\nProse before.\n<!-- BEGIN GENERATED a -->\nnew A\n<!-- END GENERATED a -->\nProse between.\n" +
		"<!-- BEGIN GENERATED b -->\nnew B\n<!-- END GENERATED b -->\nProse after.\n"
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	again, err := fillBlocks("R.md", out, map[string]string{"a": "new A\n", "b": "new B\n"})
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("not idempotent: %v\n%s", err, again)
	}
	for _, tc := range []struct{ doc, want string }{
		{"x\n<!-- BEGIN GENERATED c -->\n<!-- END GENERATED c -->\n", `R.md:2: unknown generated block "c"`},
		{"<!-- BEGIN GENERATED a -->\nno end\n", `R.md:1: block "a" has no <!-- END GENERATED a --> line`},
		{"<!-- BEGIN GENERATED a -->\n<!-- END GENERATED a -->\n<!-- BEGIN GENERATED a -->\n<!-- END GENERATED a -->\n", `R.md:3: block "a" is generated twice`},
	} {
		if _, err := fillBlocks("R.md", []byte(tc.doc), map[string]string{"a": ""}); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("fillBlocks(%q) = %v, want %q", tc.doc, err, tc.want)
		}
	}
}

// TestResultsCmd: sim results tabulates a run, its plots and a benchmark
// into the README's blocks and keeps the prose.
func TestResultsCmd(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if err := run([]string{"run", "testdata/sync.yaml", "--out", filepath.Join(dir, "sync")}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bench-engine"), 0o755); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run([]string{"bench-engine", "--nodes", "1000", "--duration", "1s", "--json"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bench-engine", "b.json"), out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	readme := "# R\n\nHand-written.\n\n<!-- BEGIN GENERATED scenarios -->\n<!-- END GENERATED scenarios -->\n" +
		"<!-- BEGIN GENERATED plots -->\n<!-- END GENERATED plots -->\n<!-- BEGIN GENERATED bench-engine -->\n<!-- END GENERATED bench-engine -->\n" +
		"<!-- BEGIN GENERATED sweeps -->\n<!-- END GENERATED sweeps -->\nThe end.\n"
	path := filepath.Join(dir, "README.md")
	if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run([]string{"results", "--dir", dir}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	for _, want := range []string{"Hand-written.", "The end.", "| [sync](sync/summary.json) | 30 | fast |", "![sync timeseries](sync/timeseries.png)",
		"| b.json | 1000 | 1 s |", "(no sweeps yet)"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("README has no %q:\n%s", want, got)
		}
	}
	out.Reset()
	if err := run([]string{"results", "--dir", dir}, &out, &errb); err != nil || !strings.Contains(out.String(), "up to date") {
		t.Errorf("second run: %v %s", err, out.String())
	}
}
