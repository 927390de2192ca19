package protocol

import (
	"encoding/binary"
	"math"

	"github.com/bits-and-blooms/bloom/v3"
)

// syncFilter is a sync bloom filter: a bits-and-blooms filter whose keys
// are packet digests, salted by the one-byte prefix that travels with it.
//
// The library's own Add/Test hash the key bytes with murmur3 on every call.
// A responder tests every packet in the requested range against the
// requester's filter, about 10^9 tests in a 100,000-node run, so the keys
// are hashed once (PacketDigest, kept by the store) and a filter only mixes
// the digest with its salt (two rounds of the splitmix64 finaliser) and
// derives its k positions by double hashing (Kirsch and Mitzenmacher). The
// positions are tested with the library's TestLocations and set in its
// bitset. BenchmarkFilterTest measures both ways.
type syncFilter struct {
	f      *bloom.BloomFilter
	m      uint64
	k      int
	prefix uint8
	s1, s2 uint64
}

// filterParams returns Dispersy's bloom parameters for m bits at error rate
// p: the capacity n = floor(m ln²2 / |ln p|) and k = ceil(ln2 · m / n).
func filterParams(m int, p float64) (capacity, k int) {
	capacity = int(float64(m) * math.Ln2 * math.Ln2 / math.Abs(math.Log(p)))
	if capacity < 1 {
		capacity = 1
	}
	k = int(math.Ceil(math.Ln2 * float64(m) / float64(capacity)))
	return capacity, max(k, 1)
}

// bitsFor returns the filter size, a multiple of 64 bits, that holds n keys
// at error rate p (bits-and-blooms' estimate).
func bitsFor(n int, p float64) int {
	m, _ := bloom.EstimateParameters(uint(max(n, 1)), p)
	return int((m + 63) / 64 * 64)
}

func newSyncFilter(m, k int, prefix uint8) *syncFilter {
	words := make([]uint64, (m+63)/64)
	return wrapFilter(words, m, k, prefix)
}

func wrapFilter(words []uint64, m, k int, prefix uint8) *syncFilter {
	f := &syncFilter{f: bloom.FromWithM(words, uint(m), uint(k)), m: uint64(m), k: k, prefix: prefix}
	f.s1 = mix64(uint64(prefix)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019)
	f.s2 = mix64(uint64(prefix)*0xC2B2AE3D27D4EB4F + 0x165667B19E3779F9)
	return f
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	return x ^ x>>31
}

func (f *syncFilter) hashes(digest uint64) (h1, h2 uint64) {
	return mix64(digest ^ f.s1), mix64(digest^f.s2) | 1
}

func (f *syncFilter) add(digest uint64) {
	h1, h2 := f.hashes(digest)
	b := f.f.BitSet()
	for i := 0; i < f.k; i++ {
		b.Set(uint((h1 + uint64(i)*h2) % f.m))
	}
}

func (f *syncFilter) test(digest uint64) bool {
	h1, h2 := f.hashes(digest)
	var locs [32]uint64
	k := min(f.k, len(locs))
	for i := 0; i < k; i++ {
		locs[i] = h1 + uint64(i)*h2
	}
	return f.f.TestLocations(locs[:k])
}

// appendBytes appends the filter's m/8 bytes: bit p in byte p/8, least
// significant bit first (Dispersy's layout).
func (f *syncFilter) appendBytes(b []byte) []byte {
	words := f.f.BitSet().Words()
	n := int(f.m / 8)
	for i := 0; i < n; i++ {
		b = append(b, byte(words[i/8]>>(8*(i%8))))
	}
	return b
}

// readFilter wraps the wire bytes of a filter of m bits, reusing words.
func readFilter(words []uint64, data []byte, m, k int, prefix uint8) (*syncFilter, []uint64) {
	n := (m + 63) / 64
	if cap(words) < n {
		words = make([]uint64, n)
	}
	words = words[:n]
	clear(words)
	full := len(data) / 8
	for i := 0; i < full; i++ {
		words[i] = binary.LittleEndian.Uint64(data[i*8:])
	}
	for i := full * 8; i < len(data); i++ {
		words[i/8] |= uint64(data[i]) << (8 * (i % 8))
	}
	return wrapFilter(words, m, k, prefix), words
}

// expectedFPRate is the false-positive rate of a filter of m bits and k
// functions holding n keys: (1 - e^(-kn/m))^k.
func expectedFPRate(m, k, n int) float64 {
	return math.Pow(1-math.Exp(-float64(k)*float64(n)/float64(m)), float64(k))
}
