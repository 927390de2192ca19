package cputime

import (
	"runtime"
	"testing"
)

// TestProcessAdvances: a fixed amount of busy work shows as CPU time
// where it is read (however busy the machine is, it takes some).
func TestProcessAdvances(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no CPU time on " + runtime.GOOS)
	}
	start := Process()
	x := uint64(1)
	for i := 0; i < 50_000_000; i++ {
		x = x*6364136223846793005 + 1
	}
	if d := Process() - start; d <= 0 || start <= 0 {
		t.Fatalf("CPU time %v, then %v more after 50 M multiplications (x=%d)", start, d, x)
	}
}
