// Package storetest is the conformance suite for protocol.Store implementations.
package storetest

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Message types used by the suite.
const (
	metaA wire.Type = 1
	metaB wire.Type = 2
	metaC wire.Type = 200
)

// Run runs every conformance test against stores made by newStore (each
// call returns a new, empty store).
func Run(t *testing.T, newStore func() protocol.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, func() protocol.Store)
	}{
		{"Empty", testEmpty},
		{"PutGet", testPutGet},
		{"PutCopiesPacket", testPutCopiesPacket},
		{"PacketSizes", testPacketSizes},
		{"IDs", testIDs},
		{"PutExists", testPutExists},
		{"SameGlobalTimeOtherMember", testSameGTOtherMember},
		{"Delete", testDelete},
		{"ScanRange", testScanRange},
		{"ScanOrder", testScanOrder},
		{"ScanMeta", testScanMeta},
		{"ScanStop", testScanStop},
		{"ScanMaxGlobalTime", testScanMaxGT},
		{"ScanTieOrder", testScanTieOrder},
		{"ScanNestedReads", testScanNestedReads},
		{"ScanMember", testScanMember},
		{"ScanMemberStop", testScanMemberStop},
		{"ScanMemberInterleaved", testScanMemberInterleaved},
		{"KeepNewestLast9", testKeepNewestLast9},
		{"KeepNewest", testKeepNewest},
		{"DeleteUpTo", testDeleteUpTo},
		{"CountGlobalTime", testCountGlobalTime},
		{"Sequence", testSequence},
		{"Undone", testUndone},
		{"UndoneDigests", testUndoneDigests},
		{"Model", testModel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

// member returns a deterministic member id for i.
func member(i int) protocol.MemberID {
	var m protocol.MemberID
	for j := range m {
		m[j] = byte(i*131 + j*7 + 1)
	}
	binary.BigEndian.PutUint32(m[:4], uint32(i)*2654435761)
	return m
}

// newRecord builds a record whose fake packet is
// member || meta || gt || seq || payload, so equal packets mean equal records.
func newRecord(m protocol.MemberID, meta wire.Type, gt uint64, seq uint32, payload string) *protocol.Record {
	pkt := make([]byte, 0, len(m)+1+8+4+len(payload))
	pkt = append(pkt, m[:]...)
	pkt = append(pkt, byte(meta))
	pkt = binary.BigEndian.AppendUint64(pkt, gt)
	pkt = binary.BigEndian.AppendUint32(pkt, seq)
	pkt = append(pkt, payload...)
	return &protocol.Record{Member: m, Meta: meta, GlobalTime: gt, Sequence: seq,
		Digest: protocol.PacketDigest(pkt), Packet: pkt}
}

func put(t *testing.T, s protocol.Store, r *protocol.Record) uint64 {
	t.Helper()
	id, err := s.Put(r)
	if err != nil {
		t.Fatalf("Put(member %x, meta %d, gt %d): %v", r.Member[:4], r.Meta, r.GlobalTime, err)
	}
	if id == 0 {
		t.Fatalf("Put(member %x, meta %d, gt %d): ID 0", r.Member[:4], r.Meta, r.GlobalTime)
	}
	return id
}

// clone copies a record handed out by a store, packet included.
func clone(r *protocol.Record) protocol.Record {
	c := *r
	c.Packet = bytes.Clone(r.Packet)
	return c
}

// sameRecord reports how got differs from want (ID is not compared if want.ID is 0).
func sameRecord(got, want protocol.Record) error {
	switch {
	case want.ID != 0 && got.ID != want.ID:
		return fmt.Errorf("ID %d, want %d", got.ID, want.ID)
	case got.ID == 0:
		return errors.New("ID 0")
	case got.Member != want.Member:
		return fmt.Errorf("member %x, want %x", got.Member[:4], want.Member[:4])
	case got.Meta != want.Meta:
		return fmt.Errorf("meta %d, want %d", got.Meta, want.Meta)
	case got.GlobalTime != want.GlobalTime:
		return fmt.Errorf("global time %d, want %d", got.GlobalTime, want.GlobalTime)
	case got.Sequence != want.Sequence:
		return fmt.Errorf("sequence %d, want %d", got.Sequence, want.Sequence)
	case got.Digest != want.Digest:
		return fmt.Errorf("digest %#x, want %#x", got.Digest, want.Digest)
	case got.Undone != want.Undone:
		return fmt.Errorf("undone %d, want %d", got.Undone, want.Undone)
	case !bytes.Equal(got.Packet, want.Packet):
		return fmt.Errorf("packet %x, want %x", got.Packet, want.Packet)
	}
	return nil
}

func checkGet(t *testing.T, s protocol.Store, want *protocol.Record) {
	t.Helper()
	got, ok := s.Get(want.Member, want.GlobalTime)
	if !ok {
		t.Fatalf("Get(member %x, gt %d): not found", want.Member[:4], want.GlobalTime)
	}
	if err := sameRecord(got, *want); err != nil {
		t.Fatalf("Get(member %x, gt %d): %v", want.Member[:4], want.GlobalTime, err)
	}
}

func checkAbsent(t *testing.T, s protocol.Store, m protocol.MemberID, gt uint64) {
	t.Helper()
	if r, ok := s.Get(m, gt); ok {
		t.Fatalf("Get(member %x, gt %d) = gt %d meta %d, want not found", m[:4], gt, r.GlobalTime, r.Meta)
	}
}

func scan(s protocol.Store, meta wire.Type, lo, hi uint64, desc bool) []protocol.Record {
	var out []protocol.Record
	s.Scan(meta, lo, hi, desc, func(r *protocol.Record) bool {
		out = append(out, clone(r))
		return true
	})
	return out
}

func scanMember(s protocol.Store, m protocol.MemberID, meta wire.Type) []protocol.Record {
	var out []protocol.Record
	s.ScanMember(m, meta, func(r *protocol.Record) bool {
		out = append(out, clone(r))
		return true
	})
	return out
}

func gts(rs []protocol.Record) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.GlobalTime
	}
	return out
}

func seq(lo, hi uint64) []uint64 {
	var out []uint64
	for g := lo; g <= hi; g++ {
		out = append(out, g)
	}
	return out
}

func testEmpty(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	checkAbsent(t, s, member(1), 1)
	if s.Delete(member(1), 1) {
		t.Error("Delete on empty store = true")
	}
	if n := s.Count(metaA); n != 0 {
		t.Errorf("Count = %d, want 0", n)
	}
	if g := s.GlobalTime(); g != 0 {
		t.Errorf("GlobalTime = %d, want 0", g)
	}
	if got := scan(s, metaA, 0, math.MaxUint64, false); len(got) != 0 {
		t.Errorf("Scan = %v, want nothing", gts(got))
	}
	if got := scanMember(s, member(1), metaA); len(got) != 0 {
		t.Errorf("ScanMember = %v, want nothing", gts(got))
	}
	if n := s.KeepNewest(member(1), metaA, 0); n != 0 {
		t.Errorf("KeepNewest = %d, want 0", n)
	}
	if n := s.DeleteUpTo(metaA, math.MaxUint64); n != 0 {
		t.Errorf("DeleteUpTo = %d, want 0", n)
	}
}

