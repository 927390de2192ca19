// Command emulcompare sets an emulation's summary.json beside a
// simulation's of the same scenario file and seed, and writes the
// comparison as Markdown (stdout) and JSON (--json FILE); with --scale it
// tabulates what emulation runs of different sizes cost instead.
//
//	emulcompare [--json FILE] [--min-introductions N] [--strict] SIM/summary.json NETNS/summary.json [SEED/summary.json...]
//	emulcompare --scale RUN_DIR...   (each with summary.json and emulation.json)
//
// SEED files are simulator runs of the same file with other seeds: the
// comparison shows their spread. With --strict it exits 1 when a
// puncture-matrix cell is more than 10 percentage points from the
// simulator's run of the same seed or a convergence time more than 25 %
// off (emul.CellTolerance, emul.ConvergenceTolerance); 2 on bad input.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/dispersy-go/dispersy/realnet/emul"
	"github.com/dispersy-go/dispersy/runner"
)

func main() {
	jsonOut := flag.String("json", "", "also write the comparison as JSON to this file")
	minIntro := flag.Int64("min-introductions", 20, "cells with fewer introductions on both sides are not judged")
	scale := flag.Bool("scale", false, "tabulate the cost of the emulation runs in the given directories")
	strict := flag.Bool("strict", false, "exit 1 when the emulation is not within tolerance of the same-seed simulation")
	flag.Parse()
	if *scale {
		if err := scaleTable(os.Stdout, flag.Args()); err != nil {
			fmt.Fprintln(os.Stderr, "emulcompare:", err)
			os.Exit(2)
		}
		return
	}
	if flag.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: emulcompare [--json FILE] [--min-introductions N] [--strict] SIM/summary.json NETNS/summary.json [SEED/summary.json...]")
		os.Exit(2)
	}
	sums := make([]*runner.Summary, flag.NArg())
	for i, path := range flag.Args() {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "emulcompare:", err)
			os.Exit(2)
		}
		sums[i] = &runner.Summary{}
		if err := json.Unmarshal(b, sums[i]); err != nil {
			fmt.Fprintf(os.Stderr, "emulcompare: %s: %v\n", path, err)
			os.Exit(2)
		}
	}
	if sums[0].Scenario != sums[1].Scenario || sums[0].Seed != sums[1].Seed {
		fmt.Fprintf(os.Stderr, "emulcompare: %s seed %d and %s seed %d are not the same run\n", sums[0].Scenario, sums[0].Seed, sums[1].Scenario, sums[1].Seed)
		os.Exit(2)
	}
	for _, s := range sums[2:] {
		if s.Scenario != sums[0].Scenario {
			fmt.Fprintf(os.Stderr, "emulcompare: seed run of %s beside %s\n", s.Scenario, sums[0].Scenario)
			os.Exit(2)
		}
	}
	c := emul.Compare(sums[0], sums[1], sums[2:], *minIntro)
	fmt.Print(c.Markdown())
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(c, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "emulcompare:", err)
			os.Exit(2)
		}
	}
	if *strict && !c.Pass {
		os.Exit(1)
	}
}
