package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/dispersy-go/dispersy/internal/cputime"
	"github.com/dispersy-go/dispersy/runner"
	"github.com/dispersy-go/dispersy/simnet"
)

// benchResult is the --json output of bench-engine.
type benchResult struct {
	Workload        string  `json:"workload"`
	Nodes           int     `json:"nodes"`
	VirtualSeconds  float64 `json:"virtual_seconds"`
	Events          int64   `json:"events"`
	WallSeconds     float64 `json:"wall_seconds"`
	EventsPerSecond float64 `json:"events_per_second"`
	// CPUSeconds is the process's CPU time over the loop: on a busy
	// machine events per CPU second is the steadier figure.
	CPUSeconds         float64 `json:"cpu_seconds"`
	EventsPerCPUSecond float64 `json:"events_per_cpu_second"`
	MaxHeapBytes       uint64  `json:"max_heap_bytes"`
	// BuildSeconds is the time to build the network, not in the loop.
	BuildSeconds float64 `json:"build_seconds"`
	TraceHash    string  `json:"trace_hash,omitempty"`
	GoVersion    string  `json:"go_version"`
	GOMAXPROCS   int     `json:"gomaxprocs"`
}

// benchCmd is `sim bench-engine`: PeerSim's push-gossip hold model through
// simnet's queue and delivery path (see simnet.NewHoldModel). Like the
// PeerSim reference, it times only the event loop.
func (e *env) benchCmd(args []string) error {
	fs := flag.NewFlagSet("sim bench-engine", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	nodes := fs.Int("nodes", 100000, "hosts (tokens in flight)")
	dur := fs.Duration("duration", 20*time.Second, "virtual time")
	seed := fs.Uint64("seed", 1, "seed")
	asJSON := fs.Bool("json", false, "print one JSON object")
	trace := fs.Bool("trace", false, "keep the trace hash on (PeerSim has none)")
	file, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if file != "" {
		return fmt.Errorf("unexpected argument %q\n%s", file, usage)
	}
	if *dur <= 0 {
		return fmt.Errorf("--duration %v: want a positive duration", *dur)
	}
	tuneGC()
	var maxHeap uint64
	t0 := time.Now()
	n, err := simnet.NewHoldModel(simnet.HoldConfig{Nodes: *nodes, Duration: *dur, Seed: *seed, Trace: *trace,
		Every: time.Second, OnTick: func(time.Duration) { maxHeap = max(maxHeap, runner.HeapBytes()) }})
	if err != nil {
		return err
	}
	build := time.Since(t0)
	debug.FreeOSMemory()
	cpu0 := cputime.Process()
	start := time.Now()
	if err := n.RunUntil(*dur); err != nil {
		return err
	}
	wall := time.Since(start)
	cpu := cputime.Process() - cpu0
	maxHeap = max(maxHeap, runner.HeapBytes())
	h := n.Hold()
	res := benchResult{Workload: "hold model (PeerSim push gossip), delay U[10,100] ms", Nodes: *nodes,
		VirtualSeconds: dur.Seconds(), Events: h.Events, WallSeconds: wall.Seconds(),
		EventsPerSecond: float64(h.Events) / wall.Seconds(), CPUSeconds: cpu.Seconds(), MaxHeapBytes: maxHeap,
		BuildSeconds: build.Seconds(), GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if cpu > 0 {
		res.EventsPerCPUSecond = float64(h.Events) / cpu.Seconds()
	}
	if *trace {
		res.TraceHash = runner.HashHex(h.TraceHash)
	}
	if *asJSON {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	table(e.stdout, []string{"bench-engine", "value"}, [][]string{
		{"workload", res.Workload},
		{"nodes / virtual time", fmt.Sprintf("%d / %.0f s", res.Nodes, res.VirtualSeconds)},
		{"events", fmt.Sprintf("%d", res.Events)},
		{"loop wall time", fmt.Sprintf("%.2f s (build %.2f s)", res.WallSeconds, res.BuildSeconds)},
		{"events per wall second", si(res.EventsPerSecond)},
		{"events per CPU second", si(res.EventsPerCPUSecond)},
		{"max heap", fmt.Sprintf("%.1f MiB (%.0f B per node)", float64(res.MaxHeapBytes)/(1<<20), float64(res.MaxHeapBytes)/float64(res.Nodes))},
	})
	return nil
}
