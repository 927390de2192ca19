// Command sim runs scenario files on the deterministic network simulator.
//
//	sim run FILE [--seed N] [--out DIR]
//
// It prints progress while the run goes, a summary table at the end, and
// writes DIR/summary.json (default DIR: results/runs/NAME-SEED/).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"

	"github.com/dispersy-go/dispersy/runner"
	"github.com/dispersy-go/dispersy/scenarios"
)

const usage = `usage: sim run FILE [--seed N] [--out DIR] [--quiet] [--cpuprofile FILE] [--memprofile FILE] [--backend sim|netns] [--peer-bin FILE]`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sim:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "run" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(stdout, usage)
			return nil
		}
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("sim run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seedFlag := fs.String("seed", "", "seed (overrides the scenario's)")
	out := fs.String("out", "", "output directory (default results/runs/NAME-SEED)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile to this file")
	memprof := fs.String("memprofile", "", "write a heap profile at the end of the run to this file")
	backend := fs.String("backend", "sim", "sim: the simulator; netns: real peer processes in network namespaces behind kernel NATs (needs root)")
	peerBin := fs.String("peer-bin", "", "netns backend: the peer binary to run (default: go build ./cmd/peer)")
	// accept flags before or after FILE
	var file string
	rest := args[1:]
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		rest = fs.Args()
		if len(rest) > 0 {
			if file != "" {
				return fmt.Errorf("unexpected argument %q\n%s", rest[0], usage)
			}
			file, rest = rest[0], rest[1:]
		}
	}
	if file == "" {
		return fmt.Errorf("missing scenario FILE\n%s", usage)
	}
	s, err := scenarios.Load(file)
	if err != nil {
		return err
	}
	opts := runner.Options{Clock: time.Now}
	seed := s.Seed
	if *seedFlag != "" {
		v, err := strconv.ParseUint(*seedFlag, 10, 64)
		if err != nil {
			return fmt.Errorf("--seed %q: want an unsigned integer", *seedFlag)
		}
		seed = v
		opts.Seed = &seed
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("results", "runs", fmt.Sprintf("%s-%d", s.Name, seed))
	}
	if !*quiet {
		opts.OnProgress = func(p runner.Progress) {
			fmt.Fprintf(stderr, "  %6.0fs / %.0fs virtual  %5.1fs wall  %11d events  %11d delivered  heap %6.0f MiB\n",
				p.Virtual.Seconds(), p.Duration.Seconds(), p.Wall.Seconds(), p.Events, p.Delivered,
				float64(p.HeapBytes)/(1<<20))
		}
		fmt.Fprintf(stderr, "sim: %s: %d nodes, %d trackers, %v virtual, seed %d, crypto %s\n",
			s.Name, s.Nodes, s.Trackers, s.Duration, seed, s.Crypto)
	}
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	// A simulation builds a large, long-lived heap: collect less often,
	// but keep the heap under a soft limit.
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(6 << 30)
	var sum *runner.Summary
	switch *backend {
	case "sim":
		sum, err = runner.Run(s, opts)
	case "netns":
		sum, err = runNetns(s, opts.Seed, *peerBin, dir, *quiet, stderr)
	default:
		return fmt.Errorf("--backend %q: want sim or netns", *backend)
	}
	if err != nil {
		return err
	}
	if *memprof != "" {
		f, err := os.Create(*memprof)
		if err != nil {
			return fmt.Errorf("--memprofile: %w", err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			f.Close()
			return fmt.Errorf("--memprofile: %w", err)
		}
		f.Close()
	}
	if sum.WallSeconds > 0 {
		sum.DeliveredPerWallSecond = float64(sum.PacketsDelivered) / sum.WallSeconds
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	path := filepath.Join(dir, "summary.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	if err := writeCoverage(filepath.Join(dir, "coverage.csv"), sum.Sync.CoverageSeries); err != nil {
		return err
	}
	printSummary(stdout, sum)
	fmt.Fprintf(stdout, "summary written to %s\n", path)
	return nil
}

func printSummary(w io.Writer, s *runner.Summary) {
	t := tablewriter.NewWriter(w)
	t.Header("metric", "value")
	rows := [][]string{
		{"scenario", s.Scenario},
		{"seed", strconv.FormatUint(s.Seed, 10)},
		{"nodes / trackers", fmt.Sprintf("%d / %d", s.Nodes, s.Trackers)},
		{"crypto", s.Crypto},
		{"virtual time", fmt.Sprintf("%.0f s", s.VirtualSeconds)},
		{"wall time", fmt.Sprintf("%.1f s", s.WallSeconds)},
		{"events", strconv.FormatInt(s.Events, 10)},
		{"packets sent / delivered", fmt.Sprintf("%d / %d", s.PacketsSent, s.PacketsDelivered)},
		{"dropped: loss / nat filtered", fmt.Sprintf("%d / %d", s.PacketsDropped["loss"], s.PacketsDropped["nat_filtered"])},
		{"delivered per wall second", fmt.Sprintf("%.0f", s.DeliveredPerWallSecond)},
		{"max heap", fmt.Sprintf("%.0f MiB", float64(s.MaxHeapBytes)/(1<<20))},
		{"connected fraction", fmt.Sprintf("%.4f", s.Walker.ConnectedFraction)},
		{"mean verified candidates", fmt.Sprintf("%.2f", s.Walker.MeanVerifiedCandidates)},
		{"connection type accuracy", fmt.Sprintf("%.4f", s.Walker.ConnectionTypeAccuracy)},
		{"time to connect p50 / p99 / max (never)", connectRow(s.Walker.ConnectSeconds["all"])},
		{"puncture success (both ways)", fmt.Sprintf("%.4f (%d / %d)", s.Puncture.SuccessRate, s.Puncture.Overall.Successes, s.Puncture.Overall.Introductions)},
		{"walker reached by puncture", fmt.Sprintf("%.4f", s.Puncture.WalkerReachedRate)},
	}
	if len(s.Walker.ConnectSeconds) > 2 {
		for _, name := range slices.Sorted(maps.Keys(s.Walker.ConnectSeconds)) {
			if name != "all" {
				rows = append(rows, []string{"time to connect: " + name, connectRow(s.Walker.ConnectSeconds[name])})
			}
		}
	}
	if ss := s.Sync; ss.Messages > 0 {
		rows = append(rows,
			[]string{"sync: messages", strconv.Itoa(ss.Messages)},
			[]string{"sync: t50 / t90 / t99 / t100", fmt.Sprintf("%s / %s / %s / %s",
				secs(ss.Convergence.T50), secs(ss.Convergence.T90), secs(ss.Convergence.T99), secs(ss.Convergence.T100))},
			[]string{"sync: coverage at end", fmt.Sprintf("%.6f", ss.Coverage)},
			[]string{"sync: skip curve", ss.SkipMode},
			[]string{"sync: bytes per node / overhead ratio", fmt.Sprintf("%.0f / %.2f", ss.BytesSentPerNode, ss.OverheadRatio)},
			[]string{"sync: duplicate deliveries", strconv.FormatInt(ss.DuplicateDeliveries, 10)},
			[]string{"sync: bloom false positives (configured)", fmt.Sprintf("%.4f (%.4f) on %d", ss.BloomFalsePositiveRate, ss.BloomConfiguredRate, ss.BloomTested)},
		)
		if m := ss.BytesPerNodeMinute; len(m) > 0 {
			rows = append(rows, []string{"sync: bytes per node in the last minute", fmt.Sprintf("%.0f", m[len(m)-1])})
		}
		if len(ss.ByProfile) > 1 {
			for _, name := range slices.Sorted(maps.Keys(ss.ByProfile)) {
				ps := ss.ByProfile[name]
				rows = append(rows, []string{"sync: " + name + " t99 / t100 (coverage)", fmt.Sprintf("%s / %s (%.6f)",
					secs(ps.Convergence.T99), secs(ps.Convergence.T100), ps.Coverage)})
			}
		}
	}
	rows = append(rows, []string{"trace hash", s.TraceHash})
	_ = t.Bulk(rows)
	_ = t.Render()

	if len(s.Puncture.Pairs) == 0 {
		return
	}
	p := tablewriter.NewWriter(w)
	p.Header("NAT pair", "introductions", "successes", "rate", "walker reached")
	for _, k := range runner.PairOrder(s.Puncture.Pairs) {
		ps := s.Puncture.Pairs[k]
		rate := 0.0
		if ps.Introductions > 0 {
			rate = float64(ps.Successes) / float64(ps.Introductions)
		}
		reached := 0.0
		if ps.Introductions > 0 {
			reached = float64(ps.WalkerReached) / float64(ps.Introductions)
		}
		_ = p.Append([]string{k, strconv.FormatInt(ps.Introductions, 10), strconv.FormatInt(ps.Successes, 10),
			fmt.Sprintf("%.3f", rate), fmt.Sprintf("%.3f", reached)})
	}
	_ = p.Render()
}

// connectRow renders bootstrap-time quantiles.
func connectRow(c runner.ConnectTimes) string {
	return fmt.Sprintf("%s / %s / %s (%d)", secs(c.P50), secs(c.P99), secs(c.Max), c.Never)
}

func secs(v *float64) string {
	if v == nil {
		return "never"
	}
	return fmt.Sprintf("%.1f s", *v)
}

// writeCoverage writes the coverage per second since the first publish
// (nothing when the run published nothing).
func writeCoverage(path string, series []float64) error {
	if len(series) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("seconds_since_first_publish,coverage\n")
	for i, c := range series {
		fmt.Fprintf(&b, "%d,%.6f\n", i+1, c)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("coverage: %w", err)
	}
	return nil
}
