package runner

import (
	"crypto/sha256"
	"hash"
)

// asyncHash is a SHA-256 that hashes on its own goroutine: Write copies
// the bytes into a batch and hands full batches over in order; Sum waits
// until every byte written so far is hashed. The result is the SHA-256 of
// the bytes written, whatever the scheduling. It lets the simulator's
// single event loop hand the trace hash to the machine's second core.
type asyncHash struct {
	cur  []byte
	work chan hashItem
	free chan []byte
	h    hash.Hash // touched only by the worker, and by Sum after a barrier
}

// hashItem is a batch to hash, or (with ack set) a barrier.
type hashItem struct {
	b   []byte
	ack chan struct{}
}

const asyncBatch = 256 << 10

var _ hash.Hash = (*asyncHash)(nil)

func newAsyncHash() *asyncHash {
	a := &asyncHash{work: make(chan hashItem, 8), free: make(chan []byte, 8), h: sha256.New()}
	a.cur = make([]byte, 0, asyncBatch)
	go a.run()
	return a
}

func (a *asyncHash) run() {
	for it := range a.work {
		if it.ack != nil {
			close(it.ack)
			continue
		}
		a.h.Write(it.b)
		select {
		case a.free <- it.b[:0]:
		default:
		}
	}
}

// Write implements hash.Hash.
func (a *asyncHash) Write(p []byte) (int, error) {
	if len(a.cur)+len(p) > cap(a.cur) {
		a.send()
	}
	a.cur = append(a.cur, p...)
	return len(p), nil
}

func (a *asyncHash) send() {
	if len(a.cur) == 0 {
		return
	}
	a.work <- hashItem{b: a.cur}
	select {
	case b := <-a.free:
		a.cur = b
	default:
		a.cur = make([]byte, 0, asyncBatch)
	}
}

// barrier returns once everything written so far is hashed.
func (a *asyncHash) barrier() {
	a.send()
	ack := make(chan struct{})
	a.work <- hashItem{ack: ack}
	<-ack
}

// Sum implements hash.Hash.
func (a *asyncHash) Sum(b []byte) []byte {
	a.barrier()
	return a.h.Sum(b)
}

// Reset implements hash.Hash.
func (a *asyncHash) Reset() {
	a.barrier()
	a.h.Reset()
}

// Size implements hash.Hash.
func (a *asyncHash) Size() int { return sha256.Size }

// BlockSize implements hash.Hash.
func (a *asyncHash) BlockSize() int { return sha256.BlockSize }

// close stops the worker after hashing what was written.
func (a *asyncHash) close() {
	a.barrier()
	close(a.work)
}
