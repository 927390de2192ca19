package protocol

import (
	"bytes"
	"testing"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Ports of Dispersy's tests/test_timeline.py (spec/dispersy-tests.md §8).

// TestDelayByProof ports test_delay_by_proof: a linear message from a
// member OTHER holds no grant for is not stored, OTHER asks the sender
// once for the proof (missing-proof naming the message), and the message
// wakes up and is stored when the authorize arrives.
func TestDelayByProof(t *testing.T) {
	tr := newTrio(t)
	proof := tr.authorize(tr.mm.key, 10, 1, false, grant(tr.node, tProtected, wire.PermPermit|wire.PermAuthorize))
	msg := tr.build(tr.node.key, tProtected, 42, 0, 0, []byte("Protected message"))
	mark := len(tr.f.sent)
	tr.give(tr.other, tr.node, msg, msg) // twice: still one request
	mustVerdict(t, tr.oc, "before the proof", tr.node.pub, 42, Absent)
	reqs := tr.sent(tr.other, tr.node, mark, 0)
	if len(reqs) != 1 {
		t.Fatalf("OTHER sent NODE %d packets, want exactly one missing-proof", len(reqs))
	}
	p := tr.decode(t, reqs[0])
	if p.Type != wire.TypeMissingProof || !bytes.Equal(p.MissingProof.Key, tr.node.pub) || p.MissingProof.GlobalTime != 42 {
		t.Fatalf("OTHER sent %v %+v, want missing-proof(NODE, 42)", p.Type, p.MissingProof)
	}
	if tr.other.Stats().Delayed == 0 {
		t.Error("Stats.Delayed did not count the delayed message")
	}
	tr.give(tr.other, tr.node, proof)
	mustVerdict(t, tr.oc, "after the proof", tr.node.pub, 42, InForce)
}

// TestMissingProof ports test_missing_proof: asked for the proof of a
// stored linear message, a node sends the authorize that permits it.
func TestMissingProof(t *testing.T) {
	tr := newTrio(t)
	auth := tr.authorize(tr.mm.key, 10, 1, false, grant(tr.node, tProtected, wire.PermPermit|wire.PermAuthorize))
	tr.give(tr.node, tr.mm, auth)
	if _, err := tr.nc.Publish("protected-full-sync-text", []byte("Protected message")); err != nil {
		t.Fatal(err)
	}
	gt := tr.nc.GlobalTime()
	mark := len(tr.f.sent)
	tr.give(tr.node, tr.other, tr.missingProof(tr.node.pub, gt))
	got := tr.sent(tr.node, tr.other, mark, wire.TypeAuthorize)
	if len(got) != 1 || !bytes.Equal(got[0], auth) {
		t.Fatalf("NODE answered missing-proof with %d authorizes, want MM's authorize of NODE", len(got))
	}
	if !hasGrant(tr.decode(t, got[0]), tr.node.pub, tProtected, wire.PermPermit) {
		t.Fatal("the authorize sent does not grant NODE permit on protected-full-sync-text")
	}
}

// TestMissingAuthorizeProof ports test_missing_authorize_proof: the proof
// of an authorize is the authorize one level up the chain (the master's
// founding authorize of MM).
func TestMissingAuthorizeProof(t *testing.T) {
	tr := newTrio(t)
	auth := tr.authorize(tr.mm.key, 10, 1, false, grant(tr.node, tProtected, wire.PermPermit|wire.PermAuthorize))
	tr.give(tr.node, tr.mm, auth)
	mark := len(tr.f.sent)
	tr.give(tr.node, tr.other, tr.missingProof(tr.mm.pub, 10))
	got := tr.sent(tr.node, tr.other, mark, wire.TypeAuthorize)
	if len(got) != 1 || !bytes.Equal(got[0], tr.founding) {
		t.Fatalf("NODE answered with %d authorizes, want the master's founding authorize", len(got))
	}
	if !hasGrant(tr.decode(t, got[0]), tr.mm.pub, tProtected, wire.PermPermit) {
		t.Fatal("the founding authorize does not grant MM permit on protected-full-sync-text")
	}
}

// TestProofChainDepthTwo: a node holding nothing of a chain master -> MM
// -> NODE that receives NODE's linear message resolves the chain with two
// missing-proof requests, one level each, and then stores the message.
func TestProofChainDepthTwo(t *testing.T) {
	tr := newTrio(t)
	auth := tr.authorize(tr.mm.key, 10, 1, false, grant(tr.node, tProtected, wire.PermPermit))
	tr.give(tr.node, tr.mm, auth)
	r, err := tr.nc.Publish("protected-full-sync-text", []byte("chained"))
	if err != nil {
		t.Fatal(err)
	}
	fresh := tr.f.addNode(t, ap("20.0.0.3:1"), func(o *Options) {
		o.Definition = tr.mc.def
		o.Config.WalkInterval, o.Config.StartJitter = 1<<62, 0
	})
	fc := tr.join(t, fresh)
	mark := len(tr.f.sent)
	tr.give(fresh, tr.node, r.Packet)
	tr.f.run(tr.f.now.Add(2e9))
	reqs := tr.sent(fresh, tr.node, mark, wire.TypeMissingProof)
	if len(reqs) != 2 {
		t.Fatalf("the fresh node sent %d missing-proof requests, want 2 (one per level)", len(reqs))
	}
	if p := tr.decode(t, reqs[1]); !bytes.Equal(p.MissingProof.Key, tr.mm.pub) || p.MissingProof.GlobalTime != 10 {
		t.Fatalf("second request names %x:%d, want MM's authorize at 10", p.MissingProof.Key[:4], p.MissingProof.GlobalTime)
	}
	mustVerdict(t, fc, "NODE's message after the chain", tr.node.pub, r.GlobalTime, InForce)
	if !fc.Permitted(tr.node.mid, "protected-full-sync-text", PermitPerm) {
		t.Fatal("the fresh node's timeline does not grant NODE permit")
	}
}

// TestGrantFromItsGlobalTime: a grant at T covers messages at T and later,
// not at T-1 (spec §8.2).
func TestGrantFromItsGlobalTime(t *testing.T) {
	tr := newTrio(t)
	tr.give(tr.other, tr.mm, tr.authorize(tr.mm.key, 20, 1, false, grant(tr.node, tProtected, wire.PermPermit)))
	before := tr.build(tr.node.key, tProtected, 19, 0, 0, []byte("early"))
	at := tr.build(tr.node.key, tProtected, 20, 0, 0, []byte("on time"))
	tr.give(tr.other, tr.node, before, at)
	mustVerdict(t, tr.oc, "message at T-1", tr.node.pub, 19, Absent)
	mustVerdict(t, tr.oc, "message at T", tr.node.pub, 20, InForce)
}

// TestAuthorizeRevokeSameTime: an authorize and a revoke of one
// permission at one global time, by two signers (one signer cannot sign
// two messages at one global time; Dispersy raises an error here), are
// decided by packet bytes: the lower packet wins, whichever arrives first,
// and that is the revoke (its type byte is lower).
func TestAuthorizeRevokeSameTime(t *testing.T) {
	for _, order := range []string{"authorize first", "revoke first"} {
		t.Run(order, func(t *testing.T) {
			tr := newTrio(t)
			a := tr.authorize(tr.mm.key, 20, 1, false, grant(tr.node, tProtected, wire.PermPermit))
			r := tr.authorize(tr.master, 20, 1, true, grant(tr.node, tProtected, wire.PermPermit))
			if order == "revoke first" {
				tr.give(tr.other, tr.mm, r, a)
			} else {
				tr.give(tr.other, tr.mm, a, r)
			}
			if bytes.Compare(r, a) >= 0 {
				t.Fatal("the revoke is not the lower packet")
			}
			tr.give(tr.other, tr.node, tr.build(tr.node.key, tProtected, 25, 0, 0, []byte("m")))
			mustVerdict(t, tr.oc, "message after a grant and a revoke at one time", tr.node.pub, 25, Absent)
			if tr.oc.Permitted(tr.node.mid, "protected-full-sync-text", PermitPerm) {
				t.Fatal("NODE holds permit: the revoke should win")
			}
		})
	}
}

func (tr *trio) missingProof(key []byte, gt uint64) []byte {
	b := wire.AppendHeader(nil, wire.CommunityVersion, tr.cid, wire.TypeMissingProof)
	b = wire.AppendGlobalTime(b, 1)
	return wire.AppendMissingProof(b, key, gt)
}

func hasGrant(p *wire.Packet, key []byte, ty wire.Type, bits byte) bool {
	found := false
	p.Permissions.Each(func(g wire.Grant) bool {
		if bytes.Equal(g.Key, key) && g.Type == ty && g.Bits&bits == bits {
			found = true
		}
		return !found
	})
	return found
}
