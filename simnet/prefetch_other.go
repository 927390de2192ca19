//go:build !amd64

package simnet

// prefetchLine is a no-op where no prefetch instruction is wired up.
func prefetchLine(uintptr) {}