func testPutGet(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	recs := []*protocol.Record{
		newRecord(member(1), metaA, 10, 0, "hello"),
		newRecord(member(1), metaB, 11, 3, "world"),
		newRecord(member(2), metaC, 1, 1, ""),
		newRecord(member(3), metaA, math.MaxUint64, math.MaxUint32, "max"),
	}
	for _, r := range recs {
		r.ID = put(t, s, r)
	}
	for _, r := range recs {
		checkGet(t, s, r)
	}
	checkAbsent(t, s, member(1), 12)
	checkAbsent(t, s, member(2), 10)
	checkAbsent(t, s, member(99), 10)

	// The store does not keep the caller's Record.
	r := newRecord(member(4), metaA, 5, 0, "x")
	want := *r
	want.Packet = bytes.Clone(r.Packet)
	want.ID = put(t, s, r)
	r.GlobalTime, r.Member, r.Meta, r.Sequence, r.Digest = 6, member(5), metaB, 9, 1
	checkGet(t, s, &want)
	checkAbsent(t, s, member(5), 6)
}

func testPutCopiesPacket(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	r := newRecord(member(1), metaA, 7, 0, "payload")
	want := clone(r)
	want.ID = put(t, s, r)
	for i := range r.Packet {
		r.Packet[i] ^= 0xff
	}
	r.Packet = append(r.Packet[:0], "garbage"...)
	checkGet(t, s, &want)

	// A later Put does not disturb earlier packets.
	for g := uint64(8); g < 200; g++ {
		put(t, s, newRecord(member(1), metaA, g, 0, "more payload"))
	}
	checkGet(t, s, &want)
	got := scan(s, metaA, 7, 7, false)
	if len(got) != 1 {
		t.Fatalf("Scan(7, 7) returned %d records, want 1", len(got))
	}
	if err := sameRecord(got[0], want); err != nil {
		t.Fatalf("Scan(7, 7): %v", err)
	}
}

func testPacketSizes(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	var recs []*protocol.Record
	for i, n := range []int{0, 1, 1000, 200 << 10, 3, 300 << 10, 17} {
		payload := make([]byte, n)
		for j := range payload {
			payload[j] = byte(i + j*31)
		}
		r := newRecord(member(i), metaA, uint64(i+1), 0, string(payload))
		r.ID = put(t, s, r)
		recs = append(recs, r)
	}
	for _, r := range recs {
		checkGet(t, s, r)
	}
}

func testIDs(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	ids := map[uint64]*protocol.Record{}
	var recs []*protocol.Record
	for i := range 50 {
		r := newRecord(member(i%5), []wire.Type{metaA, metaB}[i%2], uint64(i/5+1), 0, "id")
		r.ID = put(t, s, r)
		if o := ids[r.ID]; o != nil {
			t.Fatalf("Put gave ID %d to gt %d and to gt %d", r.ID, o.GlobalTime, r.GlobalTime)
		}
		ids[r.ID] = r
		recs = append(recs, r)
	}
	// IDs are stable while stored, through deletes of other messages.
	for i, r := range recs {
		if i%3 == 0 {
			if !s.Delete(r.Member, r.GlobalTime) {
				t.Fatalf("Delete(gt %d) = false", r.GlobalTime)
			}
		}
	}
	for i, r := range recs {
		if i%3 != 0 {
			checkGet(t, s, r)
		}
	}
	for _, meta := range []wire.Type{metaA, metaB} {
		s.Scan(meta, 0, math.MaxUint64, false, func(got *protocol.Record) bool {
			if want := ids[got.ID]; want == nil {
				t.Errorf("Scan: unknown ID %d", got.ID)
			} else if err := sameRecord(*got, *want); err != nil {
				t.Errorf("Scan: %v", err)
			}
			return true
		})
	}
}

func testPutExists(t *testing.T, newStore func() protocol.Store) {
	orig := newRecord(member(1), metaA, 5, 2, "original")
	for _, tc := range []struct {
		name string
		r    *protocol.Record
	}{
		{"same", newRecord(member(1), metaA, 5, 2, "original")},
		{"other meta", newRecord(member(1), metaB, 5, 2, "original")},
		{"other packet", newRecord(member(1), metaA, 5, 2, "different")},
		{"other sequence", newRecord(member(1), metaA, 5, 3, "original")},
		{"other everything", newRecord(member(1), metaC, 5, 9, "different")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore()
			want := clone(orig)
			want.ID = put(t, s, orig)
			id, err := s.Put(tc.r)
			if !errors.Is(err, protocol.ErrExists) {
				t.Fatalf("second Put = %d, %v; want ErrExists", id, err)
			}
			checkGet(t, s, &want)
			if n := s.Count(want.Meta); n != 1 {
				t.Errorf("Count(%d) = %d, want 1", want.Meta, n)
			}
			if tc.r.Meta != want.Meta {
				if n := s.Count(tc.r.Meta); n != 0 {
					t.Errorf("Count(%d) = %d, want 0", tc.r.Meta, n)
				}
			}
			// After a delete the slot is free again.
			if !s.Delete(orig.Member, orig.GlobalTime) {
				t.Fatal("Delete = false")
			}
			tc.r.ID = put(t, s, tc.r)
			checkGet(t, s, tc.r)
		})
	}
}

func testSameGTOtherMember(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	var recs []*protocol.Record
	for i := range 6 {
		r := newRecord(member(i), []wire.Type{metaA, metaB}[i%2], 42, 0, "same gt")
		r.ID = put(t, s, r)
		recs = append(recs, r)
	}
	for _, r := range recs {
		checkGet(t, s, r)
	}
	if n := s.Count(metaA); n != 3 {
		t.Errorf("Count(A) = %d, want 3", n)
	}
	if got := scan(s, metaA, 42, 42, false); len(got) != 3 {
		t.Errorf("Scan(A, 42, 42) returned %d records, want 3", len(got))
	}
}

func testDelete(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	var recs []*protocol.Record
	for i := range 10 {
		r := newRecord(member(i%3), metaA, uint64(i+1), 0, "d")
		r.ID = put(t, s, r)
		recs = append(recs, r)
	}
	for _, tc := range []struct {
		m    protocol.MemberID
		gt   uint64
		want bool
	}{
		{member(0), 1, true},
		{member(0), 1, false}, // already gone
		{member(1), 1, false}, // wrong member
		{member(1), 5, true},
		{member(9), 5, false}, // unknown member
		{member(0), 11, false},
		{member(0), 10, true},
	} {
		before := s.Count(metaA)
		got := s.Delete(tc.m, tc.gt)
		if got != tc.want {
			t.Fatalf("Delete(member %x, gt %d) = %v, want %v", tc.m[:4], tc.gt, got, tc.want)
		}
		checkAbsent(t, s, tc.m, tc.gt)
		want := before
		if tc.want {
			want--
		}
		if n := s.Count(metaA); n != want {
			t.Fatalf("after Delete(gt %d): Count = %d, want %d", tc.gt, n, want)
		}
	}
	for _, r := range recs {
		if gt := r.GlobalTime; gt != 1 && gt != 5 && gt != 10 {
			checkGet(t, s, r)
		}
	}
	if got, want := gts(scan(s, metaA, 0, math.MaxUint64, false)), []uint64{2, 3, 4, 6, 7, 8, 9}; !slices.Equal(got, want) {
		t.Errorf("Scan after deletes = %v, want %v", got, want)
	}
}

