package protocol

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// history is a community's permission history with every kind of
// conflict: grants, revokes that come late, a revoked chain, a re-grant,
// undos by members whose undo is revoked, a double undo-own, policy
// switches, and messages refused for each of these reasons.
type history struct {
	pkts []*historyPkt
}

type historyPkt struct {
	name string
	pkt  []byte
	key  []byte
	gt   uint64
}

func buildHistory(t testing.TB, tr *trio) *history {
	h := &history{}
	keys := map[string]PrivateKey{}
	for i, name := range []string{"A", "B", "C", "D", "E"} {
		keys[name] = tr.mm.scheme.NewKey(testSeed("member-"+name, i))
	}
	seq := map[string]uint32{}
	add := func(name string, key PrivateKey, ty wire.Type, gt uint64, policy uint8, payload []byte) {
		k := string(key.Public()) + ty.String()
		if tr.mc.def.metaOf(ty).SequenceNumbers {
			seq[k]++
		}
		h.pkts = append(h.pkts, &historyPkt{name: name, pkt: tr.build(key, ty, gt, seq[k], policy, payload), key: key.Public(), gt: gt})
	}
	g := func(name string, ty wire.Type, bits byte) []byte {
		return wire.AppendPermissions(nil, []wire.Grant{{Key: keys[name].Public(), Type: ty, Bits: bits}})
	}
	var fp wire.Packet
	_ = wire.DecodeWith(tr.founding, tr.mm.scheme.SignatureLen(), KeyLen, &tr.mc.def.layouts, &fp)
	h.pkts = append(h.pkts, &historyPkt{name: "founding", pkt: tr.founding, key: tr.master.Public(), gt: fp.GlobalTime})
	seq[string(tr.master.Public())+wire.TypeAuthorize.String()] = 1
	mm := tr.mm.key
	add("grant A", mm, wire.TypeAuthorize, 10, 0, g("A", tProtected, wire.PermPermit))
	add("grant B undo", mm, wire.TypeAuthorize, 11, 0, g("B", tText, wire.PermUndo))
	add("grant C", mm, wire.TypeAuthorize, 12, 0, g("C", tProtected, wire.PermPermit))
	add("grant D", mm, wire.TypeAuthorize, 15, 0, g("D", tProtected, wire.PermPermit|wire.PermAuthorize))
	add("re-grant A", mm, wire.TypeAuthorize, 70, 0, g("A", tProtected, wire.PermPermit))
	add("revoke A", mm, wire.TypeRevoke, 30, 0, g("A", tProtected, wire.PermPermit))
	add("revoke B undo", mm, wire.TypeRevoke, 40, 0, g("B", tText, wire.PermUndo))
	add("to linear", mm, wire.TypeDynamicSettings, 50, 0, wire.AppendDynamicSettings(nil, []wire.PolicyChange{{Type: tDynamic, Index: 1}}))
	add("to public", mm, wire.TypeDynamicSettings, 60, 0, wire.AppendDynamicSettings(nil, []wire.PolicyChange{{Type: tDynamic, Index: 0}}))
	add("master revokes D's authorize", tr.master, wire.TypeRevoke, 18, 0, g("D", tProtected, wire.PermAuthorize))
	add("D grants E", keys["D"], wire.TypeAuthorize, 20, 0, g("E", tProtected, wire.PermPermit))
	add("A before its grant", keys["A"], tProtected, 5, 0, []byte("A5"))
	add("A granted", keys["A"], tProtected, 20, 0, []byte("A20"))
	add("A revoked", keys["A"], tProtected, 35, 0, []byte("A35"))
	add("A re-granted", keys["A"], tProtected, 75, 0, []byte("A75"))
	add("C protected", keys["C"], tProtected, 25, 0, []byte("C25"))
	add("C text 26", keys["C"], tText, 26, 0, []byte("C26"))
	add("C text 27", keys["C"], tText, 27, 0, []byte("C27"))
	add("B undoes 27", keys["B"], wire.TypeUndoOther, 35, 0, wire.AppendUndoOther(nil, keys["C"].Public(), 27))
	add("B undoes 26 after its revoke", keys["B"], wire.TypeUndoOther, 45, 0, wire.AppendUndoOther(nil, keys["C"].Public(), 26))
	add("C undoes 27", keys["C"], wire.TypeUndoOwn, 36, 0, wire.AppendUndoOwn(nil, 27))
	add("C undoes 27 again", keys["C"], wire.TypeUndoOwn, 37, 0, wire.AppendUndoOwn(nil, 27))
	add("E by a void grant", keys["E"], tProtected, 22, 0, []byte("E22"))
	add("C dynamic under linear", keys["C"], tDynamic, 55, 0, []byte("C55"))
	add("C dynamic under public", keys["C"], tDynamic, 65, 0, []byte("C65"))
	add("C undoes its refused 55", keys["C"], wire.TypeUndoOwn, 66, 0, wire.AppendUndoOwn(nil, 55))
	return h
}

