package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/dispersy-go/dispersy/realnet/emul"
	"github.com/dispersy-go/dispersy/runner"
)

type scaleRun struct {
	dir string
	sum runner.Summary
	rep emul.Report
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// scaleTable writes one Markdown row per emulation run directory, by size.
func scaleTable(w io.Writer, dirs []string) error {
	var runs []scaleRun
	for _, d := range dirs {
		r := scaleRun{dir: d}
		if err := readJSON(filepath.Join(d, "summary.json"), &r.sum); err != nil {
			return err
		}
		if err := readJSON(filepath.Join(d, "emulation.json"), &r.rep); err != nil {
			return err
		}
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].sum.Nodes < runs[j].sum.Nodes })
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	fmt.Fprintln(w, "| peers | namespaces | setup s | start s | teardown s | processes PSS MiB (per peer) | RSS MiB | MemAvailable drop MiB | peers CPU (cores) | emulator CPU (cores) | status misses | wire packets (errors) | connected | verified candidates | coverage | t100 s |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range runs {
		s, e := r.sum, r.rep
		dur := s.VirtualSeconds
		t100 := "never"
		if v := s.Sync.Convergence.T100; v != nil {
			t100 = fmt.Sprintf("%.1f", *v)
		}
		fmt.Fprintf(w, "| %d | %d | %.1f | %.1f | %.1f | %.0f (%.1f) | %.0f | %.0f | %.2f | %.2f | %d | %d (%d) | %.3f | %.1f | %.3f | %s |\n",
			s.Nodes, e.Namespaces, e.SetupSeconds, e.StartSeconds, e.TeardownSeconds,
			mib(e.PeersPSSMax), mib(e.PeersPSSMax)/float64(max(1, s.Nodes+s.Trackers)), mib(e.PeersRSSMax),
			mib(e.MemAvailableBefore-e.MemAvailableMin), e.PeersCPUSeconds/dur, e.EmulatorCPUSeconds/dur,
			e.StatusMisses, e.Delay.Queued, e.Delay.Errors, s.Walker.ConnectedFraction, s.Walker.MeanVerifiedCandidates,
			s.Sync.Coverage, t100)
	}
	return nil
}