// fill puts, for each member 0..members-1, meta metaA at global times
// 1..n where (gt + member) % 3 != 0, so members interleave irregularly.
func fill(t *testing.T, s protocol.Store, members, n int) map[uint64][]protocol.MemberID {
	t.Helper()
	at := map[uint64][]protocol.MemberID{}
	for gt := 1; gt <= n; gt++ {
		for m := range members {
			if (gt+m)%3 == 0 {
				continue
			}
			put(t, s, newRecord(member(m), metaA, uint64(gt), 0, "fill"))
			at[uint64(gt)] = append(at[uint64(gt)], member(m))
		}
	}
	return at
}

func testScanRange(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	at := fill(t, s, 3, 30)
	// Records of other metas inside the range must not show.
	put(t, s, newRecord(member(7), metaB, 10, 0, "other"))
	put(t, s, newRecord(member(7), metaC, 11, 0, "other"))
	for _, tc := range []struct {
		lo, hi uint64
	}{
		{0, math.MaxUint64},
		{1, 30},
		{5, 5},
		{5, 6},
		{0, 0},
		{0, 1},
		{30, 30},
		{30, math.MaxUint64},
		{31, math.MaxUint64},
		{10, 20},
		{20, 10},
		{math.MaxUint64, math.MaxUint64},
		{math.MaxUint64, 0},
	} {
		for _, desc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d-%d-desc=%v", tc.lo, tc.hi, desc), func(t *testing.T) {
				var want []uint64
				for gt := uint64(1); gt <= 30; gt++ {
					if gt >= tc.lo && gt <= tc.hi {
						for range at[gt] {
							want = append(want, gt)
						}
					}
				}
				if desc {
					slices.Reverse(want)
				}
				got := scan(s, metaA, tc.lo, tc.hi, desc)
				if !slices.Equal(gts(got), want) {
					t.Fatalf("Scan(A, %d, %d, %v) = %v, want %v", tc.lo, tc.hi, desc, gts(got), want)
				}
				for _, r := range got {
					if r.Meta != metaA {
						t.Fatalf("Scan(A) returned meta %d", r.Meta)
					}
					if !slices.Contains(at[r.GlobalTime], r.Member) {
						t.Fatalf("Scan returned member %x at gt %d, which has none", r.Member[:4], r.GlobalTime)
					}
				}
			})
		}
	}
}

func testScanOrder(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	order := []uint64{21, 20, 28, 27, 22, 23, 24, 26, 25, 1, 100, 50, 49, 51}
	for i, gt := range order {
		put(t, s, newRecord(member(i%4), metaA, gt, 0, "o"))
	}
	asc := slices.Sorted(slices.Values(order))
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	if got := gts(scan(s, metaA, 0, math.MaxUint64, false)); !slices.Equal(got, asc) {
		t.Errorf("ascending Scan = %v, want %v", got, asc)
	}
	if got := gts(scan(s, metaA, 0, math.MaxUint64, true)); !slices.Equal(got, desc) {
		t.Errorf("descending Scan = %v, want %v", got, desc)
	}
	if got, want := gts(scan(s, metaA, 22, 50, true)), []uint64{50, 49, 28, 27, 26, 25, 24, 23, 22}; !slices.Equal(got, want) {
		t.Errorf("descending Scan(22, 50) = %v, want %v", got, want)
	}
}

func testScanMeta(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	metas := []wire.Type{metaA, metaB, metaC}
	want := map[wire.Type][]uint64{}
	for gt := uint64(1); gt <= 30; gt++ {
		meta := metas[gt%3]
		if gt%7 == 0 {
			meta = metaC
		}
		put(t, s, newRecord(member(int(gt%2)), meta, gt, 0, "m"))
		want[meta] = append(want[meta], gt)
	}
	for _, meta := range metas {
		got := scan(s, meta, 0, math.MaxUint64, false)
		if !slices.Equal(gts(got), want[meta]) {
			t.Errorf("Scan(%d) = %v, want %v", meta, gts(got), want[meta])
		}
		for _, r := range got {
			if r.Meta != meta {
				t.Errorf("Scan(%d) returned meta %d at gt %d", meta, r.Meta, r.GlobalTime)
			}
		}
		if n := s.Count(meta); n != len(want[meta]) {
			t.Errorf("Count(%d) = %d, want %d", meta, n, len(want[meta]))
		}
	}
	if got := scan(s, 3, 0, math.MaxUint64, false); len(got) != 0 {
		t.Errorf("Scan(unused meta) = %v, want nothing", gts(got))
	}
}

func testScanStop(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	for gt := uint64(1); gt <= 20; gt++ {
		put(t, s, newRecord(member(1), metaA, gt, 0, "s"))
	}
	for _, tc := range []struct {
		stop int
		desc bool
		want []uint64
	}{
		{1, false, []uint64{1}},
		{3, false, []uint64{1, 2, 3}},
		{1, true, []uint64{20}},
		{4, true, []uint64{20, 19, 18, 17}},
		{20, false, seq(1, 20)},
	} {
		var got []uint64
		s.Scan(metaA, 0, math.MaxUint64, tc.desc, func(r *protocol.Record) bool {
			got = append(got, r.GlobalTime)
			return len(got) < tc.stop
		})
		if !slices.Equal(got, tc.want) {
			t.Errorf("Scan(desc=%v) stopping after %d = %v, want %v", tc.desc, tc.stop, got, tc.want)
		}
	}
}

func testScanMaxGT(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	const top = math.MaxUint64
	for _, gt := range []uint64{top, 1, top - 1, top - 2, 2} {
		put(t, s, newRecord(member(1), metaA, gt, 0, "max"))
	}
	put(t, s, newRecord(member(2), metaA, top, 0, "max"))
	for _, tc := range []struct {
		lo, hi uint64
		desc   bool
		want   []uint64
	}{
		{0, top, false, []uint64{1, 2, top - 2, top - 1, top, top}},
		{0, top, true, []uint64{top, top, top - 1, top - 2, 2, 1}},
		{top, top, false, []uint64{top, top}},
		{top - 1, top, false, []uint64{top - 1, top, top}},
		{3, top - 1, false, []uint64{top - 2, top - 1}},
		{3, top - 1, true, []uint64{top - 1, top - 2}},
	} {
		if got := gts(scan(s, metaA, tc.lo, tc.hi, tc.desc)); !slices.Equal(got, tc.want) {
			t.Errorf("Scan(%d, %d, %v) = %v, want %v", tc.lo, tc.hi, tc.desc, got, tc.want)
		}
	}
	if g := s.GlobalTime(); g != top {
		t.Errorf("GlobalTime = %d, want %d", g, uint64(top))
	}
	if n := s.DeleteUpTo(metaA, top-1); n != 4 {
		t.Errorf("DeleteUpTo(max-1) = %d, want 4", n)
	}
	if n := s.DeleteUpTo(metaA, top); n != 2 {
		t.Errorf("DeleteUpTo(max) = %d, want 2", n)
	}
	if n := s.Count(metaA); n != 0 {
		t.Errorf("Count = %d, want 0", n)
	}
}

