package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/realnet/emul"

	"github.com/dispersy-go/dispersy/internal/testutil"
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
	dir, bin := buildSim(t)
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

// buildSim builds this command into a world-readable temporary directory.
func buildSim(t *testing.T) (dir, bin string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "sim-netns-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "sim")
	if msg, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, msg)
	}
	return dir, bin
}

// namespacesOf lists the emulation namespaces that process pid made.
func namespacesOf(pid int) []string {
	ents, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "dgoemu-"+strconv.Itoa(pid)+"-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// startEmulation starts the command on testdata/netns.yaml (made longer)
// and waits until its peers run.
func startEmulation(t *testing.T) (*exec.Cmd, *testutil.SyncBuffer) {
	t.Helper()
	if err := emul.Preflight(); err != nil {
		t.Skipf("kernel emulation not possible here: %v", err)
	}
	dir, bin := buildSim(t)
	peer, err := emul.BuildPeer(dir)
	if err != nil {
		t.Fatal(err)
	}
	scen, _ := os.ReadFile("testdata/netns.yaml")
	file := filepath.Join(dir, "long.yaml")
	if err := os.WriteFile(file, bytes.Replace(scen, []byte("duration: 8s"), []byte("duration: 5m"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &testutil.SyncBuffer{}
	cmd := exec.Command(bin, "run", file, "--backend", "netns", "--peer-bin", peer, "--out", filepath.Join(dir, "out"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "processes up") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the emulation did not start:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(namespacesOf(cmd.Process.Pid)) == 0 {
		t.Fatal("the running emulation has no namespaces")
	}
	return cmd, out
}

// TestNetnsCtrlC: SIGINT (Ctrl-C) stops the emulation, which removes
// everything it made and exits non-zero.
func TestNetnsCtrlC(t *testing.T) {
	cmd, out := startEmulation(t)
	t0 := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Errorf("after SIGINT: %v\n%s", err, out)
	}
	if d := time.Since(t0); d > 15*time.Second {
		t.Errorf("stopping took %v", d)
	}
	if !strings.Contains(out.String(), "interrupted") {
		t.Errorf("no word of the interruption:\n%s", out)
	}
	if left := namespacesOf(cmd.Process.Pid); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestNetnsKilledLeftovers: an emulator killed outright (SIGKILL) cannot
// clean up; its peers die with it, and the next run (Cleanup) removes its
// namespaces.
func TestNetnsKilledLeftovers(t *testing.T) {
	cmd, _ := startEmulation(t)
	pid := cmd.Process.Pid
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if len(namespacesOf(pid)) == 0 {
		t.Skip("the kill left nothing to clean up")
	}
	if _, err := emul.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if left := namespacesOf(pid); len(left) > 0 {
		t.Errorf("Cleanup left %v", left)
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
