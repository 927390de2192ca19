package protocol

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// newIdleCommunity returns a community whose walker is not running, on a
// node at 9.9.9.9:1 (a port of Dispersy's test_candidates fixture).
func newIdleCommunity(t *testing.T, tracker bool) (*fakeNet, *Community) {
	t.Helper()
	f := newFakeNet()
	n := f.addNode(t, ap("9.9.9.9:1"), func(o *Options) { o.Tracker = tracker })
	c := newCommunity(n, testCID)
	n.communities = append(n.communities, c)
	f.now = Time(1000 * time.Second)
	return f, c
}

// addFlagged adds a candidate at 127.0.0.1:port with Dispersy's test flags:
// t tunnel, w walked now, r replied now, e walked 27.5 s ago and replied now,
// s stumbled now, i introduced now, d discovered now.
func addFlagged(c *Community, port uint16, flags string, now Time) *Candidate {
	a := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	x := newCandidate(a, a, a, strings.Contains(flags, "t"), wire.ConnUnknown)
	c.cands.add(x)
	for _, f := range flags {
		switch f {
		case 'w':
			x.lastWalk = now
		case 'r':
			x.lastWalkReply = now
		case 'e':
			x.lastWalk = now.Add(-c.node.cfg.EligibleDelay)
			x.lastWalkReply = now
		case 's':
			x.lastStumble = now
		case 'i':
			x.lastIntro = now
		case 'd':
			x.lastDiscovered = now
		}
	}
	return x
}

func TestCandidateSets(t *testing.T) {
	flagSets := []string{"", "t", "w", "e", "s", "i", "d", "tw", "te", "ts", "ti", "td", "wr", "ws", "wi", "wd",
		"es", "ei", "ed", "si", "sd", "id", "twr", "tws", "twi", "twd", "tes", "tei", "ted", "tsi", "tsd", "tid",
		"wrs", "wri", "wrd", "wsi", "wsd", "wid", "esi", "esd", "eid", "sid", "twrs", "twri", "twrd", "twsi",
		"twsd", "twid", "tesi", "tesd", "teid", "tsid", "wrsi", "wrsd", "wrid", "wsid", "esid", "twrsi", "twrsd",
		"twrid", "twsid", "tesid", "wrsid", "twrsid"}
	for _, flags := range flagSets {
		for _, copies := range []int{1, 2, 22} {
			t.Run(fmt.Sprintf("%d-%q", copies, flags), func(t *testing.T) {
				f, c := newIdleCommunity(t, false)
				cfg := &c.node.cfg
				var cands []*Candidate
				for i := 0; i < copies; i++ {
					cands = append(cands, addFlagged(c, uint16(i+1), flags, f.now))
				}
				has := func(s string) bool { return strings.ContainsAny(flags, s) }
				// verified = s, e or r
				wantVerified := has("ser")
				for _, x := range cands {
					cat := x.Category(f.now, cfg)
					verified := cat == CategoryWalk || cat == CategoryStumble
					if verified != wantVerified {
						t.Fatalf("candidate %v: verified=%v, want %v (category %v)", x.Sock(), verified, wantVerified, cat)
					}
					yielded := verified || cat == CategoryIntro
					if yielded != has("seri") {
						t.Fatalf("candidate %v: yielded=%v, want %v", x.Sock(), yielded, has("seri"))
					}
				}
				// introduce candidates over repeated calls: the verified ones
				seen := map[netip.AddrPort]bool{}
				for i := 0; i < max(10, 2*copies); i++ {
					if x := c.introduceCandidate(nil, f.now); x != nil {
						seen[x.Sock()] = true
					}
				}
				if wantVerified && len(seen) != copies || !wantVerified && len(seen) != 0 {
					t.Fatalf("introduce candidates: got %d distinct, want %d", len(seen), map[bool]int{true: copies}[wantVerified])
				}
				// walk candidates: eligible = e, or s/i/d without w
				wantEligible := has("e") || (has("sid") && !has("w"))
				got := 0
				for i := 0; i < copies+1; i++ {
					x := c.walkCandidate(f.now)
					if x == nil {
						break
					}
					x.lastWalk = f.now
					got++
				}
				if wantEligible && got != copies || !wantEligible && got != 0 {
					t.Fatalf("walk candidates: got %d, want eligible=%v of %d", got, wantEligible, copies)
				}
				if c.walkCandidate(f.now) != nil {
					t.Fatalf("walk candidate after walking to all eligible ones")
				}
			})
		}
	}
}

