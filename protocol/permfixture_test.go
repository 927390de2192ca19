package protocol

import (
	"bytes"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// The permission test community, after Dispersy's debug community
// (spec/dispersy-tests.md §0): the types the permission tests use.
const (
	tDouble    wire.Type = 103 // double-signed-text: direct
	tText      wire.Type = 105 // full-sync-text: public, undoable
	tProtected wire.Type = 110 // protected-full-sync-text: linear, undoable
	tDynamic   wire.Type = 111 // dynamic-resolution-text: dynamic (public, linear), undoable
	tDoubleFS  wire.Type = 120 // double-signed full-sync text
	tPlain     wire.Type = 121 // a public type that cannot be undone
	// last-1-doublemember-text: last-sync, history 1 per member pair, double-signed
	tLast1Double wire.Type = 109
)

func permDefinition(t testing.TB) *Definition {
	t.Helper()
	sync := func(name string, ty wire.Type, mod func(*Meta)) Meta {
		m := Meta{Name: name, Type: ty, Distribution: FullSync, Priority: 128, Destination: ToCommunity, NodeCount: 10, Undoable: true}
		if mod != nil {
			mod(&m)
		}
		return m
	}
	d, err := NewDefinition([]Meta{
		{Name: "double-signed-text", Type: tDouble, Distribution: Direct, Destination: ToCandidate, DoubleSigned: true},
		sync("full-sync-text", tText, nil),
		sync("protected-full-sync-text", tProtected, func(m *Meta) { m.Resolution = Linear }),
		sync("dynamic-resolution-text", tDynamic, func(m *Meta) {
			m.Resolution, m.Policies = Dynamic, []ResolutionKind{Public, Linear}
		}),
		sync("double-signed-full-sync-text", tDoubleFS, func(m *Meta) { m.DoubleSigned = true }),
		sync("plain-text", tPlain, func(m *Meta) { m.Undoable = false }),
		sync("last-1-doublemember-text", tLast1Double, func(m *Meta) {
			m.Distribution, m.HistorySize, m.DoubleSigned, m.Undoable = LastSync, 1, true, false
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// trio is Dispersy's permission test set-up: MM founded the community
// (it holds the master key, so its member got every permission from the
// master), NODE and OTHER joined it and hold the founding authorize. None
// walks: the tests drive every packet.
type trio struct {
	f               *fakeNet
	master          PrivateKey
	cid             wire.CID
	mm, node, other *Node
	mc, nc, oc      *Community
	founding        []byte // the master's authorize of MM
}

func newTrio(t testing.TB, mods ...func(*Options)) *trio {
	t.Helper()
	f := newFakeNet()
	f.keep = true
	def := permDefinition(t)
	noWalk := func(o *Options) {
		o.Definition = def
		o.Config.WalkInterval = time.Hour
		o.Config.StartJitter = 0
		o.Config.SyncSkipMode = SkipDispersy
		for _, mod := range mods {
			mod(o)
		}
	}
	tr := &trio{f: f}
	tr.mm = f.addNode(t, ap("20.0.0.9:1"), noWalk)
	tr.node = f.addNode(t, ap("20.0.0.1:1"), noWalk)
	tr.other = f.addNode(t, ap("20.0.0.2:1"), noWalk)
	tr.master = tr.mm.scheme.NewKey(testSeed("master", 0))
	tr.cid = wire.CID(IDOf(tr.master.Public()))
	tr.mc, tr.nc, tr.oc = tr.join(t, tr.mm), tr.join(t, tr.node), tr.join(t, tr.other)
	if err := tr.mc.Found(tr.master); err != nil {
		t.Fatal(err)
	}
	tr.mc.store.ScanMember(tr.mc.Master(), wire.TypeAuthorize, func(r *Record) bool {
		tr.founding = bytes.Clone(r.Packet)
		return false
	})
	if tr.founding == nil {
		t.Fatal("no founding authorize stored")
	}
	tr.give(tr.node, tr.mm, tr.founding)
	tr.give(tr.other, tr.mm, tr.founding)
	for _, c := range []*Community{tr.nc, tr.oc} {
		if !c.Permitted(tr.mm.mid, "protected-full-sync-text", AuthorizePerm) {
			t.Fatal("the founding authorize did not give MM authorize")
		}
	}
	return tr
}

func (tr *trio) join(t testing.TB, n *Node) *Community {
	t.Helper()
	c, err := n.Join(tr.cid)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// give delivers pkts to n as if from the node at from, and runs the net a
// second.
func (tr *trio) give(to, from *Node, pkts ...[]byte) {
	for _, pk := range pkts {
		to.HandlePacket(from.LAN(), pk)
	}
	tr.f.run(tr.f.now.Add(time.Second))
}

// build is a message of type ty signed by key at global time gt (with
// sequence number seq where the type has them, and the creator's policy
// index where dynamic): Dispersy's create_* test helpers, which build
// without storing or sending.
func (tr *trio) build(key PrivateKey, ty wire.Type, gt uint64, seq uint32, policy uint8, payload []byte) []byte {
	def := tr.mc.def
	m := def.metaOf(ty)
	l := m.layout()
	b := wire.AppendHeader(nil, wire.CommunityVersion, tr.cid, ty)
	b = wire.AppendMember(b, key.Public())
	if l.Policies > 0 {
		b = wire.AppendPolicy(b, policy)
	}
	b = wire.AppendGlobalTime(b, gt)
	if l.Sequence {
		b = wire.AppendSequence(b, seq)
	}
	b = append(b, payload...)
	return key.AppendSign(b, b)
}

// authorize builds a dispersy-authorize (revoke: a dispersy-revoke) by key
// at gt with sequence number seq, granting member the bits on ty.
func (tr *trio) authorize(key PrivateKey, gt uint64, seq uint32, revoke bool, gs ...wire.Grant) []byte {
	ty := wire.TypeAuthorize
	if revoke {
		ty = wire.TypeRevoke
	}
	return tr.build(key, ty, gt, seq, 0, wire.AppendPermissions(nil, gs))
}

// sent returns the packets from sent to to since mark, of type ty (0: any).
func (tr *trio) sent(from, to *Node, mark int, ty wire.Type) [][]byte {
	var out [][]byte
	for _, s := range tr.f.sent[mark:] {
		if s.from != from.LAN() || s.to != to.LAN() || len(s.pkt) < wire.MinPacketLen {
			continue
		}
		if ty == 0 || wire.Type(s.pkt[wire.PrefixLen]) == ty {
			out = append(out, s.pkt)
		}
	}
	return out
}

func (tr *trio) decode(t testing.TB, pkt []byte) *wire.Packet {
	t.Helper()
	var p wire.Packet
	if err := wire.DecodeWith(pkt, tr.mm.scheme.SignatureLen(), KeyLen, &tr.mc.def.layouts, &p); err != nil {
		t.Fatalf("decode %x: %v", pkt[:24], err)
	}
	return &p
}

func verdictOf(c *Community, key []byte, gt uint64) Verdict { return c.VerdictOf(IDOf(key), gt) }

func mustVerdict(t testing.TB, c *Community, what string, key []byte, gt uint64, want Verdict) {
	t.Helper()
	if got := verdictOf(c, key, gt); got != want {
		t.Fatalf("%s: verdict %v, want %v", what, got, want)
	}
}

func grant(n *Node, ty wire.Type, bits byte) wire.Grant {
	return wire.Grant{Key: n.pub, Type: ty, Bits: bits}
}

// buildDouble is a double-signed message of type ty by k1 and k2 at gt,
// signed by both over the whole body.
func (tr *trio) buildDouble(k1, k2 PrivateKey, ty wire.Type, gt uint64, payload []byte) []byte {
	b := wire.AppendHeader(nil, wire.CommunityVersion, tr.cid, ty)
	b = wire.AppendMembers(b, k1.Public(), k2.Public())
	b = wire.AppendGlobalTime(b, gt)
	b = append(b, payload...)
	body := bytes.Clone(b)
	b = k1.AppendSign(b, body)
	return k2.AppendSign(b, body)
}
