package sqlstore

import (
	"testing"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

func benchStore(b *testing.B, n int) (*DB, *Store) {
	d := openTemp(b)
	s, err := d.Community(wire.CID{1})
	if err != nil {
		b.Fatal(err)
	}
	for gt := 1; gt <= n; gt++ {
		if _, err := s.Put(record(1, 1, uint64(gt), 0, "a payload of about a hundred bytes, as a text message of the peer would carry it.")); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.Flush(); err != nil {
		b.Fatal(err)
	}
	return d, s
}

// BenchmarkPut is one Put into the open transaction (no commit).
func BenchmarkPut(b *testing.B) {
	d, s := benchStore(b, 0)
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Put(record(2, 1, uint64(i+1), 0, "a payload of about a hundred bytes, as a text message of the peer would carry it.")); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			if err := d.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkPutCommit is one Put and its own commit (synchronous=FULL).
func BenchmarkPutCommit(b *testing.B) {
	d, s := benchStore(b, 0)
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Put(record(2, 1, uint64(i+1), 0, "x")); err != nil {
			b.Fatal(err)
		}
		if err := d.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet is the duplicate check every received message costs.
func BenchmarkGet(b *testing.B) {
	_, s := benchStore(b, 10000)
	var m protocol.MemberID
	m[0] = 1
	b.ResetTimer()
	for i := range b.N {
		if _, ok := s.Get(m, uint64(i%10000+1)); !ok {
			b.Fatal("missing")
		}
	}
}

// BenchmarkAppendDigests scans 1,000 digests, as a sync answer does.
func BenchmarkAppendDigests(b *testing.B) {
	_, s := benchStore(b, 10000)
	var dst []protocol.DigestEntry
	b.ResetTimer()
	for range b.N {
		dst = s.AppendDigests(dst[:0], 1, 5001, 6000)
		if len(dst) != 1000 {
			b.Fatal(len(dst))
		}
	}
}

// BenchmarkScan1000 scans 1,000 records with packets, as a filter build does.
func BenchmarkScan1000(b *testing.B) {
	_, s := benchStore(b, 10000)
	b.ResetTimer()
	for range b.N {
		n := 0
		s.Scan(1, 5001, 10000, false, func(*protocol.Record) bool { n++; return n < 1000 })
	}
}
