package protocol

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Ports of Dispersy's tests/test_double_signature.py (spec §12): the
// co-signer's application is allow below (Dispersy's
// allow_double_signed_text): "Allow=True" signs, "Allow=Modify" signs the
// text "MODIFIED", "Allow=Append" appends "MODIFIED", anything else
// refuses.

func allow(req *CoSignRequest) ([]byte, bool) {
	text := string(req.Payload)
	switch {
	case strings.HasPrefix(text, "Allow=True"):
		return req.Payload, true
	case strings.HasPrefix(text, "Allow=Modify"):
		return []byte("MODIFIED"), true
	case strings.HasPrefix(text, "Allow=Append"):
		return append(bytes.Clone(req.Payload), "MODIFIED"...), true
	}
	return nil, false
}

func cosignTrio(t *testing.T) *trio {
	return newTrio(t, func(o *Options) { o.CoSign = allow })
}

// TestNoResponseFromNode ports test_no_response_from_node: without an
// answer the callback runs once, timed out.
func TestNoResponseFromNode(t *testing.T) {
	tr := cosignTrio(t)
	tr.f.drop = func(_, to netip.AddrPort, _ []byte) bool { return to == tr.node.LAN() }
	calls := 0
	err := tr.oc.RequestSignature(tr.node.LAN(), "double-signed-text", tr.node.pub, []byte("Allow=True"), time.Second,
		func(r *SignatureResult) bool {
			calls++
			if !r.TimedOut || r.Packet != nil {
				t.Errorf("result %+v, want a timeout", r)
			}
			return false
		})
	if err != nil {
		t.Fatal(err)
	}
	tr.f.run(tr.f.now.Add(1500 * time.Millisecond))
	if calls != 1 {
		t.Fatalf("callback ran %d times, want once", calls)
	}
}

// signatures splits a double-signed packet into its two signatures.
func signatures(pkt []byte, sigLen int) (s1, s2 []byte) {
	return pkt[len(pkt)-2*sigLen : len(pkt)-sigLen], pkt[len(pkt)-sigLen:]
}

// TestResponseFromNode ports test_response_from_node: the request
// carries the creator's signature and an empty slot; the co-signer signs
// the same body; the callback runs once with both signatures, unchanged;
// accepted, the message is complete and delivered.
func TestResponseFromNode(t *testing.T) {
	tr := cosignTrio(t)
	sigLen := tr.node.scheme.SignatureLen()
	calls := 0
	var got *SignatureResult
	mark := len(tr.f.sent)
	err := tr.nc.RequestSignature(tr.other.LAN(), "double-signed-text", tr.other.pub, []byte("Allow=True"), time.Second,
		func(r *SignatureResult) bool { calls++; got = r; return true })
	if err != nil {
		t.Fatal(err)
	}
	reqs := tr.sent(tr.node, tr.other, mark, wire.TypeSignatureRequest)
	if len(reqs) != 1 {
		t.Fatalf("%d signature requests sent, want 1", len(reqs))
	}
	inner := tr.decode(t, reqs[0]).Cosign.Packet
	s1, s2 := signatures(inner, sigLen)
	if wire.IsEmptySignature(s1) || !wire.IsEmptySignature(s2) {
		t.Fatal("the request must carry the creator's signature and an empty second slot")
	}
	tr.f.run(tr.f.now.Add(1500 * time.Millisecond))
	if calls != 1 || got.TimedOut || got.Changed {
		t.Fatalf("callback ran %d times, result %+v; want once, unchanged", calls, got)
	}
	s1, s2 = signatures(got.Packet, sigLen)
	if wire.IsEmptySignature(s1) || wire.IsEmptySignature(s2) {
		t.Fatal("the response must carry both signatures")
	}
	if got.Completed == nil {
		t.Fatal("accepted, the message was not completed")
	}
	// OTHER received the complete message: both signatures verify
	if !bytes.Equal(got.Completed.Packet, got.Packet) {
		t.Fatal("the completed message differs from the co-signed one")
	}
}

