package runner

import (
	"net/netip"
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
	xy, yx bool      // x heard from y, y heard from x (within the window)
	prev   *introRec // older introduction of the same pair, still open
}

// punctureTracker measures NAT puncturing: for every introduction of Y to
// X it watches the network's deliveries for a packet from Y to X and one
// from X to Y within PunctureWindow.
type punctureTracker struct {
	r          *run
	pending    map[uint64]*introRec // (receiver<<32 | sender) -> open introduction
	fifo       []*introRec
	head       int
	pairs      map[string]*PairStats
	unresolved int64
	truncated  int64
}

func newPunctureTracker(r *run) *punctureTracker {
	return &punctureTracker{r: r, pending: make(map[uint64]*introRec), pairs: make(map[string]*PairStats)}
}

func pairKey(recv, send int32) uint64 { return uint64(uint32(recv))<<32 | uint64(uint32(send)) }

// introduced is called when an introducer introduces the peer it knows at
// introduced to the walker it knows at requester: the introduction's
// moment, before the response and the puncture-request travel.
func (p *punctureTracker) introduced(requester, introduced netip.AddrPort) {
	x, ok1 := p.r.net.ResolvePublic(requester)
	y, ok2 := p.r.net.ResolvePublic(introduced)
	if !ok1 || !ok2 {
		p.unresolved++
		return
	}
	xi := int32(x)
	yi := int32(y)
	if xi == yi {
		return
	}
	rec := &introRec{x: xi, y: yi, t0: p.r.net.Now()}
	// the same two peers may be introduced again (either way round) while
	// an earlier introduction is still open: both are judged
	if old := p.pending[pairKey(xi, yi)]; old != nil {
		rec.prev = old
	}
	p.pending[pairKey(xi, yi)] = rec
	p.pending[pairKey(yi, xi)] = rec
	p.fifo = append(p.fifo, rec)
}

// delivered is the network's delivery hook.
func (p *punctureTracker) delivered(src, dst int) {
	rec := p.pending[pairKey(int32(dst), int32(src))]
	if rec == nil {
		return
	}
	now := p.r.net.Now()
	for ; rec != nil; rec = rec.prev {
		if now-rec.t0 > PunctureWindow {
			return
		}
		if int32(dst) == rec.x {
			rec.xy = true
		} else {
			rec.yx = true
		}
		if rec.prev != nil && now-rec.prev.t0 > PunctureWindow {
			rec.prev = nil // older ones are closed; let them go
		}
	}
}

// finalize tallies every introduction whose window closed by now. Windows
// that would end after the run are not counted.
func (p *punctureTracker) finalize(now time.Duration) {
	end := p.r.s.Duration
	for p.head < len(p.fifo) {
		rec := p.fifo[p.head]
		if rec.t0+PunctureWindow > now {
			break
		}
		p.fifo[p.head] = nil
		p.head++
		for _, k := range []uint64{pairKey(rec.x, rec.y), pairKey(rec.y, rec.x)} {
			if p.pending[k] == rec {
				delete(p.pending, k)
			}
		}
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
	}
	if p.head > 4096 && p.head*2 > len(p.fifo) {
		p.fifo = append(p.fifo[:0], p.fifo[p.head:]...)
		p.head = 0
	}
}
