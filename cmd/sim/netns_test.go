package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dispersy-go/dispersy/realnet/emul"
)

// TestNetnsRefusesBeforeCreating: a key the netns backend cannot honour is
// an error naming it, and nothing is created.
func TestNetnsRefusesBeforeCreating(t *testing.T) {
	before, _ := os.ReadDir("/run/netns")
	var out, errb bytes.Buffer
	err := run([]string{"run", "testdata/tiny.yaml", "--backend", "netns", "--out", t.TempDir()}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "testdata/tiny.yaml: crypto: \"fast\"") || !strings.Contains(err.Error(), "netns backend") {
		t.Fatalf("run: %v", err)
	}
	after, _ := os.ReadDir("/run/netns")
	if len(after) != len(before) {
		t.Errorf("namespaces before %d, after %d", len(before), len(after))
	}
	if err := run([]string{"run", "testdata/tiny.yaml", "--backend", "ns3"}, &out, &errb); err == nil || !strings.Contains(err.Error(), `--backend "ns3"`) {
		t.Errorf("--backend ns3: %v", err)
	}
}

// TestNetnsNeedsRoot: without root the command says so and exits
// non-zero (as root, the test runs the binary as nobody).
func TestNetnsNeedsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		var out, errb bytes.Buffer
		err := run([]string{"run", "testdata/netns.yaml", "--backend", "netns"}, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "needs root") {
			t.Fatalf("run as uid %d: %v", os.Geteuid(), err)
		}
		return
	}
	dir, err := os.MkdirTemp("", "sim-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sim")
	if msg, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, msg)
	}
	scen, _ := os.ReadFile("testdata/netns.yaml")
	file := filepath.Join(dir, "netns.yaml")
	if err := os.WriteFile(file, scen, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", file, "--backend", "netns", "--out", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	msg, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("as nobody: %v\n%s", err, msg)
	}
	if !strings.Contains(string(msg), "needs root") || !strings.Contains(string(msg), "uid 65534") {
		t.Errorf("as nobody: %s", msg)
	}
}

// TestNetnsCLI runs a short emulation through the command and checks the
// files it writes.
func TestNetnsCLI(t *testing.T) {
	if err := emul.Preflight(); err != nil {
		t.Skipf("kernel emulation not possible here: %v", err)
	}
	dir := t.TempDir()
	peer, err := emul.BuildPeer(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := run([]string{"run", "testdata/netns.yaml", "--backend", "netns", "--peer-bin", peer, "--out", dir}, &out, &errb); err != nil {
		t.Fatalf("run: %v\n%s", err, errb.String())
	}
	var sum, rep map[string]any
	for name, v := range map[string]*map[string]any{"summary.json": &sum, "emulation.json": &rep} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	if sum["scenario"] != "netns-cli" || sum["nodes"].(float64) != 3 || rep["backend"] != "netns" {
		t.Errorf("summary %v, report %v", sum["scenario"], rep["backend"])
	}
	for _, k := range []string{"walker", "puncture", "sync", "packets_dropped"} {
		if _, ok := sum[k].(map[string]any); !ok {
			t.Errorf("summary.json has no %q block", k)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "coverage.csv")); err != nil {
		t.Error(err)
	}
	if !strings.Contains(out.String(), "connected fraction") {
		t.Errorf("no summary table:\n%s", out.String())
	}
}
