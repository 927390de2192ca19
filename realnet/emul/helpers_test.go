package emul

import (
	"sync"
	"testing"
)

var (
	preflightOnce sync.Once
	preflightErr  error
)

// needKernel skips t unless this machine can build emulations (root,
// network namespaces, nftables), saying what is missing.
func needKernel(t testing.TB) {
	t.Helper()
	preflightOnce.Do(func() { preflightErr = Preflight() })
	if preflightErr != nil {
		t.Skipf("kernel emulation not possible here: %v", preflightErr)
	}
}
