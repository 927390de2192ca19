package protocol

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// TestPermissionsSpread: in a small walking community the founder's
// grant, a member's linear message, the revocation and a destroy reach
// every node through the walk and bloom sync alone, and every node ends
// with the founder's verdicts.
func TestPermissionsSpread(t *testing.T) {
	f := newFakeNet()
	def := permDefinition(t)
	tracker := ap("20.0.0.254:6421")
	f.addNode(t, tracker, func(o *Options) { o.Tracker = true })
	var nodes []*Node
	var cs []*Community
	var cid wire.CID
	for i := range 12 {
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{20, 0, 1, byte(i + 1)}), 7759)
		n := f.addNode(t, a, func(o *Options) { o.Trackers = []netip.AddrPort{tracker}; o.Definition = def })
		if i == 0 {
			cid = wire.CID(IDOf(n.scheme.NewKey(testSeed("master", 0)).Public()))
		}
		c, err := n.Join(cid)
		if err != nil {
			t.Fatal(err)
		}
		nodes, cs = append(nodes, n), append(cs, c)
	}
	founder, member := cs[0], cs[1]
	if err := founder.Found(nodes[0].scheme.NewKey(testSeed("master", 0))); err != nil {
		t.Fatal(err)
	}
	f.run(Time(60 * time.Second))
	if _, err := founder.Authorize(Grant{Member: nodes[1].pub, Meta: "protected-full-sync-text", Permissions: PermitPerm}); err != nil {
		t.Fatal(err)
	}
	waitAll := func(what string, limit time.Duration, ok func(c *Community) bool) {
		t.Helper()
		end := f.now.Add(limit)
		for f.now < end {
			f.run(f.now.Add(5 * time.Second))
			all := true
			for _, c := range cs {
				all = all && ok(c)
			}
			if all {
				return
			}
		}
		n := 0
		for _, c := range cs {
			if ok(c) {
				n++
			}
		}
		t.Fatalf("%s: %d of %d nodes after %v", what, n, len(cs), limit)
	}
	waitAll("grant applied", 2*time.Minute, func(c *Community) bool {
		return c.Permitted(nodes[1].mid, "protected-full-sync-text", PermitPerm)
	})
	r, err := member.Publish("protected-full-sync-text", []byte("moderated"))
	if err != nil {
		t.Fatal(err)
	}
	waitAll("linear message in force", 2*time.Minute, func(c *Community) bool {
		return c == member || c.VerdictOf(nodes[1].mid, r.GlobalTime) == InForce
	})
	rv, err := founder.Revoke(Grant{Member: nodes[1].pub, Meta: "protected-full-sync-text", Permissions: PermitPerm})
	if err != nil {
		t.Fatal(err)
	}
	waitAll("revocation applied", 2*time.Minute, func(c *Community) bool {
		return !c.Permitted(nodes[1].mid, "protected-full-sync-text", PermitPerm)
	})
	if _, err := member.Publish("protected-full-sync-text", []byte("after the revoke")); err == nil {
		t.Fatal("a revoked member published a linear message")
	}
	// the message before the revoke stays in force everywhere
	if rv.GlobalTime <= r.GlobalTime {
		t.Fatalf("the revoke (%d) is not after the message (%d)", rv.GlobalTime, r.GlobalTime)
	}
	h := founder.VerdictHash()
	for i, c := range cs {
		if c.VerdictOf(nodes[1].mid, r.GlobalTime) != InForce || c.VerdictHash() != h {
			t.Fatalf("node %d: verdict %v, hash equal %v", i, c.VerdictOf(nodes[1].mid, r.GlobalTime), c.VerdictHash() == h)
		}
	}
	if _, err := founder.Destroy(); err != nil {
		t.Fatal(err)
	}
	waitAll("destroy applied", 2*time.Minute, func(c *Community) bool { return c.Destroyed() })
	for i, c := range cs {
		if n := c.store.Count(tProtected); n != 0 {
			t.Fatalf("node %d keeps %d messages after the destroy", i, n)
		}
	}
}

// TestPermissionsRestart: a node starting on a store that holds a
// permission history rebuilds the timeline, the undo index and every
// verdict from it, and a destroyed community stays destroyed.
func TestPermissionsRestart(t *testing.T) {
	tr := newTrio(t)
	h := buildHistory(t, tr)
	st := NewMemStore(nil)
	mods := func(o *Options) {
		o.Definition = tr.mc.def
		o.Config.WalkInterval, o.Config.StartJitter = time.Hour, 0
		o.OpenStore = func(wire.CID) (Store, error) { return st, nil }
	}
	first := tr.f.addNode(t, ap("20.0.1.1:1"), mods)
	fc := tr.join(t, first)
	for range 4 {
		for _, p := range sortedByGT(h.pkts) {
			first.HandlePacket(ap("20.0.9.9:1"), p.pkt)
		}
		tr.f.run(tr.f.now.Add(time.Second))
	}
	want := fc.VerdictHash()
	first.Stop()
	// scramble the stored marks: the restart must recompute them
	for _, m := range fc.def.StoredMetas() {
		var refs []msgRef
		st.Scan(m.Type, 0, maxGT, false, func(r *Record) bool { refs = append(refs, msgRef{r.Member, r.GlobalTime}); return true })
		for _, r := range refs {
			st.SetUndone(r.member, r.gt, 0)
		}
	}
	again := tr.f.addNode(t, ap("20.0.1.2:1"), mods)
	ac := tr.join(t, again)
	if got := ac.VerdictHash(); got != want {
		t.Fatal("after a restart the verdicts differ")
	}
	if ac.Permitted(IDOf(h.find("A granted").key), "protected-full-sync-text", PermitPerm) != fc.Permitted(IDOf(h.find("A granted").key), "protected-full-sync-text", PermitPerm) {
		t.Fatal("after a restart the timeline differs")
	}
	d := tr.build(tr.master, wire.TypeDestroyCommunity, 200, 0, 0, []byte{wire.DestroyHard})
	again.HandlePacket(ap("20.0.9.9:1"), d)
	if !ac.Destroyed() {
		t.Fatal("the master's destroy did not apply")
	}
	again.Stop()
	third := tr.f.addNode(t, ap("20.0.1.3:1"), mods)
	if c := tr.join(t, third); !c.Destroyed() || c.store.Count(tProtected) != 0 {
		t.Fatal("a destroyed community came back after a restart")
	}
}