func testScanTieOrder(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	// Many members at few global times, put in a scrambled order.
	rng := rand.New(rand.NewPCG(7, 7))
	type key struct {
		m  int
		gt uint64
	}
	var keys []key
	for m := range 12 {
		for gt := uint64(1); gt <= 5; gt++ {
			keys = append(keys, key{m, gt})
		}
	}
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	for _, k := range keys {
		put(t, s, newRecord(member(k.m), metaA, k.gt, 0, "tie"))
	}
	// Members that differ only in their last byte.
	for _, last := range []byte{9, 3, 200, 4} {
		m := member(99)
		m[len(m)-1] = last
		put(t, s, newRecord(m, metaA, 3, 0, "tie"))
		keys = append(keys, key{-1, 3})
	}
	ids := func(rs []protocol.Record) []uint64 {
		out := make([]uint64, len(rs))
		for i, r := range rs {
			out[i] = r.ID
		}
		return out
	}
	for _, desc := range []bool{false, true} {
		first := scan(s, metaA, 0, math.MaxUint64, desc)
		if len(first) != len(keys) {
			t.Fatalf("Scan returned %d records, want %d", len(first), len(keys))
		}
		// Equal global times come in ascending member id order.
		for i := 1; i < len(first); i++ {
			a, b := first[i-1], first[i]
			if desc {
				a, b = b, a
			}
			if c := cmp.Or(cmp.Compare(a.GlobalTime, b.GlobalTime), bytes.Compare(a.Member[:], b.Member[:])); c >= 0 {
				t.Fatalf("Scan(desc=%v): gt %d member %x before gt %d member %x", desc,
					first[i-1].GlobalTime, first[i-1].Member, first[i].GlobalTime, first[i].Member)
			}
		}
		for range 3 {
			// Reads in between must not change the order.
			s.Get(member(3), 3)
			scanMember(s, member(5), metaA)
			if again := scan(s, metaA, 0, math.MaxUint64, desc); !slices.Equal(ids(first), ids(again)) {
				t.Fatalf("two Scans (desc=%v) disagree on order:\n%v\n%v", desc, ids(first), ids(again))
			}
		}
		// A sub-range scan lists equal global times in the same order.
		var sub []uint64
		for _, r := range first {
			if r.GlobalTime >= 2 && r.GlobalTime <= 4 {
				sub = append(sub, r.ID)
			}
		}
		if got := ids(scan(s, metaA, 2, 4, desc)); !slices.Equal(got, sub) {
			t.Fatalf("Scan(2, 4, desc=%v) order %v, want %v (as in the full scan)", desc, got, sub)
		}
	}
}

// testScanNestedReads checks that reads inside a Scan or ScanMember
// callback (allowed: fn only must not modify the store) leave the record
// being visited intact and the outer iteration complete.
func testScanNestedReads(t *testing.T, newStore func() protocol.Store) {
	for _, outer := range []string{"Scan", "ScanMember"} {
		t.Run(outer, func(t *testing.T) {
			s := newStore()
			for gt := uint64(1); gt <= 5; gt++ {
				put(t, s, newRecord(member(1), metaA, gt, uint32(gt), "outer"))
				put(t, s, newRecord(member(2), metaA, gt+10, uint32(gt+10), "inner"))
				put(t, s, newRecord(member(2), metaB, gt, 0, "inner"))
			}
			var seen []uint64
			fn := func(r *protocol.Record) bool {
				before := clone(r)
				s.Scan(metaA, 15, 15, false, func(*protocol.Record) bool { return true })
				s.Scan(metaB, 0, math.MaxUint64, true, func(*protocol.Record) bool { return true })
				s.ScanMember(member(2), metaA, func(*protocol.Record) bool { return true })
				s.Get(member(2), 3)
				if err := sameRecord(clone(r), before); err != nil {
					t.Errorf("%s: record at gt %d changed by nested reads: %v", outer, before.GlobalTime, err)
				}
				seen = append(seen, r.GlobalTime)
				return true
			}
			if outer == "Scan" {
				s.Scan(metaA, 0, 5, false, fn)
			} else {
				s.ScanMember(member(1), metaA, fn)
			}
			if want := seq(1, 5); !slices.Equal(seen, want) {
				t.Errorf("%s with nested reads visited %v, want %v", outer, seen, want)
			}
		})
	}
}

func testScanMember(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	want := map[[2]int][]uint64{} // (member, meta index) -> gts
	metas := []wire.Type{metaA, metaB}
	order := []uint64{21, 20, 28, 27, 22, 23, 24, 26, 25, 5, 60, 40}
	for _, gt := range order {
		for m := range 3 {
			mi := int(gt+uint64(m)) % 2
			put(t, s, newRecord(member(m), metas[mi], gt, uint32(gt), "sm"))
			want[[2]int{m, mi}] = append(want[[2]int{m, mi}], gt)
		}
	}
	for m := range 4 {
		for mi, meta := range metas {
			w := slices.Sorted(slices.Values(want[[2]int{m, mi}]))
			got := scanMember(s, member(m), meta)
			if !slices.Equal(gts(got), w) {
				t.Errorf("ScanMember(%d, %d) = %v, want %v", m, meta, gts(got), w)
			}
			for _, r := range got {
				if r.Member != member(m) || r.Meta != meta || r.Sequence != uint32(r.GlobalTime) {
					t.Errorf("ScanMember(%d, %d) returned member %x meta %d seq %d", m, meta, r.Member[:4], r.Meta, r.Sequence)
				}
				checkGet(t, s, &r)
			}
		}
	}
	if got := scanMember(s, member(0), metaC); len(got) != 0 {
		t.Errorf("ScanMember(unused meta) = %v, want nothing", gts(got))
	}
}

func testScanMemberStop(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	for gt := uint64(1); gt <= 10; gt++ {
		put(t, s, newRecord(member(1), metaA, gt, 0, "x"))
	}
	var got []uint64
	s.ScanMember(member(1), metaA, func(r *protocol.Record) bool {
		got = append(got, r.GlobalTime)
		return len(got) < 3
	})
	if want := []uint64{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("ScanMember stopping after 3 = %v, want %v", got, want)
	}
}

