package protocol

import (
	"net/netip"
	"testing"
	"time"
)

// FuzzHandlePacket feeds arbitrary datagrams to a walking node and to a
// tracker: nothing panics, and every datagram is either accepted, held
// back (delayed) or counted as dropped under exactly one reason.
func FuzzHandlePacket(f *testing.F) {
	// seed with real traffic of a small network
	net := newFakeNet()
	net.keep = true
	tr := ap("20.0.0.1:6421")
	net.addNode(f, tr, func(o *Options) { o.Tracker = true })
	for i := 0; i < 4; i++ {
		n := net.addNode(f, ap([]string{"20.0.1.1:1", "20.0.1.2:1", "20.0.1.3:1", "20.0.1.4:1"}[i]),
			func(o *Options) { o.Trackers = []netip.AddrPort{tr}; o.Config.EagerPuncture = i%2 == 0 })
		mustJoin(n)
	}
	net.run(Time(40 * time.Second))
	for i, s := range net.sent {
		if i%7 == 0 {
			f.Add(s.pkt)
		}
	}
	// and permission traffic of a founded community
	pt := newTrio(f, func(o *Options) { o.CoSign = allow })
	for _, p := range buildHistory(nil, pt).pkts {
		f.Add(p.pkt)
	}
	pt.f.sent = nil
	_ = pt.nc.RequestSignature(pt.other.LAN(), "double-signed-full-sync-text", pt.other.pub, []byte("Allow=True"), 0,
		func(*SignatureResult) bool { return true })
	pt.f.run(pt.f.now.Add(time.Second))
	for _, s := range pt.f.sent {
		f.Add(s.pkt)
	}
	f.Add(pt.missingProof(pt.mm.pub, 5))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		fn := newFakeNet()
		node := fn.addNode(t, ap("20.0.2.1:1"), func(o *Options) { o.Trackers = []netip.AddrPort{tr} })
		mustJoin(node)
		trk := fn.addNode(t, tr, func(o *Options) { o.Tracker = true })
		// a member of the founded community, with its definition
		member := fn.addNode(t, ap("20.0.2.2:1"), func(o *Options) { o.Definition = pt.mc.def; o.CoSign = allow })
		if _, err := member.Join(pt.cid); err != nil {
			t.Fatal(err)
		}
		member.HandlePacket(pt.mm.LAN(), pt.founding)
		trk.HandlePacket(pt.node.LAN(), introRequestIn(pt.cid, pt.node, trk, 1, nil)) // the tracker serves it too
		for _, n := range []*Node{node, trk, member} {
			base := n.Stats()
			n.HandlePacket(ap("20.0.3.3:3"), pkt)
			n.HandlePacket(ap("0.0.0.0:0"), pkt)
			s := n.Stats()
			s.Received -= base.Received
			s.Accepted -= base.Accepted
			s.Delayed -= base.Delayed
			for r := range s.Dropped {
				s.Dropped[r] -= base.Dropped[r]
			}
			if s.Received != 2 || s.Accepted+s.TotalDropped()+s.Delayed != s.Received {
				t.Fatalf("received %d, accepted %d, dropped %d, delayed %d: every packet must be accepted, delayed or dropped once",
					s.Received, s.Accepted, s.TotalDropped(), s.Delayed)
			}
		}
		fn.run(Time(20 * time.Second))
	})
}