// TestModifiedResponseFromNode ports test_modified_response_from_node:
// the co-signer changes the payload; the callback sees it changed, signed
// by the co-signer only; accepted, the creator signs the new body.
func TestModifiedResponseFromNode(t *testing.T) {
	tr := cosignTrio(t)
	sigLen := tr.node.scheme.SignatureLen()
	var got *SignatureResult
	calls := 0
	if err := tr.nc.RequestSignature(tr.other.LAN(), "double-signed-full-sync-text", tr.other.pub, []byte("Allow=Modify"), time.Second,
		func(r *SignatureResult) bool { calls++; got = r; return true }); err != nil {
		t.Fatal(err)
	}
	tr.f.run(tr.f.now.Add(1500 * time.Millisecond))
	if calls != 1 || !got.Changed || string(got.Payload) != "MODIFIED" {
		t.Fatalf("callback ran %d times, result %+v; want once, changed to MODIFIED", calls, got)
	}
	s1, s2 := signatures(got.Packet, sigLen)
	if !wire.IsEmptySignature(s1) || wire.IsEmptySignature(s2) {
		t.Fatal("a changed response must carry the co-signer's signature only")
	}
	if got.Completed == nil {
		t.Fatal("accepted, the message was not completed")
	}
	// stored at NODE, both signatures over the new body
	p := tr.decode(t, got.Completed.Packet)
	if string(p.Payload) != "MODIFIED" || !tr.node.scheme.Verify(p.Key, p.Body, p.Signature) ||
		!tr.node.scheme.Verify(p.Key2, p.Body, p.Signature2) {
		t.Fatal("the completed message does not verify for both members")
	}
	mustVerdict(t, tr.nc, "completed double-signed message", tr.node.pub, p.GlobalTime, InForce)
	tr.give(tr.mm, tr.node, got.Completed.Packet)
	mustVerdict(t, tr.mc, "completed double-signed message at a third node", tr.node.pub, p.GlobalTime, InForce)
}

// TestAppendResponseFromNode ports test_append_response_from_node. In
// Dispersy the creator of a split-payload message signs only the text up
// to the last comma, so the co-signer may append and the creator's
// signature still holds. Here both sign the whole body: an append is a
// change like any other, the creator's slot comes back empty, and the
// creator signs again when it accepts.
func TestAppendResponseFromNode(t *testing.T) {
	tr := cosignTrio(t)
	var got *SignatureResult
	if err := tr.nc.RequestSignature(tr.other.LAN(), "double-signed-text", tr.other.pub, []byte("Allow=Append,"), time.Second,
		func(r *SignatureResult) bool { got = r; return true }); err != nil {
		t.Fatal(err)
	}
	tr.f.run(tr.f.now.Add(1500 * time.Millisecond))
	if got == nil || !got.Changed || string(got.Payload) != "Allow=Append,MODIFIED" || got.Completed == nil {
		t.Fatalf("result %+v: want changed, appended, completed", got)
	}
	p := tr.decode(t, got.Completed.Packet)
	if !tr.node.scheme.Verify(p.Key, p.Body, p.Signature) || !tr.node.scheme.Verify(p.Key2, p.Body, p.Signature2) {
		t.Fatal("the completed message does not verify for both members")
	}
}