// testScanMemberInterleaved interleaves Put, ScanMember, Delete, KeepNewest
// and DeleteUpTo to catch per-member indexes that go stale.
func testScanMemberInterleaved(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	held := map[int][]uint64{} // member -> gts of metaA
	check := func(step string) {
		t.Helper()
		for m := range 3 {
			w := slices.Sorted(slices.Values(held[m]))
			if got := gts(scanMember(s, member(m), metaA)); !slices.Equal(got, w) {
				t.Fatalf("%s: ScanMember(%d) = %v, want %v", step, m, got, w)
			}
		}
	}
	add := func(m int, gt uint64) {
		t.Helper()
		put(t, s, newRecord(member(m), metaA, gt, 0, "i"))
		held[m] = append(held[m], gt)
	}
	del := func(m int, gt uint64) {
		t.Helper()
		if !s.Delete(member(m), gt) {
			t.Fatalf("Delete(%d, %d) = false", m, gt)
		}
		held[m] = slices.DeleteFunc(held[m], func(g uint64) bool { return g == gt })
	}
	check("empty")
	add(0, 10)
	check("put 0/10")
	add(1, 10)
	add(0, 5)
	check("put 1/10, 0/5")
	add(0, 7)
	add(2, 7)
	add(0, 20)
	check("put 0/7, 2/7, 0/20")
	del(0, 7)
	check("delete 0/7")
	add(0, 7)
	check("put 0/7 again")
	add(0, 6)
	del(0, 20)
	del(1, 10)
	check("put 0/6, delete 0/20, 1/10")
	add(1, 1)
	add(1, 30)
	check("put 1/1, 1/30")
	if n := s.KeepNewest(member(0), metaA, 2); n != 2 {
		t.Fatalf("KeepNewest(0, 2) = %d, want 2", n)
	}
	held[0] = []uint64{7, 10}
	check("KeepNewest(0, 2)")
	add(0, 8)
	add(2, 3)
	check("put 0/8, 2/3")
	if n := s.DeleteUpTo(metaA, 7); n != 4 { // 0/7, 1/1, 2/3, 2/7
		t.Fatalf("DeleteUpTo(7) = %d, want 4", n)
	}
	held[0] = []uint64{8, 10}
	held[1] = []uint64{30}
	held[2] = nil
	check("DeleteUpTo(7)")
	add(2, 9)
	add(0, 9)
	add(0, 1)
	check("put 2/9, 0/9, 0/1")
	del(0, 1)
	del(0, 10)
	check("delete 0/1, 0/10")
}

func testKeepNewestLast9(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	m, other := member(1), member(2)
	// Another member's and another meta's history must stay untouched.
	for gt := uint64(1); gt <= 15; gt++ {
		put(t, s, newRecord(other, metaA, gt, 0, "other"))
		put(t, s, newRecord(m, metaB, gt, 0, "other meta"))
	}
	var held []uint64
	step := func(gt uint64) {
		t.Helper()
		put(t, s, newRecord(m, metaA, gt, 0, "last-9"))
		held = append(held, gt)
		slices.Sort(held)
		wantDel := max(len(held)-9, 0)
		held = held[wantDel:]
		if n := s.KeepNewest(m, metaA, 9); n != wantDel {
			t.Fatalf("after put %d: KeepNewest = %d, want %d", gt, n, wantDel)
		}
		if got := gts(scanMember(s, m, metaA)); !slices.Equal(got, held) {
			t.Fatalf("after put %d: held %v, want %v", gt, got, held)
		}
	}
	for _, gt := range []uint64{21, 20, 28, 27, 22, 23, 24, 26, 25} {
		step(gt)
	}
	if want := seq(20, 28); !slices.Equal(held, want) {
		t.Fatalf("model holds %v, want %v", held, want)
	}
	for _, gt := range []uint64{30, 35, 37, 31, 32, 34, 33, 36, 38, 45, 44, 43, 42, 41, 40, 39} {
		step(gt)
	}
	want := seq(37, 45)
	if got := gts(scanMember(s, m, metaA)); !slices.Equal(got, want) {
		t.Fatalf("final history %v, want %v", got, want)
	}
	if got := gts(scan(s, metaA, 16, math.MaxUint64, false)); !slices.Equal(got, want) {
		t.Fatalf("final Scan %v, want %v", got, want)
	}
	for gt := uint64(20); gt < 37; gt++ {
		checkAbsent(t, s, m, gt)
	}
	// A message older than the whole history is dropped right away.
	put(t, s, newRecord(m, metaA, 17, 0, "old"))
	if n := s.KeepNewest(m, metaA, 9); n != 1 {
		t.Fatalf("KeepNewest after old put = %d, want 1", n)
	}
	checkAbsent(t, s, m, 17)
	if got := gts(scanMember(s, m, metaA)); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	if got := gts(scanMember(s, other, metaA)); !slices.Equal(got, seq(1, 15)) {
		t.Fatalf("other member's history %v, want 1..15", got)
	}
	if got := gts(scanMember(s, m, metaB)); !slices.Equal(got, seq(1, 15)) {
		t.Fatalf("other meta's history %v, want 1..15", got)
	}
	if n := s.Count(metaA); n != 9+15 {
		t.Fatalf("Count(A) = %d, want %d", n, 9+15)
	}
}

func testKeepNewest(t *testing.T, newStore func() protocol.Store) {
	for _, tc := range []struct {
		name    string
		n       int
		put     []uint64
		want    []uint64
		deleted int
	}{
		{"history 1", 1, []uint64{5, 9, 3, 7}, []uint64{9}, 3},
		{"history 0", 0, []uint64{5, 9, 3}, nil, 3},
		{"history 3", 3, []uint64{5, 9, 3, 7, 1}, []uint64{5, 7, 9}, 2},
		{"history larger", 10, []uint64{5, 9, 3}, []uint64{3, 5, 9}, 0},
		{"history equal", 3, []uint64{5, 9, 3}, []uint64{3, 5, 9}, 0},
		{"empty", 2, nil, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore()
			m := member(1)
			for _, gt := range tc.put {
				put(t, s, newRecord(m, metaA, gt, 0, "k"))
				// Same global times for another member and another meta.
				put(t, s, newRecord(member(2), metaA, gt, 0, "k"))
				put(t, s, newRecord(m, metaB, gt+1000, 0, "k"))
			}
			if n := s.KeepNewest(m, metaA, tc.n); n != tc.deleted {
				t.Errorf("KeepNewest(%d) = %d, want %d", tc.n, n, tc.deleted)
			}
			if got := gts(scanMember(s, m, metaA)); !slices.Equal(got, tc.want) {
				t.Errorf("held %v, want %v", got, tc.want)
			}
			for _, gt := range tc.put {
				_, ok := s.Get(m, gt)
				if ok != slices.Contains(tc.want, gt) {
					t.Errorf("Get(%d) found = %v", gt, ok)
				}
			}
			all := slices.Sorted(slices.Values(tc.put))
			if got := gts(scanMember(s, member(2), metaA)); !slices.Equal(got, all) {
				t.Errorf("other member holds %v, want %v", got, all)
			}
			if got := scanMember(s, m, metaB); len(got) != len(tc.put) {
				t.Errorf("other meta holds %d, want %d", len(got), len(tc.put))
			}
			if n := s.Count(metaA); n != len(tc.want)+len(tc.put) {
				t.Errorf("Count(A) = %d, want %d", n, len(tc.want)+len(tc.put))
			}
			// Again: nothing more to delete.
			if n := s.KeepNewest(m, metaA, tc.n); n != 0 {
				t.Errorf("second KeepNewest(%d) = %d, want 0", tc.n, n)
			}
		})
	}
	t.Run("unknown member", func(t *testing.T) {
		s := newStore()
		put(t, s, newRecord(member(1), metaA, 1, 0, "k"))
		if n := s.KeepNewest(member(2), metaA, 0); n != 0 {
			t.Errorf("KeepNewest(unknown member) = %d, want 0", n)
		}
		if n := s.KeepNewest(member(1), metaB, 0); n != 0 {
			t.Errorf("KeepNewest(unused meta) = %d, want 0", n)
		}
		if n := s.Count(metaA); n != 1 {
			t.Errorf("Count = %d, want 1", n)
		}
	})
}

