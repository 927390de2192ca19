package emul

import (
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	"github.com/mdlayher/netlink"
	"github.com/vishvananda/netns"

	"github.com/dispersy-go/dispersy/simnet"
)

// delayQueue is the NFQUEUE number the Internet namespace's forward chain
// sends packets to.
const delayQueue = 7

// delayStage is the emulated Internet's wire: this kernel has no netem
// (sch_netem is not built in and cannot be loaded), so every packet the
// Internet bridge forwards waits in an NFQUEUE until this stage gives its
// verdict: accepted after the pair's one-way delay, or dropped with the
// scenario's loss probability. It sits after every NAT (on the bridge),
// where a delay cannot change which conntrack entry a NAT makes.
//
// As in the simulator, each unordered pair of public addresses gets one
// delay for the whole run, the latency distribution's quantile at a
// probability hashed from the pair and the seed; packets between a pair
// keep their order.
type delayStage struct {
	q      *nfqueue.Nfqueue
	lat    simnet.Latency
	latKey uint64
	loss   float64
	rng    *rand.Rand // loss draws, on the receive goroutine only

	mu      sync.Mutex
	pending pendingHeap
	wake    chan struct{}
	pair    map[[2]uint32]time.Duration

	queued, passed, dropped, errs atomic.Int64
	cancel                        context.CancelFunc
	done                          chan struct{}
}

type pendingPkt struct {
	due time.Time
	seq uint64
	id  uint32
}

type pendingHeap []pendingPkt

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)   { *h = append(*h, x.(pendingPkt)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// startDelay binds queue delayQueue in namespace ns and starts serving it.
func startDelay(ns netns.NsHandle, lat simnet.Latency, loss float64, seed uint64) (*delayStage, error) {
	q, err := nfqueue.Open(&nfqueue.Config{
		NetNS: int(ns), NfQueue: delayQueue, MaxPacketLen: 40, MaxQueueLen: 1 << 15,
		Copymode: nfqueue.NfQnlCopyPacket, AfFamily: 2, // AF_INET
	})
	if err != nil {
		return nil, fmt.Errorf("delay stage: nfqueue: %w", err)
	}
	_ = q.SetOption(netlink.NoENOBUFS, true)
	d := &delayStage{q: q, lat: lat, latKey: simnet.NewRand(seed, "emul-latency", 0).Uint64(), loss: loss,
		rng: simnet.NewRand(seed, "emul-loss", 0), wake: make(chan struct{}, 1),
		pair: map[[2]uint32]time.Duration{}, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	var seq uint64
	hook := func(a nfqueue.Attribute) int {
		if a.PacketID == nil {
			return 0
		}
		id := *a.PacketID
		d.queued.Add(1)
		if d.loss > 0 && d.rng.Float64() < d.loss {
			d.dropped.Add(1)
			if err := q.SetVerdict(id, nfqueue.NfDrop); err != nil {
				d.errs.Add(1)
			}
			return 0
		}
		var delay time.Duration
		if a.Payload != nil && len(*a.Payload) >= 20 {
			p := *a.Payload
			delay = d.pairDelay(binary.BigEndian.Uint32(p[12:16]), binary.BigEndian.Uint32(p[16:20]))
		}
		seq++
		d.mu.Lock()
		heap.Push(&d.pending, pendingPkt{due: time.Now().Add(delay), seq: seq, id: id})
		d.mu.Unlock()
		select {
		case d.wake <- struct{}{}:
		default:
		}
		return 0
	}
	errf := func(err error) int {
		if ctx.Err() != nil {
			return 1
		}
		var op *netlink.OpError
		if errors.As(err, &op) && op.Timeout() {
			return 0
		}
		d.errs.Add(1)
		return 0
	}
	if err := q.RegisterWithErrorFunc(ctx, hook, errf); err != nil {
		cancel()
		q.Close()
		return nil, fmt.Errorf("delay stage: register: %w", err)
	}
	go d.release(ctx)
	return d, nil
}

// pairDelay is the fixed one-way delay between two public addresses.
func (d *delayStage) pairDelay(a, b uint32) time.Duration {
	k := [2]uint32{min(a, b), max(a, b)}
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.pair[k]; ok {
		return v
	}
	v := max(d.lat.Quantile(simnet.PairProbability(d.latKey, a, b)), 0)
	d.pair[k] = v
	return v
}

// release accepts each held packet when its time comes.
func (d *delayStage) release(ctx context.Context) {
	defer close(d.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		d.mu.Lock()
		now := time.Now()
		var due []uint32
		for d.pending.Len() > 0 && !d.pending[0].due.After(now) {
			due = append(due, heap.Pop(&d.pending).(pendingPkt).id)
		}
		next := time.Hour
		if d.pending.Len() > 0 {
			next = d.pending[0].due.Sub(now)
		}
		d.mu.Unlock()
		for _, id := range due {
			if err := d.q.SetVerdict(id, nfqueue.NfAccept); err != nil {
				d.errs.Add(1)
			} else {
				d.passed.Add(1)
			}
		}
		t.Reset(next)
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

// stats returns how many packets the stage saw, passed and dropped, and
// how many verdicts or reads failed.
func (d *delayStage) stats() (queued, passed, dropped, errs int64) {
	return d.queued.Load(), d.passed.Load(), d.dropped.Load(), d.errs.Load()
}

// close stops the stage; packets still held are dropped by the kernel
// when the queue's socket closes.
func (d *delayStage) close() {
	d.cancel()
	<-d.done
	d.q.Close()
}
