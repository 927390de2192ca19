package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dispersy-go/dispersy/realnet/emul"
	"github.com/dispersy-go/dispersy/runner"
	"github.com/dispersy-go/dispersy/scenarios"
)

// runNetns runs s on the emulation testbed (package realnet/emul) and
// writes its report as DIR/emulation.json; the caller writes the summary
// as for the simulator.
func runNetns(s *scenarios.Scenario, seed *uint64, peerBin, dir string, quiet bool, stderr io.Writer) (*runner.Summary, error) {
	o := emul.Options{Seed: seed, PeerBinary: peerBin, LogDir: filepath.Join(dir, "peers")}
	if !quiet {
		o.Progress = stderr
	}
	sum, rep, err := emul.RunCLI(s, o)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "emulation.json"), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("emulation report: %w", err)
	}
	return sum, nil
}