func testDeleteUpTo(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	at := fill(t, s, 3, 20) // metaA
	for gt := uint64(1); gt <= 20; gt++ {
		put(t, s, newRecord(member(0), metaB, gt+100, 0, "b")) // metaB, global times 101..120
		put(t, s, newRecord(member(4), metaB, gt, 0, "b"))     // and 1..20
	}
	// Build any per-member index before pruning.
	for m := range 3 {
		scanMember(s, member(m), metaA)
	}
	countUpTo := func(g uint64) int {
		n := 0
		for gt, ms := range at {
			if gt <= g {
				n += len(ms)
			}
		}
		return n
	}
	want := countUpTo(8)
	total := s.Count(metaA)
	if n := s.DeleteUpTo(metaA, 8); n != want {
		t.Fatalf("DeleteUpTo(A, 8) = %d, want %d", n, want)
	}
	if n := s.Count(metaA); n != total-want {
		t.Fatalf("Count(A) = %d, want %d", n, total-want)
	}
	if n := s.Count(metaB); n != 40 {
		t.Fatalf("Count(B) = %d, want 40", n)
	}
	if n := s.DeleteUpTo(metaA, 8); n != 0 {
		t.Fatalf("second DeleteUpTo(A, 8) = %d, want 0", n)
	}
	if n := s.DeleteUpTo(metaC, 100); n != 0 {
		t.Fatalf("DeleteUpTo(unused meta) = %d, want 0", n)
	}
	memberGTs := func(m int, lo uint64) []uint64 {
		var out []uint64
		for gt := lo; gt <= 20; gt++ {
			if slices.Contains(at[gt], member(m)) {
				out = append(out, gt)
			}
		}
		return out
	}
	for m := range 3 {
		if got, w := gts(scanMember(s, member(m), metaA)), memberGTs(m, 9); !slices.Equal(got, w) {
			t.Fatalf("ScanMember(%d) after DeleteUpTo = %v, want %v", m, got, w)
		}
		for gt := uint64(1); gt <= 8; gt++ {
			checkAbsent(t, s, member(m), gt)
		}
	}
	if got := gts(scan(s, metaA, 0, 8, false)); len(got) != 0 {
		t.Fatalf("Scan(A, 0, 8) after DeleteUpTo = %v, want nothing", got)
	}
	if got := scan(s, metaB, 0, math.MaxUint64, false); len(got) != 40 {
		t.Fatalf("Scan(B) returned %d records, want 40", len(got))
	}
	// Puts after pruning, including below the pruned global time.
	put(t, s, newRecord(member(0), metaA, 3, 0, "again"))
	put(t, s, newRecord(member(0), metaA, 50, 0, "again"))
	if got, w := gts(scanMember(s, member(0), metaA)), append(append([]uint64{3}, memberGTs(0, 9)...), 50); !slices.Equal(got, w) {
		t.Fatalf("ScanMember(0) after puts = %v, want %v", got, w)
	}
	if n := s.DeleteUpTo(metaA, math.MaxUint64); n != total-want+2 {
		t.Fatalf("DeleteUpTo(A, max) = %d, want %d", n, total-want+2)
	}
	for m := range 3 {
		if got := scanMember(s, member(m), metaA); len(got) != 0 {
			t.Fatalf("ScanMember(%d) after DeleteUpTo(max) = %v", m, gts(got))
		}
	}
	if got := gts(scanMember(s, member(4), metaB)); !slices.Equal(got, seq(1, 20)) {
		t.Fatalf("ScanMember(4, B) = %v, want 1..20", got)
	}
}

func testCountGlobalTime(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	type op struct {
		do      string // put, del, keep, prune
		m       int
		meta    wire.Type
		gt      uint64
		counts  [3]int // metaA, metaB, metaC after the op
		globalT uint64
	}
	for i, o := range []op{
		{"put", 1, metaA, 10, [3]int{1, 0, 0}, 10},
		{"put", 1, metaB, 5, [3]int{1, 1, 0}, 10},
		{"put", 2, metaA, 12, [3]int{2, 1, 0}, 12},
		{"put", 2, metaC, 11, [3]int{2, 1, 1}, 12},
		{"del", 2, metaA, 12, [3]int{1, 1, 1}, 12},
		{"put", 3, metaA, 3, [3]int{2, 1, 1}, 12},
		{"put", 3, metaA, 40, [3]int{3, 1, 1}, 40},
		{"keep", 3, metaA, 0, [3]int{1, 1, 1}, 40},
		{"prune", 0, metaC, 100, [3]int{1, 1, 0}, 40},
		{"put", 4, metaB, 39, [3]int{1, 2, 0}, 40},
		{"del", 1, metaA, 10, [3]int{0, 2, 0}, 40},
		{"prune", 0, metaB, math.MaxUint64, [3]int{0, 0, 0}, 40},
	} {
		switch o.do {
		case "put":
			put(t, s, newRecord(member(o.m), o.meta, o.gt, 0, "c"))
		case "del":
			if !s.Delete(member(o.m), o.gt) {
				t.Fatalf("op %d: Delete = false", i)
			}
		case "keep":
			s.KeepNewest(member(o.m), o.meta, int(o.gt))
		case "prune":
			s.DeleteUpTo(o.meta, o.gt)
		}
		for j, meta := range []wire.Type{metaA, metaB, metaC} {
			if n := s.Count(meta); n != o.counts[j] {
				t.Fatalf("op %d (%s %d/%d): Count(%d) = %d, want %d", i, o.do, o.m, o.gt, meta, n, o.counts[j])
			}
		}
		if g := s.GlobalTime(); g != o.globalT {
			t.Fatalf("op %d (%s %d/%d): GlobalTime = %d, want %d", i, o.do, o.m, o.gt, g, o.globalT)
		}
	}
	// A failed Put does not count.
	put(t, s, newRecord(member(1), metaA, 20, 0, "c"))
	if _, err := s.Put(newRecord(member(1), metaB, 20, 0, "dup")); !errors.Is(err, protocol.ErrExists) {
		t.Fatalf("duplicate Put: %v, want ErrExists", err)
	}
	if a, b := s.Count(metaA), s.Count(metaB); a != 1 || b != 0 {
		t.Fatalf("Count after duplicate Put = %d, %d; want 1, 0", a, b)
	}
}

func testSequence(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	seqs := []uint32{0, 1, 2, 255, 256, 65535, 65536, 1 << 31, math.MaxUint32}
	for i, sq := range seqs {
		put(t, s, newRecord(member(1), metaA, uint64(i+1), sq, "seq"))
	}
	for i, sq := range seqs {
		r, ok := s.Get(member(1), uint64(i+1))
		if !ok || r.Sequence != sq {
			t.Errorf("Get(gt %d) = seq %d (found %v), want %d", i+1, r.Sequence, ok, sq)
		}
	}
	for i, r := range scanMember(s, member(1), metaA) {
		if r.Sequence != seqs[i] {
			t.Errorf("ScanMember[%d].Sequence = %d, want %d", i, r.Sequence, seqs[i])
		}
	}
	for i, r := range scan(s, metaA, 0, math.MaxUint64, false) {
		if r.Sequence != seqs[i] {
			t.Errorf("Scan[%d].Sequence = %d, want %d", i, r.Sequence, seqs[i])
		}
	}
}

// model is the reference Store: a map by (member, global time).
type model struct {
	recs  map[mkey]protocol.Record
	maxGT uint64
}

type mkey struct {
	m  protocol.MemberID
	gt uint64
}

