// Command sim runs scenario files on the deterministic network simulator.
//
//	sim run FILE [--seed N] [--out DIR] [--quiet] [--pcap FILE] [--pcap-nodes LIST]
//	sim sweep FILE --set KEY=V1,V2 ... [--seeds 1-5] [--out DIR] [--jobs N] [--metric M]
//	sim bench-engine [--nodes N] [--duration 20s] [--json]
//	sim results [--dir results]
//
// run prints a progress bar while the run goes (when stderr is a
// terminal), the walker, puncture and sync tables at the end, and writes
// DIR/summary.json, DIR/timeseries.csv, DIR/coverage.csv and PNG plots
// (default DIR: results/runs/NAME-SEED/). Ctrl-C stops the run, writes
// what it has and says it was interrupted. sweep runs a grid of scenario
// variants over seeds; bench-engine measures the event engine; results
// rewrites the generated blocks of results/README.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dispersy-go/dispersy/internal/hugepages"
	"github.com/mattn/go-isatty"
)

const usage = `usage:
  sim run FILE [--seed N] [--out DIR] [--quiet] [--pcap FILE] [--pcap-nodes LIST] [--no-plots]
               [--cpuprofile FILE] [--memprofile FILE] [--backend sim|netns] [--peer-bin FILE]
  sim sweep FILE --set KEY=V1,V2[,...] [--set ...] [--seeds 1-5] [--out DIR] [--jobs N] [--metric M] [--quiet]
  sim bench-engine [--nodes N] [--duration 20s] [--json] [--seed N] [--trace]
  sim results [--dir results]`

// errInterrupted is returned when Ctrl-C stopped a command; main exits 130.
var errInterrupted = errors.New("interrupted")

func main() {
	var stop atomic.Bool
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		stop.Store(true)
		signal.Stop(sig) // a second Ctrl-C kills at once
	}()
	// Huge pages for the heap (see internal/hugepages); SIM_HUGEPAGES=off
	// leaves the kernel's default.
	var hp *hugepages.Advisor
	if os.Getenv("SIM_HUGEPAGES") != "off" {
		hp = hugepages.Start(250*time.Millisecond, heapReserve())
	}
	e := &env{stdout: os.Stdout, stderr: os.Stderr, interrupted: stop.Load, hugepages: hp.Status,
		terminal: isatty.IsTerminal(os.Stderr.Fd()) || isatty.IsCygwinTerminal(os.Stderr.Fd())}
	err := e.main(os.Args[1:])
	hp.Stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sim:", err)
		if errors.Is(err, errInterrupted) {
			os.Exit(130)
		}
		os.Exit(2)
	}
}

// heapReserve is how much heap the huge-page advisor maps ahead: the memory
// limit a run will have (GOMEMLIMIT, else tuneGC's 6 GiB), at most half
// the machine's memory (hugepages.Start caps it).
func heapReserve() int {
	limit := debug.SetMemoryLimit(-1)
	if limit == math.MaxInt64 {
		limit = defaultMemoryLimit
	}
	return int(limit)
}

// env is what a command talks to: its output streams, whether stderr is a
// terminal (for the progress bar) and whether the user asked it to stop.
type env struct {
	stdout, stderr io.Writer
	terminal       bool
	interrupted    func() bool
	// hugepages says whether the heap is advised for huge pages (nil:
	// not asked, as in tests).
	hugepages func() string
}

// run runs the command line args with output to stdout and stderr, as a
// process whose stderr is no terminal and that is never interrupted.
func run(args []string, stdout, stderr io.Writer) error {
	e := &env{stdout: stdout, stderr: stderr, interrupted: func() bool { return false }}
	return e.main(args)
}

func (e *env) main(args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintln(e.stdout, usage)
		return nil
	case "run":
		return e.runCmd(args[1:])
	case "sweep":
		return e.sweepCmd(args[1:])
	case "bench-engine":
		return e.benchCmd(args[1:])
	case "results":
		return e.resultsCmd(args[1:])
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}