func TestWalkProbabilities(t *testing.T) {
	f, c := newIdleCommunity(t, false)
	e := addFlagged(c, 1, "e", f.now)
	s := addFlagged(c, 2, "s", f.now)
	i := addFlagged(c, 3, "i", f.now)
	d := addFlagged(c, 4, "d", f.now)
	counts := map[*Candidate]int{}
	for k := 0; k < 10000; k++ {
		counts[c.walkCandidate(f.now)]++
	}
	for _, tc := range []struct {
		name string
		c    *Candidate
		want float64
	}{{"walk", e, 4750}, {"stumble", s, 2375}, {"intro", i, 2375}, {"discovered", d, 500}} {
		if got := float64(counts[tc.c]); got < tc.want*0.9 || got > tc.want*1.1 {
			t.Errorf("%s: chosen %v times, want %v ±10%%", tc.name, got, tc.want)
		}
	}
}

func TestIntroduceProbabilities(t *testing.T) {
	f, c := newIdleCommunity(t, false)
	w := addFlagged(c, 1, "wr", f.now)
	addFlagged(c, 2, "s", f.now)
	n := 0
	for k := 0; k < 10000; k++ {
		if c.introduceCandidate(nil, f.now) == w {
			n++
		}
	}
	if n < 4500 || n > 5499 {
		t.Fatalf("walk candidate introduced %d of 10000 times, want 4500..5499", n)
	}
}

func TestIntroduceRoundRobin(t *testing.T) {
	for _, tracker := range []bool{false, true} {
		t.Run(fmt.Sprintf("tracker=%v", tracker), func(t *testing.T) {
			f, c := newIdleCommunity(t, tracker)
			var cs []*Candidate
			for p := uint16(1); p <= 5; p++ {
				cs = append(cs, addFlagged(c, p, "", f.now))
			}
			pass := func() []string {
				var got []string
				for _, x := range cs {
					x.lastStumble = f.now
					if r := c.introduceCandidate(x, f.now); r == nil {
						got = append(got, "none")
					} else {
						got = append(got, fmt.Sprint(r.Sock().Port()))
					}
				}
				return got
			}
			if got := strings.Join(pass(), ","); got != "none,1,2,3,4" {
				t.Fatalf("first pass = %s, want none,1,2,3,4", got)
			}
			if !tracker {
				return
			}
			if got := strings.Join(pass(), ","); got != "5,1,2,3,4" {
				t.Fatalf("second pass = %s, want 5,1,2,3,4", got)
			}
		})
	}
}

