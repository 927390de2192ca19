package protocol

import (
	"math"
	"net/netip"
	"slices"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// maxGT bounds every global time and range bound, as Dispersy's SQLite
// integers do.
const maxGT = math.MaxInt64

// skipCurve is Dispersy's _SKIP_CURVE_STEPS: after c fresh filters in a row
// brought nothing, a request goes without a sync block with probability
// skipCurve[c-1].
var skipCurve = [...]float64{0, 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}

// syncCache is the last sync filter sent, with its range (Dispersy's
// SyncCache). Packets stored later that fall in the range are added to it.
type syncCache struct {
	lo, hi         uint64
	modulo, offset uint16
	filter         *syncFilter
	keys           int // packets in the filter
	capacity       int // packets the filter holds at the design error rate
	timesUsed      int
	responses      int
	target         netip.AddrPort
}

func (sc *syncCache) block(b *wire.SyncBlock) {
	*b = wire.SyncBlock{TimeLow: sc.lo, TimeHigh: sc.hi, Modulo: sc.modulo, Offset: sc.offset,
		Functions: uint8(sc.filter.k), Bits: uint16(sc.filter.m), Prefix: sc.filter.prefix}
}

// selItem is one packet picked for a filter.
type selItem struct {
	gt     uint64
	digest uint64
}

// globalTime is the community's global time as Dispersy reports it: the
// highest stored global time, at least 1.
func (c *Community) globalTime() uint64 { return max(c.gt, 1) }

// GlobalTime returns the community's Lamport clock: the highest global
// time of any stored message, at least 1.
func (c *Community) GlobalTime() uint64 { return c.globalTime() }

// acceptable returns the highest global time a stored message may carry:
// max(own global time, median of the verified candidates' global times
// when more than 5 are known) + AcceptableGlobalTimeRange.
func (c *Community) acceptable(now Time) uint64 {
	cfg := &c.node.cfg
	if c.accValid && now.Sub(c.accAt) < cfg.AcceptableGlobalTimeCache {
		return c.acc
	}
	vals := c.node.s.gts[:0]
	for _, x := range c.cands.list {
		if x.globalTime == 0 {
			continue
		}
		if cat := x.Category(now, cfg); cat == CategoryWalk || cat == CategoryStumble {
			vals = append(vals, x.globalTime)
		}
	}
	var median uint64
	if len(vals) > 5 {
		slices.Sort(vals)
		median = vals[len(vals)/2]
	}
	c.node.s.gts = vals[:0]
	base := max(c.globalTime(), median)
	acc := uint64(maxGT)
	if base < maxGT-cfg.AcceptableGlobalTimeRange {
		acc = base + cfg.AcceptableGlobalTimeRange
	}
	c.acc, c.accAt, c.accValid = acc, now, true
	return acc
}

// claimSync returns the sync block for an introduction-request to target,
// or nil to send none (Dispersy's dispersy_claim_sync_bloom_filter).
func (c *Community) claimSync(target netip.AddrPort, now Time) *syncCache {
	if c.store == nil {
		return nil
	}
	cfg := &c.node.cfg
	if sc := c.sc; sc != nil {
		if sc.responses > 0 {
			if cfg.SyncSkip {
				c.skip = 0
			}
			if sc.timesUsed < cfg.SyncCacheReuse {
				sc.timesUsed++
				sc.responses = 0
				sc.target = target
				return sc
			}
		} else if sc.timesUsed == 0 {
			c.skip = min(c.skip+1, len(skipCurve))
		}
	}
	if cfg.SyncSkip && c.skip > 0 && c.node.env.Rand().Float64() < skipCurve[c.skip-1] {
		c.sc = nil
		return nil
	}
	c.sc = c.buildSync(now)
	c.sc.target = target
	return c.sc
}

// buildSync picks a global-time range and fills a new filter with the
// packets in it (Dispersy's "largest" strategy).
func (c *Community) buildSync(now Time) *syncCache {
	n := c.node
	cfg := &n.cfg
	acc := c.acceptable(now)
	if len(c.def.synced) == 0 {
		return c.nothingToSync(acc)
	}
	capacity, k := filterParams(cfg.SyncBloomBits, cfg.SyncBloomErrorRate)
	gt := c.globalTime()
	r := n.env.Rand()
	pivot := int64(gt) - int64(r.ExpFloat64()*float64(gt)/2)
	if pivot < 1 {
		pivot = int64(r.Float64() * float64(gt))
	}
	var lo, hi uint64
	var data []selItem
	if pivot > 1 && c.nrSync >= capacity {
		var right, left [2]uint64
		var rdata []selItem
		right, rdata = c.selectRange(uint64(pivot)-1, capacity, true, acc, n.s.sel[:0])
		if len(rdata) == capacity {
			ldata := make([]selItem, 0, capacity+1)
			left, ldata = c.selectRange(uint64(pivot)+1, capacity, false, acc, ldata)
			span := func(rg [2]uint64) uint64 {
				h := rg[1]
				if h == 0 {
					h = gt
				}
				return h - min(h, rg[0])
			}
			if span(left) > span(right) {
				right, rdata = left, ldata
			}
		}
		lo, hi, data = right[0], right[1], rdata
	} else {
		lo, hi = 1, acc
		var fixed bool
		data, fixed = c.selectAndFix(0, capacity, true, n.s.sel[:0])
		if len(data) > 0 && fixed {
			hi = data[len(data)-1].gt
			c.nrSync = capacity + 1
		}
	}
	if len(data) == 0 {
		n.s.sel = data[:0]
		return c.nothingToSync(acc)
	}
	bits := cfg.SyncBloomBits
	if cfg.SyncBloomFit {
		bits = min(bits, bitsFor(len(data), cfg.SyncBloomErrorRate))
		capacity, k = filterParams(bits, cfg.SyncBloomErrorRate)
	}
	f := newSyncFilter(bits, k, uint8(r.IntN(256)))
	for _, it := range data {
		f.add(it.digest)
	}
	sc := &syncCache{lo: min(lo, acc), hi: min(hi, acc), modulo: 1, offset: 0, filter: f,
		keys: len(data), capacity: capacity}
	if sc.lo == 0 {
		sc.lo = 1
	}
	if sc.hi < sc.lo {
		sc.hi = sc.lo
	}
	if len(data) <= cap(n.s.sel) {
		n.s.sel = data[:0]
	}
	return sc
}

// nothingToSync is Dispersy's filter for a node with nothing to offer: 8
// bits, error rate 0.1 (k = 6), prefix 0, range [1, acceptable].
func (c *Community) nothingToSync(acc uint64) *syncCache {
	return &syncCache{lo: 1, hi: acc, modulo: 1, filter: newSyncFilter(8, 6, 0), capacity: 0}
}

// selectAndFix returns up to n synced packets with global time > gt
// (ascending) or < gt (descending, returned ascending). When more exist
// it drops every packet of the global time at the cut, so that a global
// time is wholly inside or outside the selection, and reports fixed.
func (c *Community) selectAndFix(gt uint64, n int, higher bool, out []selItem) ([]selItem, bool) {
	out = out[:0]
	for _, m := range c.def.synced {
		got := 0
		add := func(r *Record) bool {
			out = append(out, selItem{gt: r.GlobalTime, digest: r.Digest})
			got++
			return got <= n
		}
		if higher {
			if gt < maxGT {
				c.store.Scan(m.Type, gt+1, maxGT, false, add)
			}
		} else if gt > 1 {
			c.store.Scan(m.Type, 1, gt-1, true, add)
		}
	}
	if len(c.def.synced) > 1 {
		if higher {
			slices.SortStableFunc(out, func(a, b selItem) int { return cmpU64(a.gt, b.gt) })
		} else {
			slices.SortStableFunc(out, func(a, b selItem) int { return cmpU64(b.gt, a.gt) })
		}
	}
	fixed := false
	if len(out) > n {
		fixed = true
		cut := out[n].gt
		out = out[:n]
		for len(out) > 0 && out[len(out)-1].gt == cut {
			out = out[:len(out)-1]
		}
	}
	if !higher {
		slices.Reverse(out)
	}
	return out, fixed
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// selectRange is Dispersy's _select_bloomfilter_range: up to n packets on
// one side of gt, topped up from the other side when fewer than n - 25
// were found; it returns the range [lo, hi] they cover.
func (c *Community) selectRange(gt uint64, n int, higher bool, acc uint64, out []selItem) ([2]uint64, []selItem) {
	data, fixed := c.selectAndFix(gt, n, higher, out)
	lowerFixed, higherFixed := true, true
	if len(data) < n {
		if rest := n - len(data); rest > 25 {
			extra := make([]selItem, 0, rest+1)
			if higher {
				extra, lowerFixed = c.selectAndFix(gt+1, rest, false, extra)
				data = append(extra, data...)
			} else {
				extra, higherFixed = c.selectAndFix(gt-1, rest, true, extra)
				data = append(data, extra...)
			}
		}
	}
	if len(data) == 0 {
		return [2]uint64{1, acc}, data
	}
	rg := [2]uint64{data[0].gt, data[len(data)-1].gt}
	if higher {
		rg[0] = min(rg[0], gt+1)
		if !fixed {
			rg[1] = acc
		}
		if !lowerFixed {
			rg[0] = 1
		}
	} else {
		rg[1] = max(rg[1], gt-1)
		if !fixed {
			rg[0] = 1
		}
		if !higherFixed {
			rg[1] = acc
		}
	}
	return rg, data
}

// syncStored updates the cached filter with a newly stored packet
// (Dispersy's dispersy_store), counting it as a response when it came from
// the candidate the filter was sent to.
func (c *Community) syncStored(r *Record, m *Meta, from netip.AddrPort) {
	sc := c.sc
	if sc == nil || !m.Synced() || r.GlobalTime < sc.lo || r.GlobalTime > sc.hi ||
		(r.GlobalTime+uint64(sc.offset))%uint64(sc.modulo) != 0 {
		return
	}
	if from == sc.target {
		sc.responses++
	}
	if sc.capacity == 0 || (c.node.cfg.SyncBloomFit && sc.keys >= sc.capacity) {
		// the nothing-to-sync filter, or a fitted one that is full: build anew next time
		sc.timesUsed = c.node.cfg.SyncCacheReuse
		return
	}
	sc.filter.add(r.Digest)
	sc.keys++
}

// answerSync sends the requester every synced packet in its range that its
// filter does not show, highest priority first, each type in its direction,
// until SyncResponseLimit bytes (Dispersy's on_introduction_request).
func (c *Community) answerSync(from netip.AddrPort, requester []byte, s *wire.SyncBlock) {
	if c.store == nil || len(c.def.synced) == 0 {
		return
	}
	n := c.node
	var f *syncFilter
	f, n.s.words = readFilter(n.s.words, s.Filter, int(s.Bits), int(s.Functions), s.Prefix)
	hi := s.TimeHigh
	if hi == 0 {
		hi = c.globalTime()
	}
	lo := min(s.TimeLow, maxGT)
	hi = min(hi, maxGT)
	mod, off := uint64(s.Modulo), uint64(s.Offset)
	limit := n.cfg.SyncResponseLimit
	sent, negatives := 0, 0
	pos := n.s.ids[:0]
	gt := c.globalTime()
	done := false
	ds, fast := c.store.(DigestScanner)
	var meta wire.Type
	visitID := func(id, gt, digest uint64, pkt []byte) bool {
		if (gt+off)%mod != 0 {
			return true
		}
		if f.test(digest) {
			pos = append(pos, id)
			return true
		}
		negatives++
		if pkt == nil {
			pkt = ds.PacketOf(id)
		}
		n.send(from, meta, pkt)
		sent += len(pkt)
		if sent >= limit {
			done = true
			return false
		}
		return true
	}
	visitFast := func(id, gt, digest uint64) bool { return visitID(id, gt, digest, nil) }
	visit := func(r *Record) bool { return visitID(r.ID, r.GlobalTime, r.Digest, r.Packet) }
	for _, m := range c.def.synced {
		low := lo
		if m.pruning() && gt >= m.PruneInactive {
			low = max(low, gt-m.PruneInactive+1)
		}
		if low > hi {
			continue
		}
		meta = m.Type
		switch m.Direction {
		case Ascending, Descending:
			if fast {
				ds.ScanDigests(m.Type, low, hi, m.Direction == Descending, visitFast)
			} else {
				c.store.Scan(m.Type, low, hi, m.Direction == Descending, visit)
			}
		case Random:
			recs := n.s.recs[:0]
			c.store.Scan(m.Type, low, hi, false, func(r *Record) bool {
				rc := *r
				recs = append(recs, rc)
				return true
			})
			n.env.Rand().Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
			for i := range recs {
				if !visit(&recs[i]) {
					break
				}
			}
			clear(recs)
			n.s.recs = recs[:0]
		}
		if done {
			break
		}
	}
	n.obs.SyncAnswered(c.cid, requester, pos, negatives)
	n.s.ids = pos[:0]
}
