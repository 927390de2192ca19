package protocol

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/bits-and-blooms/bitset"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

// plainStore hides a MemStore's optional fast paths (DigestScanner and the
// filter memo): only the Store interface is left.
type plainStore struct{ Store }

// syncRun walks 20 nodes, publishes from several of them and returns every
// packet sent, the stores and the shared pool (nil when plain).
func syncRun(t *testing.T, metas []Meta, fit, plain bool) ([]sentPacket, []*Community, *Pool) {
	t.Helper()
	def, err := NewDefinition(metas)
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeNet()
	f.keep = true
	var pool *Pool
	if !plain {
		pool = NewPool()
	}
	cs := walkingNodes(t, f, 20, def, func(o *Options) {
		o.Config.SyncBloomFit = fit
		o.OpenStore = func(wire.CID) (Store, error) {
			if plain {
				return plainStore{NewMemStore(nil)}, nil
			}
			return NewMemStore(pool), nil
		}
	})
	f.run(Time(30 * time.Second))
	for i := 0; i < 40; i++ {
		m := metas[i%len(metas)]
		if _, err := cs[(i*7)%len(cs)].Publish(m.Name, []byte(fmt.Sprintf("message %d", i))); err != nil {
			t.Fatal(err)
		}
		f.run(f.now.Add(700 * time.Millisecond))
	}
	f.run(Time(4 * time.Minute))
	return f.sent, cs, pool
}

// TestFilterMemoExact: the filter memo and the digest scan change only the
// speed. The same run with stores that offer neither sends the very same
// packets, and the memo serves the converged nodes.
func TestFilterMemoExact(t *testing.T) {
	text := func(name string, ty wire.Type, mod func(*Meta)) Meta {
		m := Meta{Name: name, Type: ty, Distribution: FullSync, Priority: 128, Destination: ToCommunity, NodeCount: 2}
		if mod != nil {
			mod(&m)
		}
		return m
	}
	cases := []struct {
		name  string
		metas []Meta
		fit   bool
		hits  bool // the memo answers once all have converged
	}{
		{"one type", []Meta{text("text", 1, nil)}, false, true},
		{"fitted filters", []Meta{text("text", 1, nil)}, true, true},
		{"directions and pruning", []Meta{
			text("asc", 1, nil),
			text("desc", 2, func(m *Meta) { m.Direction, m.Priority = Descending, 64 }),
			text("pruned", 3, func(m *Meta) { m.PruneInactive, m.PrunePruned = 100000, 200000 }),
		}, false, true},
		{"random direction", []Meta{
			text("asc", 1, nil),
			text("random", 2, func(m *Meta) { m.Direction = Random }),
		}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fast, cs, pool := syncRun(t, tc.metas, tc.fit, false)
			slow, _, _ := syncRun(t, tc.metas, tc.fit, true)
			if len(fast) != len(slow) {
				t.Fatalf("%d packets sent with the memo, %d without", len(fast), len(slow))
			}
			for i := range fast {
				if fast[i].from != slow[i].from || fast[i].to != slow[i].to || !bytes.Equal(fast[i].pkt, slow[i].pkt) {
					t.Fatalf("packet %d differs: %v->%v with the memo, %v->%v without", i,
						fast[i].from, fast[i].to, slow[i].from, slow[i].to)
				}
			}
			total := 0
			for _, m := range tc.metas {
				total += cs[0].store.Count(m.Type)
			}
			if total != 40 {
				t.Fatalf("node 0 holds %d messages, want 40", total)
			}
			if len(pool.filters) == 0 {
				t.Fatal("the memo kept no filter")
			}
			// a converged node's request is answered from the memo
			hits := 0
			for i := 0; i < 2000 && hits == 0; i++ {
				c := cs[1+i%(len(cs)-1)]
				sc := c.buildSync(c.node.env.Now(), nil)
				f := readFilter(sc.filter.appendBytes(nil), int(sc.filter.m), sc.filter.k, sc.filter.prefix)
				if cs[0].answerCovered(f, sc.lo, sc.hi, 1) {
					hits++
				}
			}
			if (hits > 0) != tc.hits {
				t.Fatalf("memo answered: %v, want %v", hits > 0, tc.hits)
			}
		})
	}
}

// TestFilterCovers: a filter covers exactly the filters whose bits it
// holds.
func TestFilterCovers(t *testing.T) {
	f := newSyncFilter(1024, 7, 5)
	g := newSyncFilter(1024, 7, 5)
	for i := uint64(0); i < 60; i++ {
		f.add(i * 0x9E3779B97F4A7C15)
		if i%2 == 0 {
			g.add(i * 0x9E3779B97F4A7C15)
		}
	}
	if !f.covers(g.words) || g.covers(f.words) || !f.covers(f.words) {
		t.Fatal("covers is not bitwise inclusion")
	}
	h := newSyncFilter(2048, 7, 5)
	if f.covers(h.words) {
		t.Fatal("a filter covers one of another size")
	}
	// the library sees the same bits
	if bitset.From(f.words).Count() != f.f.BitSet().Count() {
		t.Fatal("filter words and library bitset disagree")
	}
}