// TestDoubleSignedChangedBodyFails: both members sign the whole body, so
// any change of it (payload, global time, second member) voids both
// signatures and the message is refused. (Dispersy's 2015 code signs one
// byte per member and accepts such changes.)
func TestDoubleSignedChangedBodyFails(t *testing.T) {
	for _, scheme := range []Scheme{NewFast(1), Ed25519{}} {
		t.Run(scheme.Name(), func(t *testing.T) {
			tr := newTrio(t, func(o *Options) {
				o.Scheme = scheme
				o.Key = scheme.NewKey(testSeed("cosign-"+scheme.Name(), int(o.LAN.Addr().As4()[3])))
				o.CoSign = allow
			})
			var done *Record
			if err := tr.nc.RequestSignature(tr.other.LAN(), "double-signed-full-sync-text", tr.other.pub, []byte("Allow=True, both sign"),
				time.Second, func(r *SignatureResult) bool { return true }); err != nil {
				t.Fatal(err)
			}
			tr.f.run(tr.f.now.Add(time.Second))
			tr.nc.store.Scan(tDoubleFS, 0, maxGT, false, func(r *Record) bool { rr := *r; done = &rr; return false })
			if done == nil {
				t.Fatal("no completed message stored")
			}
			good := bytes.Clone(done.Packet)
			p := tr.decode(t, good)
			sigLen := scheme.SignatureLen()
			body := len(good) - 2*sigLen
			for _, at := range []int{body - 1, wire.MinPacketLen + 4 + 2*KeyLen + 7, wire.MinPacketLen + 4 + KeyLen + 3} {
				bad := bytes.Clone(good)
				bad[at] ^= 0x01
				var q wire.Packet
				if err := wire.DecodeWith(bad, sigLen, KeyLen, &tr.mc.def.layouts, &q); err != nil {
					t.Fatalf("changed byte %d: %v", at, err)
				}
				if scheme.Verify(q.Key, q.Body, q.Signature) || scheme.Verify(q.Key2, q.Body, q.Signature2) {
					t.Fatalf("changed byte %d of the body: a signature still verifies", at)
				}
				before := tr.mm.Stats().Dropped[wire.ReasonBadSignature]
				tr.give(tr.mm, tr.node, bad)
				if tr.mm.Stats().Dropped[wire.ReasonBadSignature] != before+1 {
					t.Fatalf("changed byte %d: not refused as a bad signature", at)
				}
			}
			tr.give(tr.mm, tr.node, good)
			mustVerdict(t, tr.mc, "the unchanged message", tr.node.pub, p.GlobalTime, InForce)
		})
	}
}

// TestSignatureRequestRefusals: a request naming someone else as
// co-signer, a refusal, and responses that change what may not change.
func TestSignatureRequestRefusals(t *testing.T) {
	tr := cosignTrio(t)
	// MM is not the co-signer of a request from NODE to OTHER
	mark := len(tr.f.sent)
	if err := tr.nc.RequestSignature(tr.mm.LAN(), "double-signed-text", tr.other.pub, []byte("Allow=True"), time.Second,
		func(*SignatureResult) bool { return false }); err != nil {
		t.Fatal(err)
	}
	tr.f.run(tr.f.now.Add(100 * time.Millisecond))
	if tr.mm.Stats().Dropped[wire.ReasonNotCosigner] != 1 || len(tr.sent(tr.mm, tr.node, mark, 0)) != 0 {
		t.Fatal("a request to a node that is not the co-signer was not refused as not_cosigner")
	}
	// OTHER's application refuses: no response, a timeout
	timedOut := false
	if err := tr.nc.RequestSignature(tr.other.LAN(), "double-signed-text", tr.other.pub, []byte("Allow=False"), time.Second,
		func(r *SignatureResult) bool { timedOut = r.TimedOut; return false }); err != nil {
		t.Fatal(err)
	}
	tr.f.run(tr.f.now.Add(1500 * time.Millisecond))
	if !timedOut {
		t.Fatal("a refused request did not time out")
	}
	// a response to no open request
	resp := wire.AppendHeader(nil, wire.CommunityVersion, tr.cid, wire.TypeSignatureResponse)
	resp = wire.AppendGlobalTime(resp, 1)
	resp = wire.AppendCosign(resp, 999, tr.build(tr.node.key, tText, 5, 0, 0, nil))
	tr.give(tr.node, tr.other, resp)
	if tr.node.Stats().Dropped[wire.ReasonUnknownIdentifier] != 1 {
		t.Fatal("a response to no request was not refused as unknown_identifier")
	}
	if err := tr.nc.RequestSignature(tr.other.LAN(), "full-sync-text", tr.other.pub, nil, 0, func(*SignatureResult) bool { return false }); err == nil {
		t.Fatal("a signature request for a single-signed type succeeded")
	}
}

