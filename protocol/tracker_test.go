package protocol

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// TestTrackerCleanupStrikes runs Dispersy's strike rule: a community whose
// peers went quiet is left at the third sweep without a verified
// candidate, one that is still walked to is kept, and the tracker joins a
// left community again when a peer walks to it there.
func TestTrackerCleanupStrikes(t *testing.T) {
	f := newFakeNet()
	trackerAddr := ap("1.0.0.100:6421")
	tr := f.addNode(t, trackerAddr, func(o *Options) { o.Tracker = true })
	var unloaded []wire.CID
	tc, err := NewTrackerCleanup(tr, DefaultTrackerCleanupInterval, DefaultTrackerStrikes,
		func(cid wire.CID) { unloaded = append(unloaded, cid) })
	if err != nil {
		t.Fatal(err)
	}
	tc.Start()
	quiet, busy := wire.CID{0xAA}, wire.CID{0xBB}
	var quietNodes []*Node
	for i := range 4 {
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{1, 0, 0, byte(i + 1)}), 7759)
		n := f.addNode(t, a, func(o *Options) { o.Trackers = []netip.AddrPort{trackerAddr} })
		cid := quiet
		if i >= 2 {
			cid = busy
		} else {
			quietNodes = append(quietNodes, n)
		}
		if _, err := n.Join(cid); err != nil {
			t.Fatal(err)
		}
	}
	// Both communities are active through the first sweep (180 s).
	f.run(Time(200 * time.Second))
	for _, cid := range []wire.CID{quiet, busy} {
		if tr.Community(cid) == nil {
			t.Fatalf("tracker has not joined community %x", cid[:1])
		}
		if s := tc.Strikes(cid); s != 0 {
			t.Fatalf("community %x: %d strikes after an active interval, want 0", cid[:1], s)
		}
	}
	for _, n := range quietNodes {
		n.Stop()
	}
	// Sweeps at 360 s, 540 s and 720 s find the quiet community without a
	// verified candidate (its last stumble was before 200 s).
	tests := []struct {
		until   time.Duration
		strikes int
		joined  bool
	}{
		{370 * time.Second, 1, true},
		{550 * time.Second, 2, true},
		{719 * time.Second, 2, true},
		{721 * time.Second, 0, false},
	}
	for _, tt := range tests {
		f.run(Time(tt.until))
		if got := tr.Community(quiet) != nil; got != tt.joined {
			t.Fatalf("at %v: quiet community joined = %v, want %v", tt.until, got, tt.joined)
		}
		if s := tc.Strikes(quiet); s != tt.strikes {
			t.Fatalf("at %v: quiet community has %d strikes, want %d", tt.until, s, tt.strikes)
		}
		if tr.Community(busy) == nil || tc.Strikes(busy) != 0 {
			t.Fatalf("at %v: busy community joined = %v with %d strikes, want joined with 0",
				tt.until, tr.Community(busy) != nil, tc.Strikes(busy))
		}
	}
	if !slices.Equal(unloaded, []wire.CID{quiet}) || tc.Unloaded() != 1 {
		t.Fatalf("unloaded %x (count %d), want only the quiet community", unloaded, tc.Unloaded())
	}
	// A peer walking to the tracker in the quiet community brings it back.
	back := f.addNode(t, ap("1.0.0.9:7759"), func(o *Options) { o.Trackers = []netip.AddrPort{trackerAddr} })
	if _, err := back.Join(quiet); err != nil {
		t.Fatal(err)
	}
	f.run(Time(760 * time.Second))
	c := tr.Community(quiet)
	if c == nil {
		t.Fatal("tracker did not join the quiet community again")
	}
	if len(c.Candidates()) != 1 || c.Candidates()[0].Sock() != ap("1.0.0.9:7759") {
		t.Fatalf("rejoined community's candidates: %d, want only the new walker", len(c.Candidates()))
	}
}

func TestLeave(t *testing.T) {
	f := newFakeNet()
	n := f.addNode(t, ap("1.0.0.1:1"), nil)
	a, b := wire.CID{1}, wire.CID{2}
	for _, cid := range []wire.CID{a, b} {
		if _, err := n.Join(cid); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		cid    wire.CID
		want   bool
		remain int
	}{
		{wire.CID{3}, false, 2},
		{a, true, 1},
		{a, false, 1},
		{b, true, 0},
	}
	for _, tt := range tests {
		if got := n.Leave(tt.cid); got != tt.want {
			t.Fatalf("Leave(%x) = %v, want %v", tt.cid[:1], got, tt.want)
		}
		if len(n.Communities()) != tt.remain || n.Community(tt.cid) != nil {
			t.Fatalf("after Leave(%x): %d communities (want %d), community still found: %v",
				tt.cid[:1], len(n.Communities()), tt.remain, n.Community(tt.cid) != nil)
		}
	}
	if n.Community(b) != nil {
		t.Fatal("the last community is still found")
	}
	// no timer of a left community fires into it: the node sends nothing
	sent := n.Stats().Sent
	f.run(Time(time.Minute))
	if n.Stats().Sent != sent {
		t.Fatalf("a node with no community sent %d packets", n.Stats().Sent-sent)
	}
	if _, err := NewTrackerCleanup(n, time.Second, 3, nil); err == nil {
		t.Fatal("NewTrackerCleanup accepted a node that is not a tracker")
	}
}