func TestIntroduceExclusions(t *testing.T) {
	f, c := newIdleCommunity(t, false)
	tun := addFlagged(c, 1, "ts", f.now)
	plain := addFlagged(c, 2, "s", f.now)
	for k := 0; k < 50; k++ {
		if r := c.introduceCandidate(plain, f.now); r != nil {
			t.Fatalf("non-tunnelled requester was introduced to %v (tunnelled or itself)", r.Sock())
		}
	}
	if r := c.introduceCandidate(tun, f.now); r != plain {
		t.Fatalf("tunnelled requester got %v, want the plain candidate", r)
	}
	// two symmetric-NAT candidates behind different IPs are never introduced
	f2, c2 := newIdleCommunity(t, false)
	a := addFlagged(c2, 1, "s", f2.now)
	b := addFlagged(c2, 2, "s", f2.now)
	a.ConnType, b.ConnType = wire.ConnSymmetricNAT, wire.ConnSymmetricNAT
	a.wan = endpointOf(ap("1.1.1.1:1"))
	b.wan = endpointOf(ap("2.2.2.2:1"))
	if r := c2.introduceCandidate(a, f2.now); r != nil {
		t.Fatalf("symmetric requester introduced to symmetric %v behind another IP", r.Sock())
	}
	b.wan = endpointOf(ap("1.1.1.1:2"))
	if r := c2.introduceCandidate(a, f2.now); r != b {
		t.Fatalf("symmetric peers behind one IP: got %v, want %v", r, b.Sock())
	}
}

func TestMergeCandidates(t *testing.T) {
	f, c := newIdleCommunity(t, false)
	types := []wire.ConnType{wire.ConnUnknown, wire.ConnSymmetricNAT, wire.ConnSymmetricNAT, wire.ConnUnknown}
	var first *Candidate
	for i, ct := range types {
		port := uint16(i + 1)
		sock := netip.AddrPortFrom(netip.MustParseAddr("1.1.1.1"), port)
		x := newCandidate(sock, ap("192.168.0.1:1"), sock, false, ct)
		x.lastStumble = f.now
		c.cands.add(x)
		if first == nil {
			first = x
		}
	}
	c.filterDuplicates(first)
	if len(c.cands.list) != 1 || c.cands.list[0] != first {
		t.Fatalf("after merging: %d candidates, want only the first", len(c.cands.list))
	}
}

func TestConnectionType(t *testing.T) {
	f, c := newIdleCommunity(t, false)
	n := c.node
	n.prefixes = []netip.Prefix{netip.MustParsePrefix("9.9.9.9/32")}
	clearVotes := func() {
		f.now = f.now.Add(time.Hour)
		c.cleanup(f.now)
		// voters without candidates: drop them by hand, as Dispersy's cleanup does
		n.votes = votes{}
	}
	phase := func(name string, voterIP string, votes func(i int) netip.AddrPort, count int, want wire.ConnType, fromVote int) {
		t.Helper()
		clearVotes()
		for i := 1; i <= count; i++ {
			voter := netip.AddrPortFrom(netip.MustParseAddr(voterIP), uint16(i))
			n.vote(votes(i), voter)
			if i >= fromVote && n.connType != want {
				t.Fatalf("%s: after vote %d connection type %v, want %v", name, i, n.connType, want)
			}
		}
	}
	own := func(int) netip.AddrPort { return n.lan }
	other := func(int) netip.AddrPort { return ap("1.1.1.1:1") }
	sym := func(i int) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("1.1.1.2"), uint16(i)) }
	for k := 0; k < 2; k++ {
		phase("public", "140.0.0.3", own, 5, wire.ConnPublic, 1)
		phase("unknown", "140.0.0.2", other, 1, wire.ConnUnknown, 1)
		phase("public", "140.0.0.3", own, 5, wire.ConnPublic, 1)
		phase("symmetric", "140.0.0.4", sym, 5, wire.ConnSymmetricNAT, 2)
		phase("unknown", "140.0.0.2", other, 1, wire.ConnUnknown, 1)
		phase("symmetric", "140.0.0.4", sym, 5, wire.ConnSymmetricNAT, 2)
	}
}