func (md *model) put(r *protocol.Record) error {
	k := mkey{r.Member, r.GlobalTime}
	if _, ok := md.recs[k]; ok {
		return protocol.ErrExists
	}
	md.recs[k] = clone(r)
	md.maxGT = max(md.maxGT, r.GlobalTime)
	return nil
}

// sorted returns the records matching keep, by global time then member.
func (md *model) sorted(keep func(*protocol.Record) bool) []protocol.Record {
	var out []protocol.Record
	for _, r := range md.recs {
		if keep(&r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b protocol.Record) int {
		return cmp.Or(cmp.Compare(a.GlobalTime, b.GlobalTime), bytes.Compare(a.Member[:], b.Member[:]))
	})
	return out
}

func (md *model) keepNewest(m protocol.MemberID, meta wire.Type, n int) int {
	rs := md.sorted(func(r *protocol.Record) bool { return r.Member == m && r.Meta == meta })
	drop := max(len(rs)-max(n, 0), 0)
	for _, r := range rs[:drop] {
		delete(md.recs, mkey{m, r.GlobalTime})
	}
	return drop
}

func (md *model) deleteUpTo(meta wire.Type, gt uint64) int {
	n := 0
	for k, r := range md.recs {
		if r.Meta == meta && r.GlobalTime <= gt {
			delete(md.recs, k)
			n++
		}
	}
	return n
}

func (md *model) count(meta wire.Type) int {
	n := 0
	for _, r := range md.recs {
		if r.Meta == meta {
			n++
		}
	}
	return n
}

// sameDigests checks a DigestScanner's report against the Scan it
// shortens.
func sameDigests(ds protocol.DigestScanner, got []protocol.DigestEntry, want []protocol.Record) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d entries, want %d", len(got), len(want))
	}
	for i, d := range got {
		w := want[i]
		if d.ID != w.ID || d.GlobalTime != w.GlobalTime || d.Digest != w.Digest {
			return fmt.Errorf("entry %d: {%d %d %x}, want {%d %d %x}", i, d.ID, d.GlobalTime, d.Digest, w.ID, w.GlobalTime, w.Digest)
		}
		if !bytes.Equal(ds.PacketOf(d.ID), w.Packet) {
			return fmt.Errorf("entry %d: PacketOf(%d) is not the scanned packet", i, d.ID)
		}
	}
	return nil
}

// sameScan checks got against the model's want, record by record, in the
// order the scan must follow.
func sameScan(got, want []protocol.Record) error {
	if !slices.Equal(gts(got), gts(want)) {
		return fmt.Errorf("global times %v, want %v", gts(got), gts(want))
	}
	for i, r := range got {
		if r.Member != want[i].Member {
			return fmt.Errorf("record %d (gt %d): member %x, want %x", i, r.GlobalTime, r.Member[:4], want[i].Member[:4])
		}
		if err := sameRecord(r, want[i]); err != nil {
			return fmt.Errorf("gt %d: %v", r.GlobalTime, err)
		}
	}
	return nil
}

func testModel(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	md := &model{recs: map[mkey]protocol.Record{}}
	rng := rand.New(rand.NewPCG(20240601, 42))
	metas := []wire.Type{metaA, metaB, metaC}
	const members = 6
	randGT := func() uint64 {
		if rng.IntN(50) == 0 {
			return math.MaxUint64 - rng.Uint64N(3)
		}
		return 1 + rng.Uint64N(80)
	}
	randBound := func() uint64 {
		switch rng.IntN(10) {
		case 0:
			return 0
		case 1:
			return math.MaxUint64
		}
		return randGT()
	}
	// Pick an existing key half of the time, so deletes and duplicates hit.
	randKey := func() (protocol.MemberID, uint64) {
		if len(md.recs) > 0 && rng.IntN(2) == 0 {
			r := md.sorted(func(*protocol.Record) bool { return true })[rng.IntN(len(md.recs))]
			return r.Member, r.GlobalTime
		}
		return member(rng.IntN(members)), randGT()
	}
	const steps = 4000
	for step := range steps {
		var desc string
		switch op := rng.IntN(100); {
		case op < 50:
			m, gt := randKey()
			r := newRecord(m, metas[rng.IntN(len(metas))], gt, rng.Uint32N(100), fmt.Sprint(rng.IntN(4)))
			if rng.IntN(8) == 0 {
				r.Undone = 1 + rng.Uint64N(1000)
			}
			desc = fmt.Sprintf("Put(%x, %d, gt %d, undone %d)", m[:2], r.Meta, gt, r.Undone)
			wantErr := md.put(r)
			id, err := s.Put(r)
			if !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
				t.Fatalf("step %d: %s: err %v, want %v", step, desc, err, wantErr)
			}
			if err == nil {
				if id == 0 {
					t.Fatalf("step %d: %s: ID 0", step, desc)
				}
				mr := md.recs[mkey{m, gt}]
				mr.ID = id
				md.recs[mkey{m, gt}] = mr
			}
		case op < 75:
			m, gt := randKey()
			desc = fmt.Sprintf("Delete(%x, gt %d)", m[:2], gt)
			_, want := md.recs[mkey{m, gt}]
			delete(md.recs, mkey{m, gt})
			if got := s.Delete(m, gt); got != want {
				t.Fatalf("step %d: %s = %v, want %v", step, desc, got, want)
			}
		case op < 90:
			m, meta, n := member(rng.IntN(members)), metas[rng.IntN(len(metas))], rng.IntN(6)
			desc = fmt.Sprintf("KeepNewest(%x, %d, %d)", m[:2], meta, n)
			want := md.keepNewest(m, meta, n)
			if got := s.KeepNewest(m, meta, n); got != want {
				t.Fatalf("step %d: %s = %d, want %d", step, desc, got, want)
			}
		case op < 91:
			m, gt := randKey()
			by := []uint64{0, 0, protocol.UndoneByTimeline, 1 + rng.Uint64N(1000)}[rng.IntN(4)]
			desc = fmt.Sprintf("SetUndone(%x, gt %d, %d)", m[:2], gt, by)
			r, want := md.recs[mkey{m, gt}]
			if want {
				r.Undone = by
				md.recs[mkey{m, gt}] = r
			}
			if got := s.SetUndone(m, gt, by); got != want {
				t.Fatalf("step %d: %s = %v, want %v", step, desc, got, want)
			}
		case op < 93:
			meta, gt := metas[rng.IntN(len(metas))], rng.Uint64N(40)
			desc = fmt.Sprintf("DeleteUpTo(%d, %d)", meta, gt)
			want := md.deleteUpTo(meta, gt)
			if got := s.DeleteUpTo(meta, gt); got != want {
				t.Fatalf("step %d: %s = %d, want %d", step, desc, got, want)
			}
		default:
			// Reads only; checked below.
			desc = "read"
		}

		// Compare after every step.
		if g := s.GlobalTime(); g != md.maxGT {
			t.Fatalf("step %d after %s: GlobalTime = %d, want %d", step, desc, g, md.maxGT)
		}
		for _, meta := range metas {
			if got, want := s.Count(meta), md.count(meta); got != want {
				t.Fatalf("step %d after %s: Count(%d) = %d, want %d", step, desc, meta, got, want)
			}
		}
		for range 3 {
			m, gt := randKey()
			got, ok := s.Get(m, gt)
			want, wok := md.recs[mkey{m, gt}]
			if ok != wok {
				t.Fatalf("step %d after %s: Get(%x, %d) found = %v, want %v", step, desc, m[:2], gt, ok, wok)
			}
			if ok {
				if err := sameRecord(got, want); err != nil {
					t.Fatalf("step %d after %s: Get(%x, %d): %v", step, desc, m[:2], gt, err)
				}
			}
		}
		{
			meta := metas[rng.IntN(len(metas))]
			lo, hi := randBound(), randBound()
			if rng.IntN(4) != 0 && lo > hi {
				lo, hi = hi, lo
			}
			dsc := rng.IntN(2) == 0
			want := md.sorted(func(r *protocol.Record) bool {
				return r.Meta == meta && r.GlobalTime >= lo && r.GlobalTime <= hi
			})
			if dsc {
				slices.Reverse(want)
			}
			got := scan(s, meta, lo, hi, dsc)
			if err := sameScan(got, want); err != nil {
				t.Fatalf("step %d after %s: Scan(%d, %d, %d, %v): %v", step, desc, meta, lo, hi, dsc, err)
			}
			if ds, ok := s.(protocol.DigestScanner); ok {
				inForce := slices.DeleteFunc(scan(s, meta, lo, hi, false), func(r protocol.Record) bool { return r.Undone != 0 })
				if err := sameDigests(ds, ds.AppendDigests(nil, meta, lo, hi), inForce); err != nil {
					t.Fatalf("step %d after %s: AppendDigests(%d, %d, %d): %v", step, desc, meta, lo, hi, err)
				}
			}
			// Stopping early gives a prefix of the full scan.
			if len(got) > 0 {
				k := 1 + rng.IntN(len(got))
				var part []protocol.Record
				s.Scan(meta, lo, hi, dsc, func(r *protocol.Record) bool {
					part = append(part, clone(r))
					return len(part) < k
				})
				if len(part) != k {
					t.Fatalf("step %d after %s: Scan stopped after %d gave %d records", step, desc, k, len(part))
				}
				for i := range part {
					if part[i].ID != got[i].ID {
						t.Fatalf("step %d after %s: Scan stopped after %d: record %d differs from the full scan", step, desc, k, i)
					}
				}
			}
		}
		for range 2 {
			m, meta := member(rng.IntN(members)), metas[rng.IntN(len(metas))]
			want := md.sorted(func(r *protocol.Record) bool { return r.Member == m && r.Meta == meta })
			got := scanMember(s, m, meta)
			if err := sameScan(got, want); err != nil {
				t.Fatalf("step %d after %s: ScanMember(%x, %d): %v", step, desc, m[:2], meta, err)
			}
		}
	}
	// Finally, a full comparison.
	for _, meta := range metas {
		want := md.sorted(func(r *protocol.Record) bool { return r.Meta == meta })
		if err := sameScan(scan(s, meta, 0, math.MaxUint64, false), want); err != nil {
			t.Fatalf("final Scan(%d): %v", meta, err)
		}
	}
}

