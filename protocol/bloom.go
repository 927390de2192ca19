package protocol

import (
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/bits-and-blooms/bloom/v3"
)

// syncFilter is a sync bloom filter: a bits-and-blooms filter whose keys
// are packet digests, salted by the one-byte prefix that travels with it.
//
// The library's own Add/Test hash the key bytes with murmur3 on every call
// and reduce each position with a division. A responder tests every packet
// in the requested range against the requester's filter, about 10^9 tests
// in a 100,000-node run, so the keys are hashed once (PacketDigest, kept by
// the store) and a filter only mixes the digest with its salt: each of the
// k positions is one splitmix64 output (see add), mapped onto [0, m) with a
// multiply-high (Lemire's fast range) instead of a division, and a test
// stops at the first clear bit. The bits live in the library's bitset.
// BenchmarkFilterTest measures both ways.
type syncFilter struct {
	f      *bloom.BloomFilter
	words  []uint64
	m      uint64
	k      int
	prefix uint8
	s1     uint64 // the salt, from the prefix
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
	f := &syncFilter{}
	f.reset(m, k, prefix)
	return f
}

// reset empties f and gives it m bits, k functions and prefix, reusing its
// words when they are the right size.
func (f *syncFilter) reset(m, k int, prefix uint8) {
	n := (m + 63) / 64
	if f.f == nil || f.m != uint64(m) || len(f.words) != n {
		f.words = make([]uint64, n)
		f.f = bloom.FromWithM(f.words, uint(m), uint(k))
	} else {
		clear(f.words)
	}
	f.m, f.k, f.prefix = uint64(m), k, prefix
	f.s1 = mix64(uint64(prefix)*golden + 0x632BE59BD9B4E019)
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	return x ^ x>>31
}

// golden is splitmix64's increment, 2^64 / φ.
const golden = 0x9E3779B97F4A7C15

// add sets the key's k positions. Position i is the splitmix64 output for
// the state digest ^ salt + (i+1)·golden, mapped onto [0, m): the k
// positions are independent and uniform, so a filter with s of m bits set
// shows an absent key with probability exactly (s/m)^k. Double hashing
// (h1 + i·h2), cheaper by k-2 mixes per key, makes the positions of one key
// an arithmetic progression; the keys whose progression folds onto few
// bits show far more often than (s/m)^k while a filter is sparse (at a
// tenth of capacity, 1.6 times; at a hundredth, a hundred times).
func (f *syncFilter) add(digest uint64) {
	x := digest ^ f.s1
	b := f.f.BitSet()
	for i := 0; i < f.k; i++ {
		x += golden
		p, _ := bits.Mul64(mix64(x), f.m)
		b.Set(uint(p))
	}
}

func (f *syncFilter) test(digest uint64) bool {
	x := digest ^ f.s1
	w := f.words
	for i := 0; i < f.k; i++ {
		x += golden
		p, _ := bits.Mul64(mix64(x), f.m)
		if w[p>>6]&(1<<(p&63)) == 0 {
			return false
		}
	}
	return true
}

// covers reports whether every bit set in words is set in f: then every
// key of a filter with those words (same size, functions and prefix)
// tests positive in f.
func (f *syncFilter) covers(words []uint64) bool {
	if len(words) != len(f.words) {
		return false
	}
	for i, w := range words {
		if w&^f.words[i] != 0 {
			return false
		}
	}
	return true
}

// appendBytes appends the filter's m/8 bytes: bit p in byte p/8, least
// significant bit first (Dispersy's layout).
func (f *syncFilter) appendBytes(b []byte) []byte {
	n := int(f.m / 8)
	full := n / 8
	for _, w := range f.words[:full] {
		b = binary.LittleEndian.AppendUint64(b, w)
	}
	for i := full * 8; i < n; i++ {
		b = append(b, byte(f.words[i/8]>>(8*(i%8))))
	}
	return b
}

// load makes f the filter of m bits, k functions and prefix whose wire
// bytes are data (Dispersy's layout), reusing f's words.
func (f *syncFilter) load(data []byte, m, k int, prefix uint8) {
	f.reset(m, k, prefix)
	words := f.words
	full := min(len(data)/8, len(words))
	for i := 0; i < full; i++ {
		words[i] = binary.LittleEndian.Uint64(data[i*8:])
	}
	for i := full * 8; i < len(data) && i/8 < len(words); i++ {
		words[i/8] |= uint64(data[i]) << (8 * (i % 8))
	}
}

// readFilter returns a new filter holding the wire bytes data.
func readFilter(data []byte, m, k int, prefix uint8) *syncFilter {
	f := &syncFilter{}
	f.load(data, m, k, prefix)
	return f
}

// expectedFPRate is the false-positive rate of a filter of m bits and k
// functions holding n keys: (1 - e^(-kn/m))^k.
func expectedFPRate(m, k, n int) float64 {
	return math.Pow(1-math.Exp(-float64(k)*float64(n)/float64(m)), float64(k))
}
