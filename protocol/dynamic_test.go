package protocol

import (
	"bytes"
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Ports of Dispersy's tests/test_dynamicsettings.py (spec §10) and
// tests/test_destroycommunity.py (spec §11).

const (
	publicPolicy = 0
	linearPolicy = 1
)

func (tr *trio) settings(gt uint64, seq uint32, index uint8) []byte {
	return tr.build(tr.mm.key, wire.TypeDynamicSettings, gt, seq, 0,
		wire.AppendDynamicSettings(nil, []wire.PolicyChange{{Type: tDynamic, Index: index}}))
}

func checkPolicy(t *testing.T, c *Community, lo, hi uint64, want int) {
	t.Helper()
	for gt := lo; gt < hi; gt++ {
		if got, _ := c.PolicyAt("dynamic-resolution-text", gt); got != want {
			t.Fatalf("policy at %d = %d, want %d", gt, got, want)
		}
	}
}

// TestDynamicDefaultResolution ports test_default_resolution: the first
// policy (public) is in force until a setting changes it.
func TestDynamicDefaultResolution(t *testing.T) {
	tr := newTrio(t)
	checkPolicy(t, tr.mc, 1, 50, publicPolicy)
	msg := tr.build(tr.mm.key, tDynamic, 10, 0, publicPolicy, []byte("Message #10"))
	tr.give(tr.other, tr.mm, msg)
	mustVerdict(t, tr.oc, "message under the default policy", tr.mm.pub, 10, InForce)
}

// TestChangeResolution ports test_change_resolution: a switch to linear
// at 42 governs messages from 43 on; receivers decide by their own
// timeline, whatever index the creator wrote.
func TestChangeResolution(t *testing.T) {
	tr := newTrio(t)
	s, err := tr.mc.SetPolicy("dynamic-resolution-text", linearPolicy)
	if err != nil {
		t.Fatal(err)
	}
	tr.give(tr.node, tr.mm, s.Packet)
	tr.give(tr.other, tr.mm, s.Packet)
	T := s.GlobalTime
	if got, _ := tr.nc.PolicyAt("dynamic-resolution-text", T+1); got != linearPolicy {
		t.Fatalf("NODE's policy at %d = %d, want linear", T+1, got)
	}
	for _, tc := range []struct {
		gt     uint64
		policy uint8
		want   Verdict
	}{
		{T, publicPolicy, InForce},    // the switch takes effect at T+1
		{T + 1, publicPolicy, Absent}, // linear in force
		{T + 2, linearPolicy, Absent}, // the right index, but NODE holds no permit
		{T + 3, publicPolicy, Absent},
	} {
		tr.give(tr.other, tr.node, tr.build(tr.node.key, tDynamic, tc.gt, 0, tc.policy, []byte("m")))
		mustVerdict(t, tr.oc, "NODE's dynamic message", tr.node.pub, tc.gt, tc.want)
	}
}

// TestChangeResolutionUndo ports test_change_resolution_undo: a switch to
// linear undoes a public message in its range, a switch back redoes it.
func TestChangeResolutionUndo(t *testing.T) {
	tr := newTrio(t)
	toLinear, toPublic := tr.settings(11, 1, linearPolicy), tr.settings(21, 2, publicPolicy)
	checkPolicy(t, tr.oc, 1, 32, publicPolicy)
	tr.give(tr.other, tr.node, tr.build(tr.node.key, tDynamic, 25, 0, publicPolicy, []byte("Message #25")))
	mustVerdict(t, tr.oc, "message", tr.node.pub, 25, InForce)
	tr.give(tr.other, tr.mm, toLinear)
	checkPolicy(t, tr.oc, 1, 12, publicPolicy)
	checkPolicy(t, tr.oc, 12, 32, linearPolicy)
	mustVerdict(t, tr.oc, "message after the switch to linear", tr.node.pub, 25, Refused)
	tr.give(tr.other, tr.mm, toPublic)
	checkPolicy(t, tr.oc, 1, 12, publicPolicy)
	checkPolicy(t, tr.oc, 12, 22, linearPolicy)
	checkPolicy(t, tr.oc, 22, 32, publicPolicy)
	mustVerdict(t, tr.oc, "message after the switch back", tr.node.pub, 25, InForce)
}

// TestChangeResolutionReject ports test_change_resolution_reject: under
// linear the message waits, its proof asked for; the switch back to public
// lets it in.
func TestChangeResolutionReject(t *testing.T) {
	tr := newTrio(t)
	toLinear, toPublic := tr.settings(11, 1, linearPolicy), tr.settings(21, 2, publicPolicy)
	tr.give(tr.other, tr.mm, toLinear)
	mark := len(tr.f.sent)
	tr.give(tr.other, tr.node, tr.build(tr.node.key, tDynamic, 25, 0, publicPolicy, []byte("Message #25")))
	if got := len(tr.sent(tr.other, tr.node, mark, wire.TypeMissingProof)); got != 1 {
		t.Fatalf("OTHER sent NODE %d missing-proof, want 1", got)
	}
	mustVerdict(t, tr.oc, "message under linear", tr.node.pub, 25, Absent)
	tr.give(tr.other, tr.mm, toPublic)
	mustVerdict(t, tr.oc, "message after the switch back", tr.node.pub, 25, InForce)
}

// TestChangeResolutionSendProof ports test_change_resolution_send_proof:
// refusing a dynamic message, the receiver sends the sender the settings
// it decided by.
func TestChangeResolutionSendProof(t *testing.T) {
	tr := newTrio(t)
	toLinear, toPublic := tr.settings(11, 1, linearPolicy), tr.settings(21, 2, publicPolicy)
	tr.give(tr.other, tr.mm, toLinear, toPublic)
	checkPolicy(t, tr.oc, 1, 12, publicPolicy)
	checkPolicy(t, tr.oc, 12, 22, linearPolicy)
	checkPolicy(t, tr.oc, 22, 32, publicPolicy)
	mark := len(tr.f.sent)
	tr.give(tr.other, tr.node, tr.build(tr.node.key, tDynamic, 12, 0, publicPolicy, []byte("Message #12")))
	got := tr.sent(tr.other, tr.node, mark, wire.TypeDynamicSettings)
	if len(got) != 1 || !bytes.Equal(got[0], toLinear) {
		t.Fatalf("OTHER sent NODE %d dynamic-settings, want the switch to linear", len(got))
	}
}

// TestHardKill ports test_hard_kill: a destroy from a member holding
// permit wipes the community's messages; the community then keeps only
// the destroy chain, stops walking and answers introduction-requests
// with the destroy message.
func TestHardKill(t *testing.T) {
	tr := newTrio(t)
	r, err := tr.nc.Publish("full-sync-text", []byte("Should be removed"))
	if err != nil {
		t.Fatal(err)
	}
	if n := tr.nc.store.Count(tText); n != 1 {
		t.Fatalf("count %d, want 1", n)
	}
	d, err := tr.mc.Destroy()
	if err != nil {
		t.Fatal(err)
	}
	tr.give(tr.node, tr.mm, d.Packet)
	if n := tr.nc.store.Count(tText); n != 0 {
		t.Fatalf("after the destroy: count %d, want 0", n)
	}
	if !tr.nc.Destroyed() {
		t.Fatal("NODE's community is not destroyed")
	}
	mustVerdict(t, tr.nc, "NODE's message", tr.node.pub, r.GlobalTime, Absent)
	// kept: the destroy, its proof (the founding authorize) and the
	// identities of the chain's signers held: at NODE its own only
	// (identities travel on demand), at MM its own and the master's
	kept := func(c *Community) []wire.Type {
		var out []wire.Type
		for _, m := range c.def.StoredMetas() {
			c.store.Scan(m.Type, 0, maxGT, false, func(r *Record) bool { out = append(out, r.Meta); return true })
		}
		return out
	}
	for _, tc := range []struct {
		c    *Community
		want []wire.Type
	}{
		{tr.nc, []wire.Type{wire.TypeAuthorize, wire.TypeDestroyCommunity, wire.TypeIdentity}},
		{tr.mc, []wire.Type{wire.TypeAuthorize, wire.TypeDestroyCommunity, wire.TypeIdentity, wire.TypeIdentity}},
	} {
		if got := kept(tc.c); !slices.Equal(got, tc.want) {
			t.Fatalf("kept %v, want %v", got, tc.want)
		}
	}
	mark := len(tr.f.sent)
	tr.give(tr.node, tr.other, introRequestIn(tr.cid, tr.other, tr.node, 1, nil))
	ans := tr.sent(tr.node, tr.other, mark, 0)
	if len(ans) != 1 || !bytes.Equal(ans[0], d.Packet) {
		t.Fatalf("a destroyed community answered an introduction-request with %d packets, want the destroy", len(ans))
	}
	// it answers for the destroy's proof
	mark = len(tr.f.sent)
	tr.give(tr.node, tr.other, tr.missingProof(tr.mm.pub, d.GlobalTime))
	if got := tr.sent(tr.node, tr.other, mark, wire.TypeAuthorize); len(got) != 1 || !bytes.Equal(got[0], tr.founding) {
		t.Fatalf("a destroyed community answered a missing-proof of the destroy with %d authorizes, want the founding one", len(got))
	}
	before := tr.node.Stats().Dropped[wire.ReasonDestroyed]
	tr.give(tr.node, tr.other, tr.build(tr.other.key, tText, 60, 0, 0, []byte("late")))
	if tr.node.Stats().Dropped[wire.ReasonDestroyed] != before+1 {
		t.Fatal("a message for a destroyed community was not refused as destroyed")
	}
	if _, err := tr.nc.Publish("full-sync-text", []byte("x")); err == nil {
		t.Fatal("publish in a destroyed community succeeded")
	}
}

// TestHardKillWithoutPermission ports test_hard_kill_without_permission:
// a destroy from a member without permit waits for a proof that never
// comes, is refused (not_permitted), and deletes nothing.
func TestHardKillWithoutPermission(t *testing.T) {
	tr := newTrio(t)
	if _, err := tr.nc.Publish("full-sync-text", []byte("Should not be removed")); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.oc.Destroy(); err == nil {
		t.Fatal("OTHER's Destroy succeeded without permit")
	}
	d := tr.build(tr.other.key, wire.TypeDestroyCommunity, 30, 0, 0, []byte{wire.DestroyHard})
	tr.give(tr.node, tr.mm, d)
	tr.f.run(tr.f.now.Add(tr.node.cfg.DelayedLifetime + tr.node.cfg.WalkInterval))
	if n := tr.nc.store.Count(tText); n != 1 || tr.nc.Destroyed() {
		t.Fatalf("count %d, destroyed %v; want 1, false", n, tr.nc.Destroyed())
	}
	if tr.node.Stats().Dropped[wire.ReasonNotPermitted] != 1 {
		t.Fatalf("drops %v, want one not_permitted", tr.node.Stats().Dropped)
	}
	// a soft kill (which Dispersy leaves unimplemented) is refused at once
	soft := tr.build(tr.mm.key, wire.TypeDestroyCommunity, 31, 0, 0, []byte{wire.DestroySoft})
	tr.give(tr.node, tr.mm, soft)
	if tr.nc.Destroyed() || tr.nc.store.Count(wire.TypeDestroyCommunity) != 0 {
		t.Fatal("a soft kill was applied or stored")
	}
}
