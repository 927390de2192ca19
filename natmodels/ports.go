package natmodels

import "time"

// portFree reports whether a new mapping may take external port p: for the
// RFC 4787 model, no live mapping holds p; for a PerFlow box, no live flow
// holds the reply tuple (remote -> public:p), and the flow would not be
// translated to its own destination (a hairpinned flow to public:p from an
// inside endpoint that is not behind public:p; the returning packet would
// otherwise match the sender's own flow). A dead holder is freed.
func (x *Box) portFree(now time.Duration, p uint16, remote ep) bool {
	if x.b.PerFlow {
		if remote.p == p && remote.hi == x.pub.hi && remote.lo == x.pub.lo {
			return false
		}
		return x.tupleFree(now, portKeyOf(remote, p))
	}
	return x.mapPortFree(now, p)
}

// allocPort picks the external port of a new mapping (or flow to remote),
// for an inside endpoint whose port is want.
func (x *Box) allocPort(now time.Duration, want uint16, remote ep) (uint16, bool) {
	switch x.b.PortAlloc {
	case PortSequential:
		return x.sequentialPort(now, remote)
	case PortPreserve:
		if want >= x.lo && want <= x.hi && x.portFree(now, want, remote) {
			return want, true
		}
	}
	return x.randomPort(now, remote)
}

func (x *Box) span() int { return int(x.hi) - int(x.lo) + 1 }

// randomPort draws uniformly from the free ports of the range: rejection
// sampling, which is exactly uniform when it succeeds, then (on a nearly full
// range) a scan from a random start.
func (x *Box) randomPort(now time.Duration, remote ep) (uint16, bool) {
	n := x.span()
	for range randomTries {
		p := x.lo + uint16(x.r.IntN(n))
		if x.portFree(now, p, remote) {
			return p, true
		}
	}
	return x.scanPort(now, remote, x.lo+uint16(x.r.IntN(n)))
}

// sequentialPort hands out the first free port at or after the one after the
// last handed out, wrapping in the range; the first one is random.
func (x *Box) sequentialPort(now time.Duration, remote ep) (uint16, bool) {
	if !x.seqSet {
		x.seqNext = x.lo + uint16(x.r.IntN(x.span()))
		x.seqSet = true
	}
	p, ok := x.scanPort(now, remote, x.seqNext)
	if ok {
		x.seqNext = p + 1
		if p == x.hi {
			x.seqNext = x.lo
		}
	}
	return p, ok
}

// scanPort returns the first free port at or after start, wrapping in the
// range, or ok=false when every port is taken.
func (x *Box) scanPort(now time.Duration, remote ep, start uint16) (uint16, bool) {
	n := x.span()
	off := int(start - x.lo)
	for i := range n {
		p := x.lo + uint16((off+i)%n)
		if x.portFree(now, p, remote) {
			return p, true
		}
	}
	return 0, false
}
