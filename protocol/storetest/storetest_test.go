package storetest_test

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/storetest"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

func TestRunMemStore(t *testing.T) {
	storetest.Run(t, func() protocol.Store { return protocol.NewMemStore(nil) })
}

// broken wraps a MemStore and plants one bug, to check that the suite
// notices it.
type broken struct {
	protocol.Store
	bug    string
	shared protocol.Record // scan-shared-record: one record for every callback
	metas  map[wire.Type]bool
	flip   bool
	cache  map[key][]protocol.Record
	counts map[wire.Type]int
	alias  map[key][]byte
}

type key struct {
	m    protocol.MemberID
	meta wire.Type
	gt   uint64
}

var bugs = []string{
	"put-overwrites",
	"put-other-meta-ignored",
	"put-keeps-packet",
	"delete-always-true",
	"scan-ignores-desc",
	"scan-hi-exclusive",
	"scan-max-hi-empty",
	"scan-ignores-stop",
	"scan-tie-order-flips",
	"scan-tie-order-reversed",
	"scan-shared-record",
	"scanmember-descending",
	"scanmember-stale",
	"keepnewest-keeps-oldest",
	"keepnewest-returns-0",
	"deleteupto-off-by-one",
	"count-stale",
	"globaltime-lowered",
	"sequence-truncated",
	"setundone-ignored",
	"undone-lost-on-put",
	"digests-include-undone",
}

func newBroken(bug string) *broken {
	return &broken{Store: protocol.NewMemStore(nil), bug: bug, metas: map[wire.Type]bool{},
		cache: map[key][]protocol.Record{}, counts: map[wire.Type]int{}, alias: map[key][]byte{}}
}

func (b *broken) Put(r *protocol.Record) (uint64, error) {
	clear(b.cache)
	clear(b.counts)
	b.metas[r.Meta] = true
	if old, ok := b.Store.Get(r.Member, r.GlobalTime); ok {
		switch {
		case b.bug == "put-overwrites":
			b.Store.Delete(r.Member, r.GlobalTime)
		case b.bug == "put-other-meta-ignored" && old.Meta != r.Meta:
			return old.ID, nil
		}
	}
	if b.bug == "undone-lost-on-put" && r.Undone != 0 {
		c := *r
		c.Undone = 0
		id, err := b.Store.Put(&c)
		r.ID = c.ID
		return id, err
	}
	id, err := b.Store.Put(r)
	if err == nil && b.bug == "put-keeps-packet" {
		b.alias[key{r.Member, 0, r.GlobalTime}] = r.Packet
	}
	return id, err
}

func (b *broken) SetUndone(m protocol.MemberID, gt uint64, by uint64) bool {
	clear(b.cache)
	if b.bug == "setundone-ignored" {
		_, ok := b.Store.Get(m, gt)
		return ok
	}
	return b.Store.SetUndone(m, gt, by)
}

// AppendDigests lets the suite see the MemStore's DigestScanner.
func (b *broken) AppendDigests(dst []protocol.DigestEntry, meta wire.Type, lo, hi uint64) []protocol.DigestEntry {
	if b.bug == "digests-include-undone" {
		b.Store.Scan(meta, lo, hi, false, func(r *protocol.Record) bool {
			dst = append(dst, protocol.DigestEntry{ID: r.ID, GlobalTime: r.GlobalTime, Digest: r.Digest})
			return true
		})
		return dst
	}
	return b.Store.(protocol.DigestScanner).AppendDigests(dst, meta, lo, hi)
}

// PacketOf implements protocol.DigestScanner.
func (b *broken) PacketOf(id uint64) []byte { return b.Store.(protocol.DigestScanner).PacketOf(id) }

func (b *broken) Get(m protocol.MemberID, gt uint64) (protocol.Record, bool) {
	r, ok := b.Store.Get(m, gt)
	if p, found := b.alias[key{m, 0, gt}]; ok && found {
		r.Packet = p
	}
	if b.bug == "sequence-truncated" {
		r.Sequence = uint32(uint16(r.Sequence))
	}
	return r, ok
}

func (b *broken) Delete(m protocol.MemberID, gt uint64) bool {
	clear(b.cache)
	if b.bug != "count-stale" { // the planted bug: deletes leave Count stale
		clear(b.counts)
	}
	delete(b.alias, key{m, 0, gt})
	return b.Store.Delete(m, gt) || b.bug == "delete-always-true"
}

