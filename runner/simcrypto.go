package runner

import (
	"crypto/ed25519"
	"crypto/sha256"
	"sync"

	"github.com/dispersy-go/dispersy/protocol"
)

// pipelined is the ed25519 scheme as the simulator runs it: real Ed25519
// signatures, byte for byte what protocol.Ed25519 produces, computed on
// worker goroutines while the single-threaded event loop goes on.
//
// A node's AppendSign reserves the 64 signature bytes; the network's seal
// hook (simnet.Config.Seal) hands the network's own copy of the datagram
// to a worker, which writes the signature in place; the network waits for
// it before the datagram is hashed, delivered or recycled. Verification of
// a signature produced here is memoised: the worker records SHA-256 of the
// signed key and bytes under the signature, and Verify answers true only
// when that record matches exactly, so its answers are those of
// ed25519.Verify. Anything else (a forged or altered packet) goes through
// ed25519.Verify. Results are therefore independent of how many workers
// run or how they are scheduled.
type pipelined struct {
	jobs    chan *signJob
	pending *signJob // reserved by AppendSign, taken by seal (event-loop only)
	wg      sync.WaitGroup

	mu   sync.Mutex
	memo [2]map[[ed25519.SignatureSize]byte][32]byte // current and previous generation
	size int
	// kept memoises the signatures of stored messages, which every node
	// verifies: signed on the loop (AppendSignNow), kept for the whole run.
	kept map[[ed25519.SignatureSize]byte][32]byte
}

// memoGeneration bounds the memo: after this many signatures the older
// generation is dropped (a packet is delivered long before that).
const memoGeneration = 1 << 20

type signJob struct {
	priv ed25519.PrivateKey
	pub  []byte
	n    int // datagram length, signature included
	buf  []byte
	done chan struct{}
}

func (j *signJob) wait() { <-j.done }

var _ protocol.Scheme = (*pipelined)(nil)

func newPipelined(workers int) *pipelined {
	p := &pipelined{jobs: make(chan *signJob, 4096), kept: make(map[[ed25519.SignatureSize]byte][32]byte)}
	p.memo[0] = make(map[[ed25519.SignatureSize]byte][32]byte)
	p.memo[1] = make(map[[ed25519.SignatureSize]byte][32]byte)
	for i := 0; i < max(1, workers); i++ {
		p.wg.Add(1)
		go p.work()
	}
	return p
}

// close stops the workers; every sealed datagram must have been waited for.
func (p *pipelined) close() {
	close(p.jobs)
	p.wg.Wait()
}

func (p *pipelined) work() {
	defer p.wg.Done()
	for j := range p.jobs {
		msg := j.buf[:j.n-ed25519.SignatureSize]
		sig := j.buf[j.n-ed25519.SignatureSize : j.n]
		copy(sig, ed25519.Sign(j.priv, msg))
		h := digest(j.pub, msg)
		var key [ed25519.SignatureSize]byte
		copy(key[:], sig)
		p.mu.Lock()
		if p.size >= memoGeneration {
			p.memo[1], p.memo[0] = p.memo[0], make(map[[ed25519.SignatureSize]byte][32]byte)
			p.size = 0
		}
		p.memo[0][key] = h
		p.size++
		p.mu.Unlock()
		close(j.done)
	}
}

func digest(pub, msg []byte) [32]byte {
	h := sha256.New()
	h.Write(pub)
	h.Write(msg)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Name implements protocol.Scheme: it is Ed25519.
func (p *pipelined) Name() string { return "ed25519" }

// SignatureLen implements protocol.Scheme.
func (p *pipelined) SignatureLen() int { return ed25519.SignatureSize }

// NewKey implements protocol.Scheme with the same keys as protocol.Ed25519.
func (p *pipelined) NewKey(seed [32]byte) protocol.PrivateKey {
	priv := ed25519.NewKeyFromSeed(seed[:])
	return &pipeKey{p: p, priv: priv, pub: priv.Public().(ed25519.PublicKey)}
}

// Verify implements protocol.Scheme.
func (p *pipelined) Verify(pub, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	var key [ed25519.SignatureSize]byte
	copy(key[:], sig)
	p.mu.Lock()
	if h, ok := p.kept[key]; ok {
		p.mu.Unlock()
		if h == digest(pub, msg) {
			return true
		}
		return ed25519.Verify(pub, msg, sig)
	}
	h, ok := p.memo[0][key]
	if ok {
		delete(p.memo[0], key)
	} else if h, ok = p.memo[1][key]; ok {
		delete(p.memo[1], key)
	}
	p.mu.Unlock()
	if ok && h == digest(pub, msg) {
		return true
	}
	return ed25519.Verify(pub, msg, sig)
}

// seal is the network's hook: called with the network's copy of every
// datagram a node sends, right after the node's Send.
func (p *pipelined) seal(pkt []byte) func() {
	j := p.pending
	p.pending = nil
	if j == nil || pkt == nil {
		return nil // unsigned, or dropped before it flew: nothing to compute
	}
	if len(pkt) != j.n {
		panic("runner: a signed datagram was not sent right after it was signed")
	}
	j.buf = pkt
	j.done = make(chan struct{})
	p.jobs <- j
	return j.wait
}

type pipeKey struct {
	p    *pipelined
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func (k *pipeKey) Public() []byte { return k.pub }

// AppendSign reserves the signature; the worker fills it in.
func (k *pipeKey) AppendSign(dst, msg []byte) []byte {
	if k.p.pending != nil {
		panic("runner: two signatures reserved before a send")
	}
	if len(dst) != len(msg) || (len(msg) > 0 && &dst[0] != &msg[0]) {
		panic("runner: the pipelined signer signs the datagram it is appended to")
	}
	k.p.pending = &signJob{priv: k.priv, pub: k.pub, n: len(msg) + ed25519.SignatureSize}
	var zero [ed25519.SignatureSize]byte
	return append(dst, zero[:]...)
}

// AppendSignNow signs on the calling goroutine (for messages a node
// stores, whose bytes must be complete at once) and memoises the signature
// for the rest of the run.
func (k *pipeKey) AppendSignNow(dst, msg []byte) []byte {
	sig := ed25519.Sign(k.priv, msg)
	var key [ed25519.SignatureSize]byte
	copy(key[:], sig)
	h := digest(k.pub, msg)
	k.p.mu.Lock()
	k.p.kept[key] = h
	k.p.mu.Unlock()
	return append(dst, sig...)
}
