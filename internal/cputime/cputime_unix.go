//go:build unix

// Package cputime reads the process's CPU time, so benchmarks can give a
// cost that does not depend on how busy the machine is.
package cputime

import (
	"syscall"
	"time"
)

// Process returns the process's user+system CPU time (0 if unknown).
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