// TestContentSums: a store's content sums follow puts, deletes and
// pruning, and equal sets have equal sums whatever the order.
func TestContentSums(t *testing.T) {
	pool := NewPool()
	a, b := NewMemStore(pool), NewMemStore(pool)
	rec := func(i int) *Record {
		pkt := []byte(fmt.Sprintf("packet %d", i))
		return &Record{Member: MemberID{byte(i)}, Meta: 1, GlobalTime: uint64(10 + i), Digest: PacketDigest(pkt), Packet: pkt}
	}
	for i := 0; i < 10; i++ {
		if _, err := a.Put(rec(i)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Put(rec(9 - i)); err != nil {
			t.Fatal(err)
		}
	}
	if a.span(1) != b.span(1) {
		t.Fatalf("same content, spans %+v and %+v", a.span(1), b.span(1))
	}
	if sp := a.span(1); sp.count != 10 || sp.lo != 10 || sp.hi != 19 {
		t.Fatalf("span %+v, want 10 messages at 10..19", sp)
	}
	b.Delete(MemberID{3}, 13)
	if a.span(1) == b.span(1) {
		t.Fatal("a delete left the sums unchanged")
	}
	a.Delete(MemberID{3}, 13)
	if a.span(1) != b.span(1) {
		t.Fatal("same deletes, different sums")
	}
	a.DeleteUpTo(1, 14)
	c := NewMemStore(pool)
	for i := 5; i < 10; i++ {
		if _, err := c.Put(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if a.span(1) != c.span(1) {
		t.Fatalf("after pruning %+v, want %+v", a.span(1), c.span(1))
	}
	if (NewMemStore(pool).span(1) != contentSpan{}) {
		t.Fatal("an empty store has a span")
	}
	// an undone message is out of the sums and the count (its filter
	// holds it not), and back in once in force again
	d := NewMemStore(pool)
	for i := 5; i < 12; i++ {
		r := rec(i)
		if i == 11 {
			r.Undone = UndoneByTimeline
		}
		if _, err := d.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	d.SetUndone(MemberID{10}, 20, 7)
	if sp, want := d.span(1), c.span(1); sp.count != want.count || sp.sum1 != want.sum1 || sp.sum2 != want.sum2 {
		t.Fatalf("with 10 and 11 undone: span %+v, want the sums of %+v", sp, want)
	}
	d.SetUndone(MemberID{10}, 20, 0)
	if sp := d.span(1); sp.count != 6 {
		t.Fatalf("redone: count %d, want 6", sp.count)
	}
}

// BenchmarkSyncAnswer measures a responder answering the filter of a
// requester that holds the same 1,000 packets: from the filter memo, by
// testing each packet (a store without the memo), and through Scan alone.
// BenchmarkSyncBuild measures the requester building that filter.
func BenchmarkSyncAnswer(b *testing.B) {
	for _, tc := range []struct {
		name string
		wrap func(*MemStore) Store
	}{
		{"memo", func(s *MemStore) Store { return s }},
		{"digest-scan", func(s *MemStore) Store {
			return struct {
				DigestScanner
				Store
			}{s, s}
		}},
		{"scan", func(s *MemStore) Store { return plainStore{s} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req, resp, _ := benchSyncPair(b, tc.wrap)
			sc := req.buildSync(req.node.env.Now(), nil)
			for i := 0; tc.name == "memo" && i < 5000; i++ { // until the memo has the prefix drawn
				f := readFilter(sc.filter.appendBytes(nil), int(sc.filter.m), sc.filter.k, sc.filter.prefix)
				if resp.answerCovered(f, sc.lo, sc.hi, 1) {
					break
				}
				sc = req.buildSync(req.node.env.Now(), nil)
			}
			var blk wire.SyncBlock
			sc.block(&blk)
			blk.Filter = sc.filter.appendBytes(nil)
			from := req.node.LAN()
			for b.Loop() {
				resp.answerSync(from, nil, req.node.pub, &blk, req.globalTime())
			}
		})
	}
}

func BenchmarkSyncBuild(b *testing.B) {
	for _, tc := range []struct {
		name string
		wrap func(*MemStore) Store
	}{
		{"memo", func(s *MemStore) Store { return s }},
		{"scan", func(s *MemStore) Store { return plainStore{s} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req, _, _ := benchSyncPair(b, tc.wrap)
			var sc *syncCache
			for b.Loop() {
				sc = req.buildSync(req.node.env.Now(), sc)
			}
		})
	}
}

// benchSyncPair returns two communities holding the same 1,000 packets
// in stores of one pool, wrapped by wrap.
func benchSyncPair(b *testing.B, wrap func(*MemStore) Store) (req, resp *Community, pool *Pool) {
	def, err := NewDefinition([]Meta{{Name: "text", Type: 1, Distribution: FullSync, Priority: 128, Destination: ToCommunity}})
	if err != nil {
		b.Fatal(err)
	}
	pool = NewPool()
	f := newFakeNet()
	var cs []*Community
	for i := range 2 {
		st := NewMemStore(pool)
		for k := range 1000 {
			pkt := []byte(fmt.Sprintf("packet %d", k))
			r := Record{Member: MemberID{byte(k), byte(k >> 8)}, Meta: 1, GlobalTime: uint64(2 + k), Digest: PacketDigest(pkt), Packet: pkt}
			if _, err := st.Put(&r); err != nil {
				b.Fatal(err)
			}
		}
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{20, 0, 2, byte(i + 1)}), 7759)
		n := f.addNode(b, a, func(o *Options) {
			o.Definition = def
			o.OpenStore = func(wire.CID) (Store, error) { return wrap(st), nil }
		})
		c := mustJoin(n)
		c.gt = 1001
		cs = append(cs, c)
	}
	return cs[0], cs[1], pool
}
