package runner

import (
	"time"

	"github.com/dispersy-go/dispersy/natmodels"
)

// PunctureWindow is how long after an introduction both sides must have
// heard from each other for the puncture to count as a success.
const PunctureWindow = 30 * time.Second

// introRec is one introduction of peer y to peer x (x is the walker).
type introRec struct {
	x, y   int32
	t0     time.Duration
	xy, yx bool // x heard from y, y heard from x (within the window)
}

// openEntry is a host's view of one open introduction: who the other
// side is and where the record lives. Kept by value so that the scan on
// every delivery stays inside a few cache lines.
type openEntry struct {
	other int32
	rec   int32 // index into punctureTracker.recs
	t0    time.Duration
}

// punctureTracker measures NAT puncturing: for every introduction of Y to
// X it watches the network's deliveries for a packet from Y to X and one
// from X to Y within PunctureWindow of the introduction.
type punctureTracker struct {
	r *run
	// recs is a ring of open introductions in the order they were made;
	// recs[head:] are open, base is the ring index of recs[0].
	recs []introRec
	head int
	// open holds, per host, its open introductions in the order they were
	// made (a few per host: one per walk step and side; many for trackers).
	open [][]openEntry
	// mask[h] has bit (other & 63) set for every other host in open[h]:
	// most deliveries are ruled out by this one dense load.
	mask      []uint64
	pairs     map[string]*PairStats
	truncated int64
	base      int64
}

func newPunctureTracker(r *run) *punctureTracker {
	return &punctureTracker{r: r, pairs: make(map[string]*PairStats)}
}

// introduced records that an introducer introduced host y to walker x at
// now: the introduction's moment, before the response and the
// puncture-request travel.
func (p *punctureTracker) introduced(x, y int, now time.Duration) {
	if x == y {
		return
	}
	idx := int32(p.base + int64(len(p.recs)))
	p.recs = append(p.recs, introRec{x: int32(x), y: int32(y), t0: now})
	for len(p.open) <= max(x, y) {
		p.open = append(p.open, nil)
		p.mask = append(p.mask, 0)
	}
	p.mask[x] |= 1 << (uint(y) & 63)
	p.mask[y] |= 1 << (uint(x) & 63)
	// the same two peers may be introduced again while an earlier
	// introduction is still open: each is judged on its own
	p.open[x] = append(p.open[x], openEntry{other: int32(y), rec: idx, t0: now})
	p.open[y] = append(p.open[y], openEntry{other: int32(x), rec: idx, t0: now})
}

// delivered records that dst heard from src at now. It scans the shorter
// of the two hosts' lists (a tracker's is very long).
func (p *punctureTracker) delivered(src, dst int, now time.Duration) {
	if dst >= len(p.mask) || src >= len(p.open) || p.mask[dst]&(1<<(uint(src)&63)) == 0 {
		return
	}
	l, other := p.open[dst], int32(src)
	if len(p.open[src]) < len(l) {
		l, other = p.open[src], int32(dst)
	}
	for _, e := range l {
		if e.other != other || now-e.t0 > PunctureWindow {
			continue
		}
		rec := &p.recs[int64(e.rec)-p.base]
		if rec.x == int32(dst) {
			rec.xy = true
		} else {
			rec.yx = true
		}
	}
}

// pop drops host h's oldest open entry and recomputes its mask.
func (p *punctureTracker) pop(h int32) {
	l := p.open[h][1:]
	p.open[h] = l
	if len(l) > 64 {
		p.mask[h] = ^uint64(0) // a busy host (a tracker): keep every bit
		return
	}
	var m uint64
	for _, e := range l {
		m |= 1 << (uint(e.other) & 63)
	}
	p.mask[h] = m
}

// finalize tallies every introduction whose window closed by now. Windows
// that would end after the run are not counted.
func (p *punctureTracker) finalize(now time.Duration) {
	end := p.r.s.Duration
	for p.head < len(p.recs) {
		rec := p.recs[p.head]
		if rec.t0+PunctureWindow > now {
			break
		}
		p.head++
		// records close in the order they were opened: each is the
		// oldest entry of both its hosts' lists
		p.pop(rec.x)
		p.pop(rec.y)
		if rec.t0+PunctureWindow > end {
			p.truncated++
			continue
		}
		a, b := p.r.nodes[rec.x].profile, p.r.nodes[rec.y].profile
		if natmodels.Rank(a) > natmodels.Rank(b) {
			a, b = b, a
		}
		key := a + "/" + b
		ps := p.pairs[key]
		if ps == nil {
			ps = &PairStats{}
			p.pairs[key] = ps
		}
		ps.Introductions++
		if rec.xy && rec.yx {
			ps.Successes++
		}
		if rec.xy {
			ps.WalkerReached++
		}
	}
	if p.head > 1<<16 && p.head*2 > len(p.recs) {
		n := copy(p.recs, p.recs[p.head:])
		p.recs = p.recs[:n]
		p.base += int64(p.head)
		p.head = 0
	}
}

// punctEvent is one input of the puncture tracker, in event-loop order.
type punctEvent struct {
	kind uint8 // evIntro, evDeliver, evTick
	a, b int32
	t    time.Duration
}

const (
	evIntro uint8 = iota
	evDeliver
	evTick
)

// asyncPuncture feeds a punctureTracker on its own goroutine: the event
// loop only appends events to a batch, the tracker consumes them in the
// same order, so its results do not depend on scheduling.
type asyncPuncture struct {
	t      *punctureTracker
	closed bool
	cur    []punctEvent
	work   chan punctItem
	free   chan []punctEvent
}

type punctItem struct {
	evs []punctEvent
	ack chan struct{}
}

const punctBatch = 8192

func newAsyncPuncture(t *punctureTracker) *asyncPuncture {
	a := &asyncPuncture{t: t, work: make(chan punctItem, 16), free: make(chan []punctEvent, 16),
		cur: make([]punctEvent, 0, punctBatch)}
	go a.run()
	return a
}

func (a *asyncPuncture) run() {
	for it := range a.work {
		for _, e := range it.evs {
			switch e.kind {
			case evIntro:
				a.t.introduced(int(e.a), int(e.b), e.t)
			case evDeliver:
				a.t.delivered(int(e.a), int(e.b), e.t)
			case evTick:
				a.t.finalize(e.t)
			}
		}
		if it.ack != nil {
			close(it.ack)
		}
		if it.evs != nil {
			select {
			case a.free <- it.evs[:0]:
			default:
			}
		}
	}
}

func (a *asyncPuncture) add(e punctEvent) {
	a.cur = append(a.cur, e)
	if len(a.cur) == cap(a.cur) {
		a.send(nil)
	}
}

func (a *asyncPuncture) send(ack chan struct{}) {
	a.work <- punctItem{evs: a.cur, ack: ack}
	select {
	case b := <-a.free:
		a.cur = b
	default:
		a.cur = make([]punctEvent, 0, punctBatch)
	}
}

// barrier returns once every event added so far is consumed; the tracker
// may then be read until the next add.
func (a *asyncPuncture) barrier() {
	ack := make(chan struct{})
	a.send(ack)
	<-ack
}

// close consumes what is left and stops the worker; it is idempotent.
func (a *asyncPuncture) close() {
	if a.closed {
		return
	}
	a.closed = true
	a.barrier()
	close(a.work)
}
