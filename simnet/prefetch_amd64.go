package simnet

// prefetchLine asks the CPU to bring the cache line at addr into its
// caches without waiting for it (PREFETCHT0): a hint that never faults
// and changes nothing the program can observe.
//
//go:noescape
func prefetchLine(addr uintptr)