func (b *broken) Scan(meta wire.Type, lo, hi uint64, desc bool, fn func(*protocol.Record) bool) {
	switch b.bug {
	case "scan-ignores-desc":
		desc = false
	case "scan-hi-exclusive":
		if hi > lo {
			hi--
		}
	case "scan-max-hi-empty":
		if hi == math.MaxUint64 && lo > 0 {
			return
		}
	case "scan-shared-record": // nested scans clobber the outer record
		b.Store.Scan(meta, lo, hi, desc, func(r *protocol.Record) bool { b.shared = *r; return fn(&b.shared) })
		return
	case "scan-ignores-stop":
		b.Store.Scan(meta, lo, hi, desc, func(r *protocol.Record) bool { fn(r); return true })
		return
	case "scan-tie-order-flips", "scan-tie-order-reversed":
		var rs []protocol.Record
		b.Store.Scan(meta, lo, hi, desc, func(r *protocol.Record) bool {
			c := *r
			c.Packet = bytes.Clone(r.Packet)
			rs = append(rs, c)
			return true
		})
		if b.flip || b.bug == "scan-tie-order-reversed" { // reversed: a fixed order, but not by member id
			for i := 0; i < len(rs); {
				j := i
				for j < len(rs) && rs[j].GlobalTime == rs[i].GlobalTime {
					j++
				}
				slices.Reverse(rs[i:j])
				i = j
			}
		}
		b.flip = !b.flip
		for i := range rs {
			if !fn(&rs[i]) {
				return
			}
		}
		return
	}
	// Hand fn a copy, so nested reads cannot clobber it (the MemStore
	// underneath reuses one Record).
	b.Store.Scan(meta, lo, hi, desc, func(r *protocol.Record) bool { c := *r; return fn(&c) })
}

func (b *broken) ScanMember(m protocol.MemberID, meta wire.Type, fn func(*protocol.Record) bool) {
	var rs []protocol.Record
	k := key{m, meta, 0}
	if c, ok := b.cache[k]; ok && b.bug == "scanmember-stale" {
		rs = c
	} else {
		b.Store.ScanMember(m, meta, func(r *protocol.Record) bool {
			c := *r
			c.Packet = bytes.Clone(r.Packet)
			rs = append(rs, c)
			return true
		})
		b.cache[k] = rs
	}
	if b.bug == "scanmember-descending" {
		rs = slices.Clone(rs)
		slices.Reverse(rs)
	}
	for i := range rs {
		if !fn(&rs[i]) {
			return
		}
	}
}

func (b *broken) KeepNewest(m protocol.MemberID, meta wire.Type, n int) int {
	clear(b.counts)
	switch b.bug {
	case "keepnewest-keeps-oldest":
		var gts []uint64
		b.Store.ScanMember(m, meta, func(r *protocol.Record) bool { gts = append(gts, r.GlobalTime); return true })
		d := 0
		for i := len(gts) - 1; i >= max(n, 0); i-- {
			b.Store.Delete(m, gts[i])
			d++
		}
		return d
	case "keepnewest-returns-0":
		b.Store.KeepNewest(m, meta, n)
		return 0
	}
	return b.Store.KeepNewest(m, meta, n)
}

func (b *broken) DeleteUpTo(meta wire.Type, gt uint64) int {
	clear(b.counts)
	if b.bug == "deleteupto-off-by-one" && gt > 0 {
		gt--
	}
	return b.Store.DeleteUpTo(meta, gt)
}

func (b *broken) Count(meta wire.Type) int {
	if n, ok := b.counts[meta]; ok && b.bug == "count-stale" {
		return n
	}
	n := b.Store.Count(meta)
	b.counts[meta] = n
	return n
}

func (b *broken) GlobalTime() uint64 {
	if b.bug != "globaltime-lowered" {
		return b.Store.GlobalTime()
	}
	var g uint64
	for meta := range b.metas {
		b.Store.Scan(meta, 0, math.MaxUint64, true, func(r *protocol.Record) bool {
			g = max(g, r.GlobalTime)
			return false
		})
	}
	return g
}

// TestBrokenStore runs the suite against one broken store; it is run in a
// child process by TestSuiteCatchesStoreBugs.
func TestBrokenStore(t *testing.T) {
	bug := os.Getenv("STORETEST_BUG")
	if bug == "" {
		t.Skip("run by TestSuiteCatchesStoreBugs")
	}
	if bug != "none" && !slices.Contains(bugs, bug) {
		t.Fatalf("unknown bug %q", bug)
	}
	storetest.Run(t, func() protocol.Store { return newBroken(bug) })
}

// TestSuiteCatchesStoreBugs checks that the suite fails each planted bug (and
// passes the wrapper without one).
func TestSuiteCatchesStoreBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	failed := regexp.MustCompile(`--- FAIL: TestBrokenStore/(\S+)`)
	for _, bug := range append([]string{"none"}, bugs...) {
		t.Run(bug, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(exe, "-test.run=^TestBrokenStore$", "-test.count=1", "-test.short")
			cmd.Env = append(os.Environ(), "STORETEST_BUG="+bug)
			out, err := cmd.CombinedOutput()
			if bug == "none" {
				if err != nil {
					t.Fatalf("suite failed the wrapper without a bug: %v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("suite passed a store with bug %q", bug)
			}
			var names []string
			for _, m := range failed.FindAllSubmatch(out, -1) {
				names = append(names, string(m[1]))
			}
			if len(names) == 0 {
				t.Fatalf("child failed without a failing subtest: %v\n%s", err, out)
			}
			t.Logf("caught by %v", names)
		})
	}
}
