package protocol

import (
	"bytes"
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Ports of Dispersy's tests/test_undo.py (spec/dispersy-tests.md §9).

func undoOwn(tr *trio, key PrivateKey, gt uint64, seq uint32, target uint64) []byte {
	return tr.build(key, wire.TypeUndoOwn, gt, seq, 0, wire.AppendUndoOwn(nil, target))
}

func undoOther(tr *trio, key PrivateKey, gt uint64, seq uint32, of []byte, target uint64) []byte {
	return tr.build(key, wire.TypeUndoOther, gt, seq, 0, wire.AppendUndoOther(nil, of, target))
}

// TestSelfUndoOwn ports test_self_undo_own: a member undoes its own ten
// messages; at the member and at a receiver they are undone, the undo
// messages stored, and undone messages are no longer offered in sync.
func TestSelfUndoOwn(t *testing.T) {
	tr := newTrio(t)
	var msgs, undos [][]byte
	for i := range 10 {
		msgs = append(msgs, tr.build(tr.node.key, tText, uint64(10+i), 0, 0, []byte{byte(i)}))
		undos = append(undos, undoOwn(tr, tr.node.key, uint64(100+i), uint32(i+1), uint64(10+i)))
	}
	tr.give(tr.other, tr.node, msgs...)
	for i := range 10 {
		mustVerdict(t, tr.oc, "message before its undo", tr.node.pub, uint64(10+i), InForce)
	}
	tr.give(tr.other, tr.node, undos...)
	for i := range 10 {
		mustVerdict(t, tr.oc, "undone message", tr.node.pub, uint64(10+i), UndoneByUndo)
		mustVerdict(t, tr.oc, "undo message", tr.node.pub, uint64(100+i), InForce)
	}
	// the API on the creator's side
	r, err := tr.nc.Publish("full-sync-text", []byte("mine"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := tr.nc.Undo(tr.node.mid, r.GlobalTime)
	if err != nil {
		t.Fatal(err)
	}
	if u.Meta != wire.TypeUndoOwn {
		t.Fatalf("undo of an own message is %v, want dispersy-undo-own", u.Meta)
	}
	mustVerdict(t, tr.nc, "own message after Undo", tr.node.pub, r.GlobalTime, UndoneByUndo)
	// undone messages are left out of sync answers (asked from an address
	// where nothing answers back)
	mark := len(tr.f.sent)
	asker := ap("20.0.0.77:1")
	tr.other.HandlePacket(asker, introRequestIn(tr.cid, tr.mm, tr.other, 1, &wire.SyncBlock{TimeLow: 1, Modulo: 1}))
	undosSent := 0
	for _, s := range tr.f.sent[mark:] {
		if s.to != asker {
			continue
		}
		switch p := tr.decode(t, s.pkt); p.Type {
		case tText:
			t.Fatalf("OTHER's sync answer holds NODE's undone message at %d", p.GlobalTime)
		case wire.TypeUndoOwn:
			undosSent++
		}
	}
	if undosSent != 10 {
		t.Fatalf("OTHER's sync answer holds %d undo messages, want the 10", undosSent)
	}
}

// TestNodeUndoOther ports test_node_undo_other: MM grants NODE undo on
// full-sync-text; NODE undoes OTHER's ten messages.
func TestNodeUndoOther(t *testing.T) {
	tr := newTrio(t)
	auth, err := tr.mc.Authorize(Grant{Member: tr.node.pub, Meta: "full-sync-text", Permissions: UndoPerm})
	if err != nil {
		t.Fatal(err)
	}
	tr.give(tr.node, tr.mm, auth.Packet)
	tr.give(tr.other, tr.mm, auth.Packet)
	var msgs [][]byte
	for i := range 10 {
		msgs = append(msgs, tr.build(tr.other.key, tText, uint64(10+i), 0, 0, []byte{byte(i)}))
	}
	tr.give(tr.node, tr.other, msgs...)
	var undos [][]byte
	for i := range 10 {
		mustVerdict(t, tr.nc, "message before its undo", tr.other.pub, uint64(10+i), InForce)
		u, err := tr.nc.Undo(tr.other.mid, uint64(10+i))
		if err != nil {
			t.Fatal(err)
		}
		if u.Meta != wire.TypeUndoOther {
			t.Fatalf("undo of another's message is %v, want dispersy-undo-other", u.Meta)
		}
		undos = append(undos, u.Packet)
		mustVerdict(t, tr.nc, "undone message", tr.other.pub, uint64(10+i), UndoneByUndo)
	}
	// a third node applies NODE's undos (OTHER refuses its own messages
	// coming back, as every node does)
	tr.give(tr.mm, tr.other, msgs...)
	tr.give(tr.mm, tr.node, undos...)
	for i := range 10 {
		mustVerdict(t, tr.mc, "MM's view of an undone message", tr.other.pub, uint64(10+i), UndoneByUndo)
	}
}

// TestSelfAttemptUndoTwice ports test_self_attempt_undo_twice: a second
// Undo of one message gives back the first undo.
func TestSelfAttemptUndoTwice(t *testing.T) {
	tr := newTrio(t)
	r, err := tr.nc.Publish("full-sync-text", []byte("Should undo"))
	if err != nil {
		t.Fatal(err)
	}
	u1, err1 := tr.nc.Undo(tr.node.mid, r.GlobalTime)
	u2, err2 := tr.nc.Undo(tr.node.mid, r.GlobalTime)
	if err1 != nil || err2 != nil || !bytes.Equal(u1.Packet, u2.Packet) {
		t.Fatalf("two undos: %v, %v, same packet %v", err1, err2, bytes.Equal(u1.Packet, u2.Packet))
	}
}

// TestNodeResolveUndoTwice ports test_node_resolve_undo_twice: of two
// undo-own of one message, both are stored, the lower packet undoes the
// message and the higher, and a receiver holding the lower sends it back
// to whoever sent the higher.
func TestNodeResolveUndoTwice(t *testing.T) {
	tr := newTrio(t)
	tr.give(tr.other, tr.mm, tr.authorize(tr.mm.key, 5, 1, false, grant(tr.node, tText, wire.PermUndo)))
	msg := tr.build(tr.node.key, tText, 10, 0, 0, []byte("Should undo @10"))
	u1 := undoOwn(tr, tr.node.key, 11, 1, 10)
	u2 := undoOwn(tr, tr.node.key, 12, 2, 10)
	low, high := u1, u2
	if bytes.Compare(u2, u1) < 0 {
		low, high = u2, u1
	}
	mark := len(tr.f.sent)
	tr.give(tr.other, tr.node, msg, low, high)
	back := tr.sent(tr.other, tr.node, mark, 0)
	if len(back) != 1 || !bytes.Equal(back[0], low) {
		t.Fatalf("OTHER sent NODE %d packets, want exactly the lower undo", len(back))
	}
	if n := tr.oc.store.Count(wire.TypeUndoOwn); n != 2 {
		t.Fatalf("OTHER stores %d undo-own, want both", n)
	}
	lowR, _ := tr.oc.store.Get(tr.node.mid, tr.decode(t, low).GlobalTime)
	highR, _ := tr.oc.store.Get(tr.node.mid, tr.decode(t, high).GlobalTime)
	m, _ := tr.oc.store.Get(tr.node.mid, 10)
	if lowR.Undone != 0 || highR.Undone != lowR.ID || m.Undone != lowR.ID {
		t.Fatalf("low undone %d, high undone %d, message undone %d; want 0, %d, %d",
			lowR.Undone, highR.Undone, m.Undone, lowR.ID, lowR.ID)
	}
}

// TestUndoMissingMessage ports test_missing_message: undos whose targets
// are not stored wait for them and ask for them (missing-message); once
// the targets arrive they are stored undone and the undos stored. Messages
// are handled one at a time here (Dispersy checks a batch together), so
// the first undo asks for its target and the later ones, out of sequence
// behind it, wait for it.
func TestUndoMissingMessage(t *testing.T) {
	tr := newTrio(t)
	var msgs, undos [][]byte
	for i := range 10 {
		msgs = append(msgs, tr.build(tr.node.key, tText, uint64(10+i), 0, 0, []byte{byte(i)}))
		undos = append(undos, undoOwn(tr, tr.node.key, uint64(110+i), uint32(i+1), uint64(10+i)))
	}
	mark := len(tr.f.sent)
	tr.give(tr.other, tr.node, undos...)
	var asked []uint64
	for _, pk := range tr.sent(tr.other, tr.node, mark, wire.TypeMissingMessage) {
		mm := tr.decode(t, pk).MissingMessage
		if !bytes.Equal(mm.Key, tr.node.pub) {
			t.Fatal("missing-message names another member")
		}
		for i := range mm.Len() {
			asked = append(asked, mm.GlobalTime(i))
		}
	}
	if !slices.Equal(asked, []uint64{10}) {
		t.Fatalf("OTHER asked for %v, want [10]", asked)
	}
	tr.give(tr.other, tr.node, msgs...)
	for i := range 10 {
		mustVerdict(t, tr.oc, "target", tr.node.pub, uint64(10+i), UndoneByUndo)
		mustVerdict(t, tr.oc, "undo", tr.node.pub, uint64(110+i), InForce)
	}
}

// TestRevokeCausingUndo ports test_revoke_causing_undo (and its
// _permitted variant on a linear type): revoking NODE's undo permission at
// a global time before NODE's undo-other makes that undo invalid, and the
// message it undid is in force again.
func TestRevokeCausingUndo(t *testing.T) {
	for _, tc := range []struct {
		name string
		ty   wire.Type
	}{{"public", tText}, {"permitted", tProtected}} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTrio(t)
			name := tr.mc.def.metaOf(tc.ty).Name
			var auths [][]byte
			if tc.ty == tProtected {
				a, err := tr.mc.Authorize(Grant{Member: tr.other.pub, Meta: name, Permissions: PermitPerm})
				if err != nil {
					t.Fatal(err)
				}
				auths = append(auths, a.Packet)
			}
			a, err := tr.mc.Authorize(Grant{Member: tr.node.pub, Meta: name, Permissions: UndoPerm})
			if err != nil {
				t.Fatal(err)
			}
			auths = append(auths, a.Packet)
			tr.give(tr.node, tr.mm, auths...)
			tr.give(tr.other, tr.mm, auths...)
			msg, err := tr.oc.Publish(name, []byte("will be undone"))
			if err != nil {
				t.Fatal(err)
			}
			tr.give(tr.node, tr.other, msg.Packet)
			undo, err := tr.nc.Undo(tr.other.mid, msg.GlobalTime)
			if err != nil {
				t.Fatal(err)
			}
			tr.give(tr.other, tr.node, undo.Packet)
			mustVerdict(t, tr.oc, "message after NODE's undo", tr.other.pub, msg.GlobalTime, UndoneByUndo)
			// MM, which saw neither, revokes at a global time before the undo's
			rv, err := tr.mc.Revoke(Grant{Member: tr.node.pub, Meta: name, Permissions: UndoPerm})
			if err != nil {
				t.Fatal(err)
			}
			if rv.GlobalTime > undo.GlobalTime {
				t.Fatalf("the revoke is at %d, want at or before the undo at %d", rv.GlobalTime, undo.GlobalTime)
			}
			tr.give(tr.other, tr.mm, rv.Packet)
			mustVerdict(t, tr.oc, "message after the revoke", tr.other.pub, msg.GlobalTime, InForce)
			mustVerdict(t, tr.oc, "NODE's undo after the revoke", tr.node.pub, undo.GlobalTime, Refused)
		})
	}
}

