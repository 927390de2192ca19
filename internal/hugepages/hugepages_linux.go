package hugepages

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// madvCollapse is MADV_COLLAPSE (Linux 6.1): back a range with huge pages
// now, copying what is already there.
const madvCollapse = 25

// hugeSize is the size of a transparent huge page on amd64 and arm64.
const hugeSize = 2 << 20

// Advisor marks the process's large anonymous mappings for huge pages, now
// and then every interval until Stop.
type Advisor struct {
	mode     string
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	advised  map[[2]uint64]bool
	errAdv   error
	interval time.Duration
}

// Mode returns the kernel's THP mode ("always", "madvise", "never"), or
// "" when the kernel has no transparent huge pages.
func Mode() string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	for _, f := range strings.Fields(string(b)) {
		if strings.HasPrefix(f, "[") && strings.HasSuffix(f, "]") {
			return strings.Trim(f, "[]")
		}
	}
	return ""
}

// Start advises the current mappings and starts a goroutine that advises
// new ones every interval. Where huge pages are unavailable or already
// used for every mapping (mode "never", "always" or none) it does nothing.
//
// reserve bytes of heap are mapped first, untouched, and advised before any
// of them is used, so the heap grows into huge pages from the start
// instead of being collapsed into them later; at most half the machine's
// memory is reserved. It costs address space, not
// memory: the bytes are freed at once and only backed when the heap
// reuses them.
func Start(interval time.Duration, reserve int) *Advisor {
	a := &Advisor{mode: Mode(), interval: interval, advised: map[[2]uint64]bool{}}
	if a.mode != "madvise" {
		return a
	}
	a.stop, a.done = make(chan struct{}), make(chan struct{})
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err == nil {
		if half := int(uint64(si.Totalram) * uint64(si.Unit) / 2); half > 0 && reserve > half {
			reserve = half
		}
	}
	if reserve > 0 {
		// A large pointer-free allocation comes from fresh mappings the
		// runtime knows are zero: it is not written, so no page is
		// faulted before the advice.
		b := make([]byte, reserve)
		a.sweepWith(false)
		runtime.KeepAlive(b)
		b = nil
		runtime.GC()
	}
	a.sweep()
	go func() {
		defer close(a.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-a.stop:
				return
			case <-t.C:
				a.sweep()
			}
		}
	}()
	return a
}

// Stop ends the advisor's goroutine. It is safe on a nil Advisor.
func (a *Advisor) Stop() {
	if a == nil || a.stop == nil {
		return
	}
	close(a.stop)
	<-a.done
	a.stop = nil
}

// Status says what the advisor does, for a run's summary: the kernel's
// mode and whether mappings are being advised.
func (a *Advisor) Status() string {
	if a == nil {
		return "off"
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.mode == "":
		return "unavailable (no transparent huge pages in this kernel)"
	case a.mode == "always":
		return "always (the kernel's setting)"
	case a.mode == "never":
		return "never (the kernel's setting)"
	case a.errAdv != nil:
		return "madvise: " + a.errAdv.Error()
	}
	return "madvise (heap advised)"
}

// sweep advises every large anonymous read-write mapping not seen yet and
// collapses what was touched before.
func (a *Advisor) sweep() { a.sweepWith(true) }

// sweepWith is sweep, collapsing new mappings into huge pages if collapse.
func (a *Advisor) sweepWith(collapse bool) {
	maps, err := os.ReadFile("/proc/self/maps")
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.errAdv = fmt.Errorf("reading /proc/self/maps: %w", err)
		return
	}
	for _, r := range anonRanges(maps) {
		if a.advised[r] {
			continue
		}
		// Only whole huge pages can be backed by one.
		lo := (r[0] + hugeSize - 1) &^ (hugeSize - 1)
		hi := r[1] &^ (hugeSize - 1)
		if hi <= lo {
			continue
		}
		// The raw call takes the range as numbers: the memory is the
		// runtime's, and this only passes its addresses to the kernel.
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(lo), uintptr(hi-lo), unix.MADV_HUGEPAGE); e != 0 {
			err := error(e)
			a.errAdv = fmt.Errorf("madvise %#x-%#x: %w", lo, hi, err)
			continue
		}
		// Pages touched before the advice stay small: collapse them now
		// (Linux 6.1+; where the kernel cannot, khugepaged does it later).
		if collapse {
			unix.Syscall(unix.SYS_MADVISE, uintptr(lo), uintptr(hi-lo), madvCollapse)
		}
		a.advised[r] = true
	}
}

// anonRanges returns the [start, end) of each private anonymous read-write
// mapping of at least one huge page in a /proc/self/maps listing.
func anonRanges(maps []byte) [][2]uint64 {
	var out [][2]uint64
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// address perms offset dev inode [path]
		if len(f) < 5 || f[1] != "rw-p" || f[4] != "0" || (len(f) > 5 && !strings.HasPrefix(f[5], "[anon")) {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end-start < hugeSize {
			continue
		}
		out = append(out, [2]uint64{start, end})
	}
	return out
}
