//go:build linux

package hugepages

import (
	"os"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"
)

func TestAnonRanges(t *testing.T) {
	maps, err := os.ReadFile("testdata/maps.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := anonRanges(maps)
	want := [][2]uint64{
		{0x01c00000, 0x04200000},       // anonymous, 38 MiB
		{0x720a8400000, 0x720a8c00000}, // anonymous, 8 MiB
		{0x720a8c00000, 0x720af000000}, // named anonymous (a Go heap arena)
		{0x7fcf954dc000, 0x7fcf95700000},
	}
	// Left out: executable and read-only mappings, those under 2 MiB, the
	// brk heap and the stack (under 2 MiB here), reserved (---p), shared
	// and file-backed mappings, and a line that is no mapping.
	if len(got) != len(want) {
		t.Fatalf("got %d ranges %x, want %x", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("range %d: got %x, want %x", i, got[i], want[i])
		}
	}
}

// anonHuge returns AnonHugePages of this process in bytes.
func anonHuge(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		t.Skipf("no /proc/self/smaps_rollup: %v", err)
	}
	m := regexp.MustCompile(`AnonHugePages:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Skip("no AnonHugePages in /proc/self/smaps_rollup")
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// TestAdvisorBacksHeap checks the outcome: with the kernel in "madvise"
// mode, a heap that grows after Start is backed by huge pages.
func TestAdvisorBacksHeap(t *testing.T) {
	if m := Mode(); m != "madvise" {
		t.Skipf("transparent huge pages are %q here; the advisor only acts in madvise mode", m)
	}
	before := anonHuge(t)
	a := Start(10*time.Millisecond, 256<<20)
	defer a.Stop()
	if s := a.Status(); s != "madvise (heap advised)" {
		t.Fatalf("status %q", s)
	}
	// 128 MiB of pointer-free heap, written: it should land in the
	// advised reservation.
	var keep [][]byte
	for range 32 {
		b := make([]byte, 4<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
	}
	time.Sleep(50 * time.Millisecond)
	after := anonHuge(t)
	runtime.KeepAlive(keep)
	if after-before < 64<<20 {
		t.Fatalf("AnonHugePages grew by %d MiB for 128 MiB of heap, want at least 64 MiB", (after-before)>>20)
	}
}

func TestStopTwiceAndNil(t *testing.T) {
	var nilA *Advisor
	nilA.Stop()
	if s := nilA.Status(); s != "off" {
		t.Fatalf("nil status %q", s)
	}
	a := Start(time.Millisecond, 0)
	a.Stop()
	a.Stop()
}
