package simnet

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
)

// NewRand returns the random stream of one consumer of a run: node i is
// ("node", i), NAT box i is ("nat", i), the loss process is ("loss", 0), a
// workload driver might use ("workload", 0). The stream is a PCG seeded from
// SHA-256(seed, label, index), so streams of different consumers are
// independent: extra draws by one never shift another's.
func NewRand(seed uint64, label string, index int) *rand.Rand {
	s1, s2 := streamSeed(seed, label, index)
	return rand.New(rand.NewPCG(s1, s2))
}

// streamSeed hashes (seed, label, index) into two 64-bit words.
func streamSeed(seed uint64, label string, index int) (uint64, uint64) {
	var buf [8]byte
	h := sha256.New()
	binary.LittleEndian.PutUint64(buf[:], seed)
	h.Write(buf[:])
	binary.LittleEndian.PutUint64(buf[:], uint64(len(label)))
	h.Write(buf[:])
	h.Write([]byte(label))
	binary.LittleEndian.PutUint64(buf[:], uint64(int64(index)))
	h.Write(buf[:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return binary.LittleEndian.Uint64(sum[0:8]), binary.LittleEndian.Uint64(sum[8:16])
}

// mix64 is the splitmix64 finaliser: a fast, well-mixing bijection on uint64.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