// TestRevokeKeepsOtherUndos: revoking one member's undo permission
// restores only what that member's undos undid; a message its creator
// undid stays undone. (Dispersy re-checks only the target's permit over
// [revoke time, now] and would restore it too, and then a node that got
// the undo after the revoke would hold it undone: arrival order would
// decide.)
func TestRevokeKeepsOtherUndos(t *testing.T) {
	tr := newTrio(t)
	if _, err := tr.mc.Authorize(Grant{Member: tr.node.pub, Meta: "full-sync-text", Permissions: UndoPerm}); err != nil {
		t.Fatal(err)
	}
	own := tr.build(tr.other.key, tText, 40, 0, 0, []byte("undone by its creator"))
	tr.give(tr.mm, tr.other, own, undoOwn(tr, tr.other.key, 41, 1, 40))
	mustVerdict(t, tr.mc, "creator-undone message", tr.other.pub, 40, UndoneByUndo)
	// the master revokes NODE's undo from global time 10 on: the message at
	// 40 is in the range Dispersy re-evaluates
	tr.give(tr.mm, tr.mm, tr.authorize(tr.master, 10, 1, true, grant(tr.node, tText, wire.PermUndo)))
	if tr.mc.Permitted(tr.node.mid, "full-sync-text", UndoPerm) {
		t.Fatal("the master's revoke did not apply")
	}
	mustVerdict(t, tr.mc, "creator-undone message after revoking NODE's undo", tr.other.pub, 40, UndoneByUndo)
}