// TestLast1DoubleMember ports test_last_1_doublemember (spec §1): last-sync
// history of a double-signed type counts per pair of members: A's
// messages with B and with C are kept side by side, a newer one of a
// pair replaces the older, an older one is refused and the receiver
// sends the pair's current message back.
func TestLast1DoubleMember(t *testing.T) {
	tr := newTrio(t)
	a, b, c := tr.node.key, tr.other.key, tr.mm.scheme.NewKey(testSeed("member-C", 3))
	receiver := tr.mm
	rc := tr.mc
	pairGTs := func() (ab, ac []uint64) {
		rc.store.Scan(tLast1Double, 0, maxGT, false, func(r *Record) bool {
			p, _ := rc.decodeStored(r.Packet)
			switch {
			case bytes.Equal(p.Key2, b.Public()):
				ab = append(ab, r.GlobalTime)
			case bytes.Equal(p.Key2, c.Public()):
				ac = append(ac, r.GlobalTime)
			}
			return true
		})
		return ab, ac
	}
	check := func(step string, wantAB, wantAC uint64) {
		t.Helper()
		ab, ac := pairGTs()
		if len(ab) != 1 || ab[0] != wantAB || len(ac) != 1 || ac[0] != wantAC {
			t.Fatalf("%s: pair AB at %v, AC at %v; want [%d], [%d]", step, ab, ac, wantAB, wantAC)
		}
	}
	tr.give(receiver, tr.other, tr.buildDouble(a, b, tLast1Double, 10, []byte("ab")), tr.buildDouble(a, c, tLast1Double, 11, []byte("ac")))
	check("first pair messages", 10, 11)
	ab20 := tr.buildDouble(a, b, tLast1Double, 20, []byte("ab20"))
	ac21 := tr.buildDouble(a, c, tLast1Double, 21, []byte("ac21"))
	tr.give(receiver, tr.other, ab20, ac21)
	check("newer pair messages", 20, 21)
	mark := len(tr.f.sent)
	tr.give(receiver, tr.other, tr.buildDouble(a, b, tLast1Double, 8, []byte("old")), tr.buildDouble(a, c, tLast1Double, 9, []byte("old")))
	check("older pair messages", 20, 21)
	back := tr.sent(receiver, tr.other, mark, tLast1Double)
	if len(back) != 2 || !bytes.Equal(back[0], ab20) || !bytes.Equal(back[1], ac21) {
		t.Fatalf("the receiver sent back %d messages, want the current AB and AC", len(back))
	}
}

// TestDuplicateOfUndoneSendsUndo: a copy of a message an undo undid is
// answered with the undo (spec §8.3).
func TestDuplicateOfUndoneSendsUndo(t *testing.T) {
	tr := newTrio(t)
	msg := tr.build(tr.node.key, tText, 10, 0, 0, []byte("m"))
	undo := undoOwn(tr, tr.node.key, 11, 1, 10)
	tr.give(tr.other, tr.node, msg, undo)
	mark := len(tr.f.sent)
	asker := ap("20.0.0.77:1") // nothing answers back from there
	tr.other.HandlePacket(asker, msg)
	var back [][]byte
	for _, s := range tr.f.sent[mark:] {
		if s.to == asker {
			back = append(back, s.pkt)
		}
	}
	if len(back) != 1 || !bytes.Equal(back[0], undo) {
		t.Fatalf("a copy of an undone message was answered with %d packets, want the undo", len(back))
	}
}
