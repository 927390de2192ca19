//go:build !unix

// Package cputime reads the process's CPU time, so benchmarks can give a
// cost that does not depend on how busy the machine is.
package cputime

import "time"

// Process returns 0: the CPU time is not read on this system.
func Process() time.Duration { return 0 }