func (h *history) find(name string) *historyPkt {
	for _, p := range h.pkts {
		if p.name == name {
			return p
		}
	}
	return nil
}

// TestVerdictsConverge: nodes that receive one history in different
// orders, pulling what is missing from a node that holds it, end with
// one verdict hash, and the verdicts the rules give.
func TestVerdictsConverge(t *testing.T) {
	tr := newTrio(t)
	h := buildHistory(t, tr)
	mods := func(o *Options) {
		o.Definition = tr.mc.def
		o.Config.WalkInterval, o.Config.StartJitter = time.Hour, 0
	}
	nowhere := ap("20.0.9.9:1")
	oracle := tr.f.addNode(t, ap("20.0.1.1:1"), mods)
	oc := tr.join(t, oracle)
	// the oracle: everything in global-time order, until nothing changes
	for range 4 {
		for _, p := range sortedByGT(h.pkts) {
			oracle.HandlePacket(nowhere, p.pkt)
		}
		tr.f.run(tr.f.now.Add(time.Second))
	}
	for _, tc := range []struct {
		name string
		want Verdict
	}{
		{"A before its grant", Absent},
		{"A granted", InForce},
		{"A revoked", Absent},
		{"A re-granted", InForce},
		{"C protected", InForce},
		{"C text 26", InForce}, // B's undo came after B lost undo
		{"C text 27", UndoneByUndo},
		{"B undoes 27", InForce},
		{"C undoes 27 again", UndoneByUndo}, // by the lower packet of the two
		{"E by a void grant", Absent},
		{"C dynamic under linear", Absent},
		{"C dynamic under public", InForce},
		{"D grants E", Absent},
	} {
		p := h.find(tc.name)
		got := verdictOf(oc, p.key, p.gt)
		if tc.name == "C undoes 27 again" {
			// one of the two undo-owns undoes the other
			a, b := verdictOf(oc, p.key, 36), verdictOf(oc, p.key, 37)
			if !(a == InForce && b == UndoneByUndo) && !(a == UndoneByUndo && b == InForce) {
				t.Fatalf("the two undo-owns: %v and %v, want one undone by the other", a, b)
			}
			continue
		}
		if got != tc.want {
			t.Fatalf("oracle: %s: %v, want %v", tc.name, got, tc.want)
		}
	}
	want := oc.VerdictHash()
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 24 {
		f := tr.f.addNode(t, netipAt(30, i), mods)
		fc := tr.join(t, f)
		for pass := range 3 {
			order := rng.Perm(len(h.pkts))
			for _, j := range order {
				if pass > 0 && rng.IntN(3) == 0 {
					continue // later passes: some packets are lost
				}
				f.HandlePacket(oracle.LAN(), h.pkts[j].pkt)
				tr.f.run(tr.f.now.Add(time.Duration(rng.IntN(50)) * time.Millisecond))
			}
			tr.f.run(tr.f.now.Add(time.Second))
		}
		// a last pass of everything, as sync would bring it
		for _, j := range rng.Perm(len(h.pkts)) {
			f.HandlePacket(oracle.LAN(), h.pkts[j].pkt)
		}
		tr.f.run(tr.f.now.Add(2 * time.Second))
		if got := fc.VerdictHash(); got != want {
			for _, p := range h.pkts {
				if a, b := verdictOf(oc, p.key, p.gt), verdictOf(fc, p.key, p.gt); a != b {
					t.Errorf("order %d: %s: %v, oracle %v", i, p.name, b, a)
				}
			}
			t.Fatalf("order %d: verdict hash differs from the oracle's", i)
		}
	}
}

func netipAt(a, i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{20, byte(a), byte(i / 250), byte(1 + i%250)}), 1)
}

func sortedByGT(ps []*historyPkt) []*historyPkt {
	out := append([]*historyPkt(nil), ps...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].gt < out[j-1].gt; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