// testUndone: the Undone mark is stored by Put, changed by SetUndone,
// reported by every read, kept through other writes, and gone with the
// message.
func testUndone(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	a := newRecord(member(1), metaA, 10, 0, "a")
	b := newRecord(member(2), metaA, 10, 0, "b")
	c := newRecord(member(1), metaB, 11, 1, "c")
	c.Undone = protocol.UndoneByTimeline
	for _, r := range []*protocol.Record{a, b, c} {
		r.ID = put(t, s, r)
	}
	checkGet(t, s, c)
	if s.SetUndone(member(3), 10, 5) {
		t.Error("SetUndone of a message not stored = true")
	}
	if s.SetUndone(member(1), 12, 5) {
		t.Error("SetUndone at a global time not stored = true")
	}
	for _, step := range []struct {
		r  *protocol.Record
		by uint64
	}{
		{a, b.ID},
		{a, b.ID}, // the same mark again
		{a, protocol.UndoneByTimeline},
		{c, 0},
		{b, c.ID},
		{a, 0},
	} {
		if !s.SetUndone(step.r.Member, step.r.GlobalTime, step.by) {
			t.Fatalf("SetUndone(gt %d, %d) = false", step.r.GlobalTime, step.by)
		}
		step.r.Undone = step.by
		for _, r := range []*protocol.Record{a, b, c} {
			checkGet(t, s, r)
		}
		for _, got := range scan(s, metaA, 0, math.MaxUint64, false) {
			want := a
			if got.Member == b.Member {
				want = b
			}
			if err := sameRecord(got, *want); err != nil {
				t.Fatalf("Scan after SetUndone(gt %d, %d): %v", step.r.GlobalTime, step.by, err)
			}
		}
		if got := scanMember(s, member(1), metaB); len(got) != 1 || got[0].Undone != c.Undone {
			t.Fatalf("ScanMember(B) = %+v, want undone %d", got, c.Undone)
		}
	}
	// undone messages still count, and go with Delete, KeepNewest and
	// DeleteUpTo; a new message at the same place starts in force
	if n := s.Count(metaA); n != 2 {
		t.Errorf("Count(A) = %d, want 2 (undone messages are stored)", n)
	}
	if !s.Delete(b.Member, b.GlobalTime) {
		t.Fatal("Delete of an undone message = false")
	}
	b2 := newRecord(member(2), metaA, 10, 0, "b again")
	b2.ID = put(t, s, b2)
	checkGet(t, s, b2)
	d := newRecord(member(4), metaC, 3, 0, "d")
	d.Undone = 9
	put(t, s, d)
	if n := s.DeleteUpTo(metaC, 3); n != 1 {
		t.Fatalf("DeleteUpTo of an undone message = %d, want 1", n)
	}
	e := newRecord(member(4), metaC, 4, 0, "e")
	e.ID = put(t, s, e)
	checkGet(t, s, e)
}

// testUndoneDigests: a DigestScanner leaves undone messages out, and
// shows them again once in force.
func testUndoneDigests(t *testing.T, newStore func() protocol.Store) {
	s := newStore()
	ds, ok := s.(protocol.DigestScanner)
	if !ok {
		t.Skip("not a DigestScanner")
	}
	var recs []*protocol.Record
	for gt := uint64(1); gt <= 10; gt++ {
		r := newRecord(member(int(gt%3)), metaA, gt, 0, "x")
		if gt == 4 {
			r.Undone = 77
		}
		r.ID = put(t, s, r)
		recs = append(recs, r)
	}
	s.SetUndone(recs[6].Member, recs[6].GlobalTime, protocol.UndoneByTimeline)
	s.SetUndone(recs[8].Member, recs[8].GlobalTime, 3)
	s.SetUndone(recs[8].Member, recs[8].GlobalTime, 0)
	var want []uint64
	for _, r := range recs {
		if r.GlobalTime != 4 && r.GlobalTime != 7 {
			want = append(want, r.GlobalTime)
		}
	}
	var got []uint64
	for _, d := range ds.AppendDigests(nil, metaA, 0, math.MaxUint64) {
		got = append(got, d.GlobalTime)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("AppendDigests = %v, want %v (undone 4 and 7 left out)", got, want)
	}
}
