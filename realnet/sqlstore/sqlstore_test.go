package sqlstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/storetest"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

func openTemp(t testing.TB) *DB {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "peer.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestConformance runs protocol/storetest on stores of one shared
// database (each a community of its own, so communities must not see
// each other's messages) and, flushing after every store is made, on
// the committed state.
func TestConformance(t *testing.T) {
	d := openTemp(t)
	n := 0
	storetest.Run(t, func() protocol.Store {
		n++
		var cid wire.CID
		binary.BigEndian.PutUint32(cid[:], uint32(n))
		s, err := d.Community(cid)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Flush(); err != nil {
			t.Fatal(err)
		}
		return s
	})
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := d.IntegrityCheck(); err != nil {
		t.Fatal(err)
	}
}

func record(member byte, meta wire.Type, gt uint64, seq uint32, payload string) *protocol.Record {
	var m protocol.MemberID
	m[0] = member
	pkt := append([]byte{member, byte(meta)}, binary.BigEndian.AppendUint64(nil, gt)...)
	pkt = append(pkt, payload...)
	return &protocol.Record{Member: m, Meta: meta, GlobalTime: gt, Sequence: seq, Digest: protocol.PacketDigest(pkt), Packet: pkt}
}

// TestReopen checks what a restart resumes: messages, counts, the global
// time (which deletes do not lower), IDs, and that writes not flushed
// before a crash are not visible to another connection.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peer.db")
	cid := wire.CID{7}
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Community(cid)
	if err != nil {
		t.Fatal(err)
	}
	var kept []*protocol.Record
	for gt := uint64(1); gt <= 20; gt++ {
		r := record(1, 1, gt, uint32(gt), "m")
		if _, err := s.Put(r); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, r)
	}
	top := record(2, 2, math.MaxUint64, 0, "top")
	if _, err := s.Put(top); err != nil {
		t.Fatal(err)
	}
	s.Delete(top.Member, top.GlobalTime)
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	// A write that is never flushed: another connection must not see it.
	if _, err := s.Put(record(3, 1, 99, 0, "unflushed")); err != nil {
		t.Fatal(err)
	}
	other, err := Open(path)
	if err == nil {
		os, err := other.Community(cid)
		if err != nil {
			t.Fatal(err)
		}
		if n := os.Count(1); n != 20 {
			t.Errorf("another connection counts %d messages, want the 20 committed", n)
		}
		if _, ok := os.Get(record(3, 1, 99, 0, "").Member, 99); ok {
			t.Error("another connection sees an unflushed write")
		}
		other.Close()
	} else {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil { // Close flushes
		t.Fatal(err)
	}

	d, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cids, err := d.Communities()
	if err != nil || len(cids) != 1 || cids[0] != cid {
		t.Fatalf("Communities() = %x, %v; want [%x]", cids, err, cid)
	}
	s, err = d.Community(cid)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want uint64
	}{
		{"global time", s.GlobalTime(), math.MaxUint64},
		{"count of type 1", uint64(s.Count(1)), 21},
		{"count of type 2", uint64(s.Count(2)), 0},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("after reopen: %s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
	for _, r := range kept {
		got, ok := s.Get(r.Member, r.GlobalTime)
		if !ok || got.ID != r.ID || got.Sequence != r.Sequence || !bytes.Equal(got.Packet, r.Packet) {
			t.Fatalf("after reopen: Get(gt %d) = %+v, %v", r.GlobalTime, got, ok)
		}
	}
	if _, err := s.Put(record(1, 1, 5, 0, "again")); !errors.Is(err, protocol.ErrExists) {
		t.Fatalf("Put over a reopened message: %v, want ErrExists", err)
	}
	if err := d.IntegrityCheck(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, path string
	}{
		{"directory", dir},
		{"under a file", filepath.Join(dir, "peer.db", "x.db")},
	}
	d, err := Open(filepath.Join(dir, "peer.db"))
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	for _, tt := range tests {
		if d, err := Open(tt.path); err == nil {
			d.Close()
			t.Errorf("%s: Open(%s) succeeded", tt.name, tt.path)
		}
	}
}
