package protocol_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/storetest"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, func() protocol.Store { return protocol.NewMemStore(nil) })
}

// TestMemStoreSharedPoolConformance runs the suite with every store
// interning into one pool, as in a simulation.
func TestMemStoreSharedPoolConformance(t *testing.T) {
	pool := protocol.NewPool()
	storetest.Run(t, func() protocol.Store { return protocol.NewMemStore(pool) })
	if pool.Len() == 0 || pool.Bytes() == 0 {
		t.Fatalf("shared pool holds %d packets, %d bytes", pool.Len(), pool.Bytes())
	}
}

func memRecord(m byte, meta wire.Type, gt uint64, payload string) *protocol.Record {
	var id protocol.MemberID
	for i := range id {
		id[i] = m + byte(i)
	}
	pkt := append(id[:], byte(meta))
	pkt = binary.BigEndian.AppendUint64(pkt, gt)
	pkt = append(pkt, payload...)
	return &protocol.Record{Member: id, Meta: meta, GlobalTime: gt,
		Digest: protocol.PacketDigest(pkt), Packet: pkt}
}

func TestMemStorePoolSharing(t *testing.T) {
	pool := protocol.NewPool()
	a, b := protocol.NewMemStore(pool), protocol.NewMemStore(pool)
	if a.Pool() != pool || b.Pool() != pool {
		t.Fatal("Pool() is not the pool given")
	}
	r1 := memRecord(1, 1, 10, "shared")
	r2 := memRecord(2, 1, 10, "only in b")
	ida, err := a.Put(r1)
	if err != nil {
		t.Fatal(err)
	}
	idb, err := b.Put(memRecord(1, 1, 10, "shared")) // equal packet, other slice
	if err != nil {
		t.Fatal(err)
	}
	if ida != idb {
		t.Fatalf("same packet: IDs %d and %d, want equal", ida, idb)
	}
	if pool.Len() != 1 || pool.Bytes() != uint64(len(r1.Packet)) {
		t.Fatalf("pool: Len %d, Bytes %d; want 1, %d", pool.Len(), pool.Bytes(), len(r1.Packet))
	}
	id2, err := b.Put(r2)
	if err != nil {
		t.Fatal(err)
	}
	if id2 == ida {
		t.Fatalf("different packets got the same ID %d", id2)
	}
	if want := uint64(len(r1.Packet) + len(r2.Packet)); pool.Len() != 2 || pool.Bytes() != want {
		t.Fatalf("pool: Len %d, Bytes %d; want 2, %d", pool.Len(), pool.Bytes(), want)
	}
	if got := string(pool.Packet(ida)); got != string(r1.Packet) {
		t.Fatalf("Pool.Packet(%d) = %x, want %x", ida, got, r1.Packet)
	}

	// Deleting from one store leaves the other, and the pool keeps the packet.
	if !a.Delete(r1.Member, r1.GlobalTime) {
		t.Fatal("Delete = false")
	}
	if _, ok := a.Get(r1.Member, r1.GlobalTime); ok {
		t.Fatal("a still holds the deleted packet")
	}
	if r, ok := b.Get(r1.Member, r1.GlobalTime); !ok || r.ID != ida || string(r.Packet) != string(r1.Packet) {
		t.Fatalf("b.Get = %+v, %v; want ID %d", r, ok, ida)
	}
	if pool.Len() != 2 {
		t.Fatalf("pool Len %d after delete, want 2", pool.Len())
	}
	// Putting it back interns nothing new and gives the same ID.
	if id, err := a.Put(r1); err != nil || id != ida {
		t.Fatalf("Put again = %d, %v; want %d", id, err, ida)
	}
	if pool.Len() != 2 {
		t.Fatalf("pool Len %d after re-put, want 2", pool.Len())
	}

	// Stores with pools of their own do not share.
	c, d := protocol.NewMemStore(nil), protocol.NewMemStore(nil)
	c.Put(memRecord(1, 1, 10, "shared"))
	d.Put(memRecord(1, 1, 10, "shared"))
	if c.Pool() == d.Pool() || c.Pool().Len() != 1 || d.Pool().Len() != 1 {
		t.Fatalf("own pools: same %v, Len %d and %d", c.Pool() == d.Pool(), c.Pool().Len(), d.Pool().Len())
	}
}