func TestSymmetricVote(t *testing.T) {
	_, c := newIdleCommunity(t, false)
	n := c.node
	n.prefixes = []netip.Prefix{netip.MustParsePrefix("9.9.9.9/32")}
	n.vote(ap("1.0.0.1:1"), ap("140.0.0.2:1"))
	n.vote(ap("1.0.0.1:2"), ap("140.0.0.2:2"))
	if n.connType != wire.ConnSymmetricNAT {
		t.Fatalf("two addresses from one voter IP: %v, want symmetric-NAT", n.connType)
	}
	n.votes.unvote(ap("140.0.0.2:1"))
	n.votes.unvote(ap("140.0.0.2:2"))
	n.vote(ap("1.0.0.1:1"), ap("140.0.0.3:1"))
	n.vote(ap("1.0.0.1:1"), ap("140.0.0.3:2"))
	if n.connType != wire.ConnUnknown {
		t.Fatalf("one address from two voters: %v, want unknown", n.connType)
	}
	if n.wan != ap("1.0.0.1:1") {
		t.Fatalf("WAN = %v, want 1.0.0.1:1", n.wan)
	}
	// votes from our own LAN are ignored
	n.prefixes = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for i := 0; i < 5; i++ {
		n.vote(ap("5.5.5.5:5"), netip.AddrPortFrom(netip.MustParseAddr("10.0.0.7"), uint16(i+1)))
	}
	if n.wan == ap("5.5.5.5:5") {
		t.Fatalf("votes from LAN voters changed the WAN address")
	}
}

// TestWalkerPublicNetwork runs a tracker and 30 public nodes: every node
// must walk successfully to several others and detect "public".
func TestWalkerPublicNetwork(t *testing.T) {
	f := newFakeNet()
	tracker := ap("20.0.0.1:6421")
	f.addNode(t, tracker, func(o *Options) { o.Tracker = true })
	var nodes []*Node
	for i := 0; i < 30; i++ {
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{20, 0, 1, byte(i + 1)}), 7759)
		n := f.addNode(t, a, func(o *Options) { o.Trackers = []netip.AddrPort{tracker} })
		mustJoin(n)
		nodes = append(nodes, n)
	}
	f.run(Time(3 * time.Minute))
	for _, n := range nodes {
		c := n.Community(testCID)
		walked := 0
		for _, x := range c.Candidates() {
			if x.Category(f.now, n.Config()) == CategoryWalk && !x.Tracker {
				walked++
			}
		}
		if walked < 3 {
			t.Errorf("node %v: %d walk candidates, want >= 3", n.LAN(), walked)
		}
		if n.ConnType() != wire.ConnPublic {
			t.Errorf("node %v: connection type %v, want public", n.LAN(), n.ConnType())
		}
		if n.WAN() != n.LAN() {
			t.Errorf("node %v: WAN %v, want its LAN address", n.LAN(), n.WAN())
		}
		if s := n.Stats(); s.Dropped[wire.ReasonBadSignature] != 0 {
			t.Errorf("node %v: %d bad signatures", n.LAN(), s.Dropped[wire.ReasonBadSignature])
		}
	}
}

// TestWalkTimeout: a candidate that never answers leaves the walk category.
func TestWalkTimeout(t *testing.T) {
	f := newFakeNet()
	a := f.addNode(t, ap("20.0.0.2:1"), nil)
	b := f.addNode(t, ap("20.0.0.3:1"), nil)
	mustJoin(a)
	mustJoin(b)
	c := a.Community(testCID)
	x := newCandidate(b.LAN(), b.LAN(), b.LAN(), false, wire.ConnUnknown)
	x.lastDiscovered = f.now
	c.cands.add(x)
	f.run(Time(6 * time.Second))
	if x.lastWalk == Never || x.Category(f.now, a.Config()) != CategoryWalk {
		t.Fatalf("after a walk step the answering peer should be a walk candidate, got %v", x.Category(f.now, a.Config()))
	}
	f.drop = func(from, to netip.AddrPort, pkt []byte) bool { return true }
	x.lastWalk = Never
	x.lastWalkReply = Never
	x.lastDiscovered = f.now
	f.run(f.now.Add(30 * time.Second))
	if x.lastWalkReply != Never {
		t.Fatalf("walk reply time %v after a timeout, want Never", x.lastWalkReply)
	}
}
