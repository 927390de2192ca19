package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/dispersy-go/dispersy/runner"
	"github.com/dispersy-go/dispersy/scenarios"
)

// parseArgs parses flags given before or after the one positional
// argument, which it returns ("" when there is none).
func parseArgs(fs *flag.FlagSet, args []string) (string, error) {
	var file string
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return "", err
		}
		rest = fs.Args()
		if len(rest) > 0 {
			if file != "" {
				return "", fmt.Errorf("unexpected argument %q\n%s", rest[0], usage)
			}
			file, rest = rest[0], rest[1:]
		}
	}
	return file, nil
}

// runCmd is `sim run`.
func (e *env) runCmd(args []string) error {
	fs := flag.NewFlagSet("sim run", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	seedFlag := fs.String("seed", "", "seed (overrides the scenario's)")
	out := fs.String("out", "", "output directory (default results/runs/NAME-SEED)")
	quiet := fs.Bool("quiet", false, "no progress bar or header")
	noPlots := fs.Bool("no-plots", false, "write no PNG plots")
	pcapFile := fs.String("pcap", "", "write every delivered packet to this pcap file")
	pcapNodes := fs.String("pcap-nodes", "", "with --pcap: only packets to or from these peers, e.g. 0,5,10-20")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile to this file")
	memprof := fs.String("memprofile", "", "write a heap profile at the end of the run to this file")
	backend := fs.String("backend", "sim", "sim: the simulator; netns: real peer processes in network namespaces behind kernel NATs (needs root)")
	peerBin := fs.String("peer-bin", "", "netns backend: the peer binary to run (default: go build ./cmd/peer)")
	file, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if file == "" {
		return fmt.Errorf("missing scenario FILE\n%s", usage)
	}
	s, err := scenarios.Load(file)
	if err != nil {
		return err
	}
	opts := runner.Options{Clock: time.Now, Interrupted: e.interrupted}
	seed := s.Seed
	if *seedFlag != "" {
		v, err := strconv.ParseUint(*seedFlag, 10, 64)
		if err != nil {
			return fmt.Errorf("--seed %q: want an unsigned integer", *seedFlag)
		}
		seed = v
		opts.Seed = &seed
	}
	if *backend != "sim" && *backend != "netns" {
		return fmt.Errorf("--backend %q: want sim or netns", *backend)
	}
	if *backend == "netns" && *pcapFile != "" {
		return errors.New("--pcap: the netns backend writes no pcap (capture on its namespaces with tcpdump); use --backend sim")
	}
	if *pcapNodes != "" && *pcapFile == "" {
		return errors.New("--pcap-nodes needs --pcap FILE")
	}
	var pw *pcapWriter
	if *pcapFile != "" {
		if *pcapNodes != "" {
			nodes, err := parseNodeList(*pcapNodes, s.Nodes+s.Joined())
			if err != nil {
				return fmt.Errorf("--pcap-nodes %q: %w", *pcapNodes, err)
			}
			opts.CaptureNodes = nodes
		}
		if pw, err = createPcap(*pcapFile); err != nil {
			return fmt.Errorf("--pcap: %w", err)
		}
		defer pw.close()
		opts.Capture = pw.write
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("results", "runs", fmt.Sprintf("%s-%d", s.Name, seed))
	}
	if !*quiet {
		fmt.Fprintf(e.stderr, "sim: %s: %d nodes, %d trackers, %v virtual, seed %d, crypto %s\n",
			s.Name, s.Nodes, s.Trackers, s.Duration, seed, s.Crypto)
		if e.terminal {
			bar := newProgressBar(e.stderr, time.Now)
			opts.ProgressEvery = time.Second
			opts.OnProgress = bar.update
			defer bar.done()
		}
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
	var profErr error
	if *memprof != "" && *backend == "sim" {
		// profiled while every peer is still in memory, after two
		// collections so that the profile shows what the run keeps live
		opts.AtEnd = func() {
			runtime.GC()
			runtime.GC()
			profErr = writeHeapProfile(*memprof)
		}
	}
	var sum *runner.Summary
	if *backend == "netns" {
		sum, err = runNetns(s, opts.Seed, *peerBin, dir, *quiet, e.stderr)
	} else {
		tuneGC()
		sum, err = runner.Run(s, opts)
	}
	if err != nil {
		return err
	}
	if e.hugepages != nil && *backend == "sim" {
		sum.Build.HugePages = e.hugepages()
	}
	if profErr != nil {
		return profErr
	}
	if *memprof != "" && opts.AtEnd == nil {
		if err := writeHeapProfile(*memprof); err != nil {
			return err
		}
	}
	if pw != nil {
		if err := pw.close(); err != nil {
			return fmt.Errorf("--pcap: %w", err)
		}
	}
	files, err := writeOutputs(dir, sum, !*noPlots)
	if err != nil {
		return err
	}
	printSummary(e.stdout, sum)
	fmt.Fprintf(e.stdout, "summary written to %s\n", filepath.Join(dir, "summary.json"))
	for _, f := range files {
		fmt.Fprintf(e.stdout, "  %s\n", f)
	}
	if pw != nil {
		fmt.Fprintf(e.stdout, "pcap written to %s (%d packets)\n", *pcapFile, pw.packets)
	}
	if sum.Interrupted {
		fmt.Fprintf(e.stdout, "interrupted at %.0f s of %.0f s virtual: the outputs cover only that\n",
			sum.VirtualSeconds, s.Duration.Seconds())
		return fmt.Errorf("%s: %w at %.0f s virtual (outputs written to %s)", s.Name, errInterrupted, sum.VirtualSeconds, dir)
	}
	return nil
}

// defaultMemoryLimit is the soft heap limit of a run without GOMEMLIMIT.
const defaultMemoryLimit = 6 << 30

// tuneGC sets the collector for a simulation, which builds a large,
// long-lived heap: collect less often (GOGC 400), but keep the heap under
// a soft limit of 6 GiB. GOGC and GOMEMLIMIT in the environment win: a run
// whose live heap nears 6 GiB (a million peers) needs a higher limit, or
// the collector runs without pause.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("--memprofile: %w", err)
	}
	return f.Close()
}

// parseNodeList parses a list of peer indices and ranges such as
// 0,5,10-20; every index must be below peers.
func parseNodeList(s string, peers int) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q is not a peer index or range such as 10-20", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a range such as 10-20", part)
			}
		}
		if b >= peers {
			return nil, fmt.Errorf("peer %d is out of range: the %d peers are 0 to %d", b, peers, peers-1)
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}