func TestMemStoreHasID(t *testing.T) {
	pool := protocol.NewPool()
	a, b := protocol.NewMemStore(pool), protocol.NewMemStore(pool)
	ids := make([]uint64, 5)
	for i := range ids {
		id, err := a.Put(memRecord(byte(i), wire.Type(1+i%2), uint64(7), "h"))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	idb, err := b.Put(memRecord(9, 1, 7, "only b"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		s    *protocol.MemStore
		id   uint64
		want bool
	}{
		{"zero", a, 0, false},
		{"held", a, ids[0], true},
		{"held other meta", a, ids[1], true},
		{"held last", a, ids[4], true},
		{"other store's", a, idb, false},
		{"own", b, idb, true},
		{"not in b", b, ids[2], false},
		{"beyond pool", a, uint64(pool.Len()) + 1, false},
		{"max", a, math.MaxUint64, false},
	} {
		if got := tc.s.HasID(tc.id); got != tc.want {
			t.Errorf("%s: HasID(%d) = %v, want %v", tc.name, tc.id, got, tc.want)
		}
	}
	a.Delete(memRecord(3, 0, 7, "").Member, 7)
	if a.HasID(ids[3]) {
		t.Errorf("HasID(%d) after Delete = true", ids[3])
	}
	if !a.HasID(ids[2]) || !a.HasID(ids[4]) {
		t.Error("Delete of one message lost another of the same global time")
	}
}

func benchRecords(n int) []*protocol.Record {
	recs := make([]*protocol.Record, n)
	for i := range recs {
		// Global times out of order, several members.
		gt := uint64((i*7919)%n + 1)
		r := memRecord(byte(i%16), wire.Type(1+i%3), gt, "benchmark payload of a typical small message....")
		recs[i] = r
	}
	return recs
}

func BenchmarkMemStorePut(b *testing.B) {
	recs := benchRecords(1000)
	b.ReportAllocs()
	for b.Loop() {
		s := protocol.NewMemStore(nil)
		for _, r := range recs {
			if _, err := s.Put(r); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkMemStoreScan(b *testing.B) {
	s := protocol.NewMemStore(nil)
	for i := range 1000 {
		if _, err := s.Put(memRecord(byte(i%16), 1, uint64(i+1), "benchmark payload")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = 0
		s.Scan(1, 0, math.MaxUint64, false, func(r *protocol.Record) bool {
			n += len(r.Packet)
			return true
		})
	}
	if n == 0 {
		b.Fatal("scan saw nothing")
	}
}

// TestPoolDigestCollision forces equal digests on different packets: the
// pool must still tell them apart by their bytes.
func TestPoolDigestCollision(t *testing.T) {
	pool := protocol.NewPool()
	a := protocol.NewMemStore(pool)
	var recs []*protocol.Record
	for i := range 4 {
		r := memRecord(byte(i), 1, uint64(10+i), "collide")
		r.Digest = 12345
		id, err := a.Put(r)
		if err != nil {
			t.Fatal(err)
		}
		r.ID = id
		recs = append(recs, r)
	}
	if pool.Len() != 4 {
		t.Fatalf("pool Len %d, want 4", pool.Len())
	}
	for _, r := range recs {
		got, ok := a.Get(r.Member, r.GlobalTime)
		if !ok || got.ID != r.ID || string(got.Packet) != string(r.Packet) {
			t.Fatalf("Get(gt %d) = ID %d packet %x, want ID %d packet %x", r.GlobalTime, got.ID, got.Packet, r.ID, r.Packet)
		}
	}
	// Another store finds each packet in the collision chain.
	b := protocol.NewMemStore(pool)
	for _, r := range recs {
		dup := *r
		dup.ID = 0
		dup.Packet = append([]byte(nil), r.Packet...)
		if id, err := b.Put(&dup); err != nil || id != r.ID {
			t.Fatalf("Put of interned packet gt %d = %d, %v; want ID %d", r.GlobalTime, id, err, r.ID)
		}
	}
	if pool.Len() != 4 {
		t.Fatalf("pool Len %d after second store, want 4", pool.Len())
	}
}
