package sqlstore

import (
	"bytes"
	"database/sql"
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

// TestUpgradeFromSchema1 opens a file written by schema version 1 (no
// undone column): its messages are kept, in force, and can be undone.
func TestUpgradeFromSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peer.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	r := record(1, 1, 5, 0, "old")
	for _, q := range []string{
		`CREATE TABLE communities (id INTEGER PRIMARY KEY, cid BLOB NOT NULL UNIQUE, global_time INTEGER NOT NULL DEFAULT 0)`,
		`CREATE TABLE messages (id INTEGER PRIMARY KEY, community INTEGER NOT NULL REFERENCES communities(id),
			member BLOB NOT NULL, global_time INTEGER NOT NULL, meta INTEGER NOT NULL, sequence INTEGER NOT NULL,
			digest INTEGER NOT NULL, packet BLOB NOT NULL, UNIQUE (community, member, global_time))`,
		`CREATE INDEX messages_sync ON messages (community, meta, global_time, member, digest)`,
		`INSERT INTO communities (id, cid, global_time) VALUES (1, x'0700000000000000000000000000000000000000', 5)`,
		`PRAGMA user_version = 1`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := raw.Exec(`INSERT INTO messages (community, member, global_time, meta, sequence, digest, packet) VALUES (1, ?, 5, 1, 0, ?, ?)`,
		r.Member[:], int64(r.Digest), r.Packet); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	d, err := Open(path)
	if err != nil {
		t.Fatalf("open a schema 1 file: %v", err)
	}
	s, err := d.Community(wire.CID{7})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s.Get(r.Member, 5)
	if !ok || got.Undone != 0 || !bytes.Equal(got.Packet, r.Packet) {
		t.Fatalf("message of schema 1: %+v, %v", got, ok)
	}
	if !s.SetUndone(r.Member, 5, protocol.UndoneByTimeline) {
		t.Fatal("SetUndone = false")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var version int
	if err := d.conn.QueryRowContext(d.ctx, "PRAGMA user_version").Scan(&version); err != nil || version != SchemaVersion {
		t.Fatalf("user_version = %d, %v; want %d", version, err, SchemaVersion)
	}
	s, _ = d.Community(wire.CID{7})
	if got, _ := s.Get(r.Member, 5); got.Undone != protocol.UndoneByTimeline {
		t.Fatalf("undone mark after reopen = %d, want UndoneByTimeline", got.Undone)
	}
	if ds := s.AppendDigests(nil, 1, 0, math.MaxUint64); len(ds) != 0 {
		t.Fatalf("AppendDigests shows an undone message: %v", ds)
	}
	if err := d.IntegrityCheck(); err != nil {
		t.Fatal(err)
	}
}
