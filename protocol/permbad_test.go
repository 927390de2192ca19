package protocol

import (
	"bytes"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// storeCounts sums a community's stored messages by type.
func storeCounts(c *Community) map[wire.Type]int {
	out := map[wire.Type]int{}
	for _, m := range c.def.StoredMetas() {
		if n := c.store.Count(m.Type); n > 0 {
			out[m.Type] = n
		}
	}
	return out
}

func sameCounts(a, b map[wire.Type]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestPermissionBadInput: every refused permission message is counted by
// its reason and changes neither the store nor a verdict. The receiver is
// MM; messages that need a permitted signer are signed by the master.
func TestPermissionBadInput(t *testing.T) {
	type bad struct {
		name string
		pkt  func(tr *trio) []byte
		want wire.Reason
	}
	cases := []bad{
		{"authorize by a member without the permission", func(tr *trio) []byte {
			return tr.authorize(tr.other.key, 20, 1, false, grant(tr.other, tProtected, wire.PermPermit))
		}, wire.ReasonNotPermitted},
		{"revoke by a member without the permission", func(tr *trio) []byte {
			return tr.authorize(tr.other.key, 20, 1, true, grant(tr.mm, tProtected, wire.PermPermit))
		}, wire.ReasonNotPermitted},
		{"forged proof: the master's key with another's signature", func(tr *trio) []byte {
			p := tr.authorize(tr.master, 20, 2, false, grant(tr.other, tProtected, wire.PermPermit|wire.PermAuthorize))
			forged := tr.authorize(tr.other.key, 20, 2, false, grant(tr.other, tProtected, wire.PermPermit|wire.PermAuthorize))
			sig := tr.node.scheme.SignatureLen()
			return append(bytes.Clone(p[:len(p)-sig]), forged[len(forged)-sig:]...)
		}, wire.ReasonBadSignature},
		{"undo of someone else's message without permission", func(tr *trio) []byte {
			return undoOther(tr, tr.other.key, 30, 1, tr.node.pub, 25)
		}, wire.ReasonNotPermitted},
		{"dynamic-settings from a member without permit", func(tr *trio) []byte {
			return tr.build(tr.other.key, wire.TypeDynamicSettings, 20, 1, 0,
				wire.AppendDynamicSettings(nil, []wire.PolicyChange{{Type: tDynamic, Index: linearPolicy}}))
		}, wire.ReasonNotPermitted},
		{"destroy from a member without permit", func(tr *trio) []byte {
			return tr.build(tr.other.key, wire.TypeDestroyCommunity, 20, 0, 0, []byte{wire.DestroyHard})
		}, wire.ReasonNotPermitted},
		{"authorize naming an unknown type", func(tr *trio) []byte {
			return tr.authorize(tr.master, 20, 2, false, grant(tr.other, 77, wire.PermPermit))
		}, wire.ReasonBadPermission},
		{"authorize of undo on a type without undo", func(tr *trio) []byte {
			return tr.authorize(tr.master, 20, 2, false, grant(tr.other, tPlain, wire.PermUndo))
		}, wire.ReasonBadPermission},
		{"authorize on dispersy-identity", func(tr *trio) []byte {
			return tr.authorize(tr.master, 20, 2, false, grant(tr.other, wire.TypeIdentity, wire.PermPermit))
		}, wire.ReasonBadPermission},
		{"dynamic-settings for a type without dynamic resolution", func(tr *trio) []byte {
			return tr.build(tr.master, wire.TypeDynamicSettings, 20, 1, 0,
				wire.AppendDynamicSettings(nil, []wire.PolicyChange{{Type: tProtected, Index: 0}}))
		}, wire.ReasonBadPolicy},
		{"dynamic-settings naming a policy the type lacks", func(tr *trio) []byte {
			return tr.build(tr.master, wire.TypeDynamicSettings, 20, 1, 0,
				wire.AppendDynamicSettings(nil, []wire.PolicyChange{{Type: tDynamic, Index: 2}}))
		}, wire.ReasonBadPolicy},
		{"undo of a type without undo", func(tr *trio) []byte {
			return undoOwn(tr, tr.node.key, 30, 1, 26)
		}, wire.ReasonNotUndoable},
		{"undo of an authorize", func(tr *trio) []byte {
			return undoOther(tr, tr.master, 30, 1, tr.master.Public(), tr.decode(t, tr.founding).GlobalTime)
		}, wire.ReasonNotUndoable},
		{"soft kill", func(tr *trio) []byte {
			return tr.build(tr.master, wire.TypeDestroyCommunity, 20, 0, 0, []byte{wire.DestroySoft})
		}, wire.ReasonNotWanted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTrio(t)
			// the receiver: NODE's messages at 25 (undoable) and 26 (not)
			tr.give(tr.mm, tr.node, tr.build(tr.node.key, tText, 25, 0, 0, []byte("target")),
				tr.build(tr.node.key, tPlain, 26, 0, 0, []byte("not undoable")))
			counts, hash := storeCounts(tr.mc), tr.mc.VerdictHash()
			dropped := tr.mm.Stats().Dropped
			pkt := tc.pkt(tr)
			tr.give(tr.mm, tr.other, pkt)
			tr.f.run(tr.f.now.Add(tr.mm.cfg.DelayedLifetime + tr.mm.cfg.WalkInterval + 1))
			for r := range wire.NumReasons {
				want := dropped[r]
				if r == tc.want {
					want++
				}
				if got := tr.mm.Stats().Dropped[r]; got != want {
					t.Fatalf("drops of %v: %d, want %d", r, got, want)
				}
			}
			if !sameCounts(storeCounts(tr.mc), counts) || tr.mc.VerdictHash() != hash {
				t.Fatalf("the store changed: %v, was %v", storeCounts(tr.mc), counts)
			}
			if tr.mc.Permitted(tr.other.mid, "protected-full-sync-text", PermitPerm) {
				t.Fatal("OTHER holds permit")
			}
			if got, _ := tr.mc.PolicyAt("dynamic-resolution-text", 50); got != publicPolicy {
				t.Fatal("the policy changed")
			}
			mustVerdict(t, tr.mc, "NODE's message", tr.node.pub, 25, InForce)
		})
	}
}

// TestTrackerRefusesPermissionTraffic: a tracker, which stores nothing,
// refuses permission messages and signature traffic of a community it
// serves.
func TestTrackerRefusesPermissionTraffic(t *testing.T) {
	tr := newTrio(t, func(o *Options) { o.CoSign = allow })
	trk := tr.f.addNode(t, ap("20.0.0.254:6421"), func(o *Options) { o.Tracker = true })
	tr.give(trk, tr.node, introRequestIn(tr.cid, tr.node, trk, 1, nil)) // the tracker joins
	if trk.Community(tr.cid) == nil {
		t.Fatal("the tracker did not join")
	}
	tr.f.sent = nil
	tr.f.keep = true
	if err := tr.nc.RequestSignature(trk.LAN(), "double-signed-text", tr.other.pub, []byte("Allow=True"), 0,
		func(*SignatureResult) bool { return true }); err != nil {
		t.Fatal(err)
	}
	tr.f.run(tr.f.now.Add(time.Second))
	pkts := [][]byte{tr.founding, tr.missingProof(tr.mm.pub, 4)}
	for _, s := range tr.f.sent {
		pkts = append(pkts, s.pkt)
	}
	before := trk.Stats().Dropped[wire.ReasonNotWanted]
	tr.give(trk, tr.node, pkts...)
	if got := trk.Stats().Dropped[wire.ReasonNotWanted] - before; got != uint64(len(pkts)) {
		t.Fatalf("the tracker refused %d of %d packets as not wanted", got, len(pkts))
	}
}
