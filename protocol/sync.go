package protocol

import (
	"iter"
	"math"
	"math/bits"
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

// filterMemo is implemented by stores whose nodes share bloom-filter work:
// all MemStores of one Pool. Nodes holding the same synced packets build
// the same filter for the same prefix, so one builds it and the others
// copy it, and a responder whose every packet in range is in its own
// filter of the request's prefix, and whose filter the request's covers,
// knows without testing each packet that the requester shows them all.
type filterMemo interface {
	// span describes the store's messages of type meta.
	span(meta wire.Type) contentSpan
	// memoFilter returns the words kept for k, or nil.
	memoFilter(k filterKey) []uint64
	// keepFilter offers the words of the filter for k (the store copies
	// what it keeps).
	keepFilter(k filterKey, words []uint64)
}

// contentSpan describes the messages of one type a store holds: how many,
// their lowest and highest global time, and order-free sums of their
// digests (equal sums and count mean, but for a 2^-128 chance, the same
// digests).
type contentSpan struct {
	count      int
	lo, hi     uint64
	sum1, sum2 uint64
}

// filterKey names the filter of m bits, k functions and prefix holding
// the digests with the given count and sums.
type filterKey struct {
	sum1, sum2 uint64
	count      uint32
	m          uint32
	k, prefix  uint8
}

// syncContent returns the count and sums of all synced messages the
// community holds, and whether memo serves it.
func (c *Community) syncContent() (memo filterMemo, key filterKey, ok bool) {
	memo, ok = c.store.(filterMemo)
	if !ok {
		return nil, key, false
	}
	total := 0
	for _, m := range c.def.synced {
		sp := memo.span(m.Type)
		total += sp.count
		key.sum1 += sp.sum1
		key.sum2 += sp.sum2
	}
	key.count = uint32(min(total, math.MaxUint32))
	return memo, key, true
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
	c.median = median
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
	return c.claimSyncFor(target, now, false)
}

// differs reports whether candidate x last reported a global time other
// than the community's (SkipWake): the two hold different packets, so a
// request to x is worth its sync block whatever the skip curve says.
// Unknown times (0), trackers' (1) and trackers do not count.
func (c *Community) differs(x *Candidate) bool {
	return c.node.cfg.wake() && !x.Tracker && (x.news || x.globalTime > 1 && x.globalTime != c.globalTime())
}

// claimSyncFor is claimSync; with force the skip curve does not skip.
func (c *Community) claimSyncFor(target netip.AddrPort, now Time, force bool) *syncCache {
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
	if cfg.SyncSkip && c.skip > 0 && !force && c.node.env.Rand().Float64() < skipCurve[c.skip-1] {
		c.sc = nil
		return nil
	}
	c.sc = c.buildSync(now, c.sc)
	c.sc.target = target
	return c.sc
}

// wakeSkip resets the skip curve (SkipWake): the node has seen that there
// is something to fetch.
func (c *Community) wakeSkip() {
	if c.node.cfg.wake() {
		c.skip = 0
	}
}

// peerTime notes the global time a verified candidate's introduction
// carried. One that differs from the community's wakes the skip curve: a
// higher one means the candidate holds packets we lack; a lower one that
// our histories differ, and after a partition heals the side that is
// ahead lacks what the other side created meanwhile at the same times.
// Trackers, which hold nothing, report 1 and wake nothing (every peer
// holds its identity, at 2 or later).
func (c *Community) peerTime(x *Candidate, gt uint64) {
	x.globalTime = max(x.globalTime, gt)
	if gt > 1 && gt != c.globalTime() && c.store != nil && !x.Tracker {
		c.wakeSkip()
	}
}

// buildSync picks a global-time range and fills a new filter with the
// packets in it (Dispersy's "largest" strategy). It reuses old's memory.
func (c *Community) buildSync(now Time, old *syncCache) *syncCache {
	n := c.node
	cfg := &n.cfg
	acc := c.acceptable(now)
	if len(c.def.synced) == 0 {
		return c.nothingToSync(acc, old)
	}
	capacity, k := filterParams(cfg.SyncBloomBits, cfg.SyncBloomErrorRate)
	gt := c.globalTime()
	r := n.env.Rand()
	pivot := int64(gt) - int64(r.ExpFloat64()*float64(gt)/2)
	if pivot < 1 {
		pivot = int64(r.Float64() * float64(gt))
	}
	bits := cfg.SyncBloomBits
	fit := func(count int) {
		if cfg.SyncBloomFit {
			bits = min(bits, bitsFor(count, cfg.SyncBloomErrorRate))
			capacity, k = filterParams(bits, cfg.SyncBloomErrorRate)
		}
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
		// Holding no more than a filter's capacity, the node puts all it
		// holds in the filter: a filter another node of the same content
		// built for the same prefix can be copied.
		if memo, key, ok := c.syncContent(); ok && key.count > 0 && int(key.count) <= capacity {
			fit(int(key.count))
			key.m, key.k, key.prefix = uint32(bits), uint8(k), uint8(r.IntN(256))
			sc := newSyncCache(old, 1, acc, bits, k, key.prefix, int(key.count), capacity)
			if w := memo.memoFilter(key); w != nil {
				copy(sc.filter.words, w)
				return sc
			}
			data, _ = c.selectAndFix(0, capacity, true, n.s.sel[:0])
			for _, it := range data {
				sc.filter.add(it.digest)
			}
			memo.keepFilter(key, sc.filter.words)
			n.s.sel = data[:0]
			return sc
		}
		var fixed bool
		data, fixed = c.selectAndFix(0, capacity, true, n.s.sel[:0])
		if len(data) > 0 && fixed {
			hi = data[len(data)-1].gt
			c.nrSync = capacity + 1
		}
	}
	if len(data) == 0 {
		n.s.sel = data[:0]
		return c.nothingToSync(acc, old)
	}
	fit(len(data))
	sc := newSyncCache(old, min(lo, acc), min(hi, acc), bits, k, uint8(r.IntN(256)), len(data), capacity)
	for _, it := range data {
		sc.filter.add(it.digest)
	}
	if cap(data) > cap(n.s.sel) {
		n.s.sel = data[:0]
	}
	return sc
}

// newSyncCache returns an empty cache for the range [lo, hi] (a bound of 0
// read as 1, hi at least lo) with a filter of m bits, k functions and
// prefix, reusing old's memory.
func newSyncCache(old *syncCache, lo, hi uint64, m, k int, prefix uint8, keys, capacity int) *syncCache {
	sc := old
	if sc == nil {
		sc = &syncCache{}
	}
	f := sc.filter
	if f == nil {
		f = &syncFilter{}
	}
	f.reset(m, k, prefix)
	lo = max(lo, 1)
	*sc = syncCache{lo: lo, hi: max(hi, lo), modulo: 1, filter: f, keys: keys, capacity: capacity}
	return sc
}

// nothingToSync is Dispersy's filter for a node with nothing to offer: 8
// bits, error rate 0.1 (k = 6), prefix 0, range [1, acceptable].
func (c *Community) nothingToSync(acc uint64, old *syncCache) *syncCache {
	return newSyncCache(old, 1, acc, 8, 6, 0, 0, 0)
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
			if r.Undone != 0 {
				return true // undone messages are not synchronised
			}
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
	if sc == nil || !m.Synced() || r.Undone != 0 || r.GlobalTime < sc.lo || r.GlobalTime > sc.hi ||
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
// until SyncResponseLimit bytes (Dispersy's on_introduction_request). With
// SkipWake, the packets newer than both the range and the requester's
// global time reqGT, which it cannot hold, go too, within the same limit.
func (c *Community) answerSync(from netip.AddrPort, x *Candidate, requester []byte, s *wire.SyncBlock, reqGT uint64) {
	if c.store == nil || len(c.def.synced) == 0 {
		return
	}
	defer c.noteNews(x, s)
	n := c.node
	f := &n.s.rf
	f.load(s.Filter, int(s.Bits), int(s.Functions), s.Prefix)
	hi := s.TimeHigh
	if hi == 0 {
		hi = c.globalTime()
	}
	lo := min(s.TimeLow, maxGT)
	hi = min(hi, maxGT)
	mod, off := uint64(s.Modulo), uint64(s.Offset)
	gt := c.globalTime()
	if c.answerCovered(f, lo, hi, mod) {
		n.s.pos.ids, n.s.pos.whole = n.s.pos.ids[:0], c
		n.s.ans = SyncAnswer{Requester: requester, positives: n.s.seq, filter: f, lo: s.TimeLow, hi: s.TimeHigh}
		n.obs.SyncAnswered(c.cid, &n.s.ans)
		n.s.pos.whole = nil
		return
	}
	// newer is where the packets the requester cannot hold and its range
	// does not cover start (above gt: none).
	newer := uint64(maxGT)
	if n.cfg.wake() && reqGT < gt && hi < gt {
		newer = max(hi, reqGT) + 1
	}
	a := offer{from: from, limit: n.cfg.SyncResponseLimit, pos: n.s.pos.ids[:0], negs: n.s.negs[:0]}
	for _, m := range c.def.synced {
		low := c.low(m, lo)
		if m.Direction == Descending {
			c.offer(&a, m, max(low, newer), gt, 1, 0, nil)
		}
		if low <= hi {
			c.offer(&a, m, low, hi, mod, off, f)
		}
		if m.Direction != Descending {
			c.offer(&a, m, max(low, newer), gt, 1, 0, nil)
		}
		if a.full() {
			break
		}
	}
	n.s.pos.ids, n.s.pos.whole = a.pos, nil
	n.s.ans = SyncAnswer{Requester: requester, Sent: a.negs, positives: n.s.seq, filter: f, lo: s.TimeLow, hi: s.TimeHigh}
	n.obs.SyncAnswered(c.cid, &n.s.ans)
	n.s.negs = a.negs[:0]
	n.s.pos.ids = a.pos[:0]
}

// noteNews checks, for a responder whose skip curve has left zero
// (SkipWake), whether the filter it just answered shows a packet it lacks:
// one of the filter's bits that its own filter of the same size, functions,
// prefix and range leaves clear was set by a packet it does not hold. Then
// it wakes its curve and marks the requester x, so that its next request to
// x carries a sync block. Packet counts alone miss this where histories
// overlap in global time, as after a partition heals.
func (c *Community) noteNews(x *Candidate, s *wire.SyncBlock) {
	n := c.node
	if x == nil || !n.cfg.wake() || c.skip == 0 || x.news {
		return
	}
	f := &n.s.rf
	own := &n.s.own
	hi := s.TimeHigh
	if hi == 0 {
		hi = c.globalTime()
	}
	lo, hi := min(s.TimeLow, maxGT), min(hi, maxGT)
	mod, off := uint64(s.Modulo), uint64(s.Offset)
	if memo, key, ok := c.syncContent(); ok && mod == 1 && c.allWithin(memo, lo, hi) {
		key.m, key.k, key.prefix = uint32(f.m), uint8(f.k), f.prefix
		if w := memo.memoFilter(key); w != nil {
			if !coversWords(w, f.words) {
				c.news(x)
			}
			return
		}
	}
	own.reset(int(f.m), f.k, f.prefix)
	for _, m := range c.def.synced {
		c.eachDigest(m, c.low(m, lo), hi, func(gt, d uint64) {
			if (gt+off)%mod == 0 {
				own.add(d)
			}
		})
	}
	if !coversWords(own.words, f.words) {
		c.news(x)
	}
}

// news wakes the skip curve and marks x as holding a packet we lack.
func (c *Community) news(x *Candidate) {
	x.news = true
	c.wakeSkip()
}

// allWithin reports whether every synced packet the community holds lies
// in [lo, hi] (after pruning's lower bound): then its one memo filter per
// prefix is its filter of that range.
func (c *Community) allWithin(memo filterMemo, lo, hi uint64) bool {
	for _, m := range c.def.synced {
		if sp := memo.span(m.Type); sp.count > 0 && (sp.lo < c.low(m, lo) || sp.hi > hi) {
			return false
		}
	}
	return true
}

// eachDigest calls fn with the global time and digest of every packet of
// type m with lo <= global time <= hi.
func (c *Community) eachDigest(m *Meta, lo, hi uint64, fn func(gt, digest uint64)) {
	if lo > hi {
		return
	}
	if ds, ok := c.store.(DigestScanner); ok {
		dig := ds.AppendDigests(c.node.s.dig[:0], m.Type, lo, hi)
		for _, d := range dig {
			fn(d.GlobalTime, d.Digest)
		}
		c.node.s.dig = dig[:0]
		return
	}
	c.store.Scan(m.Type, lo, hi, false, func(r *Record) bool { fn(r.GlobalTime, r.Digest); return true })
}

// coversWords reports whether every bit set in inner is set in outer (of
// the same length).
func coversWords(outer, inner []uint64) bool {
	if len(outer) != len(inner) {
		return false
	}
	for i, w := range inner {
		if w&^outer[i] != 0 {
			return false
		}
	}
	return true
}

// answerNewer answers an introduction-request without a sync block whose
// header global time reqGT is below the community's (SkipWake): the
// requester holds no packet newer than reqGT, so the synced ones are sent,
// highest priority first, each type in its direction, until
// SyncResponseLimit bytes.
func (c *Community) answerNewer(from netip.AddrPort, reqGT uint64) {
	gt := c.globalTime()
	if c.store == nil || len(c.def.synced) == 0 || reqGT >= gt {
		return
	}
	n := c.node
	a := offer{from: from, limit: n.cfg.SyncResponseLimit}
	for _, m := range c.def.synced {
		if c.offer(&a, m, max(c.low(m, 1), reqGT+1), gt, 1, 0, nil); a.full() {
			break
		}
	}
}

// low returns the lowest global time of m's packets a sync answer offers
// from a range starting at lo: inactive packets of a pruned type are not
// offered.
func (c *Community) low(m *Meta, lo uint64) uint64 {
	if gt := c.globalTime(); m.pruning() && gt >= m.PruneInactive {
		return max(lo, gt-m.PruneInactive+1)
	}
	return lo
}

// offer is one sync answer in progress: where it goes, how many bytes it
// may and did send, and the IDs the filter showed (pos) and did not (negs).
type offer struct {
	from        netip.AddrPort
	limit, sent int
	pos, negs   []uint64
}

func (a *offer) full() bool { return a.sent >= a.limit }

// pick reports whether the packet with global time gt, digest and id is to
// be sent: it is in the modulo and f (nil: none) does not show it. It notes
// the packet among the filter's positives or negatives.
func (a *offer) pick(gt, digest, id, mod, off uint64, f *syncFilter) bool {
	if (gt+off)%mod != 0 {
		return false
	}
	if f != nil {
		if f.test(digest) {
			a.pos = append(a.pos, id)
			return false
		}
		a.negs = append(a.negs, id)
	}
	return true
}

// offer sends a's requester the synced packets of m with lo <= global time
// <= hi and (global time + off) % mod == 0, in m's direction, that f does
// not show (every one when f is nil), until a is full. With a filter it
// records which packets the filter showed and which were sent.
func (c *Community) offer(a *offer, m *Meta, lo, hi, mod, off uint64, f *syncFilter) {
	if a.full() || lo > hi {
		return
	}
	n := c.node
	desc := m.Direction == Descending
	if ds, fast := c.store.(DigestScanner); fast && m.Direction != Random {
		dig := ds.AppendDigests(n.s.dig[:0], m.Type, lo, hi)
		for i := range dig {
			d := &dig[i]
			if desc {
				d = &dig[len(dig)-1-i]
			}
			if !a.pick(d.GlobalTime, d.Digest, d.ID, mod, off, f) {
				continue
			}
			pkt := ds.PacketOf(d.ID)
			n.send(a.from, m.Type, pkt)
			if a.sent += len(pkt); a.full() {
				break
			}
		}
		n.s.dig = dig[:0]
		return
	}
	recs := n.s.recs[:0]
	c.store.Scan(m.Type, lo, hi, desc, func(r *Record) bool {
		if r.Undone == 0 { // undone messages are not synchronised
			recs = append(recs, *r)
		}
		return true
	})
	if m.Direction == Random {
		n.env.Rand().Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	}
	for i := range recs {
		r := &recs[i]
		if !a.pick(r.GlobalTime, r.Digest, r.ID, mod, off, f) {
			continue
		}
		n.send(a.from, m.Type, r.Packet)
		if a.sent += len(r.Packet); a.full() {
			break
		}
	}
	clear(recs)
	n.s.recs = recs[:0]
}

// SyncAnswer describes how a node answered one sync block.
type SyncAnswer struct {
	// Requester is the public key of the node that sent the block.
	Requester []byte
	// Sent are the IDs of the packets in the requested range that the
	// filter did not show, which were sent (up to the response limit).
	Sent      []uint64
	positives iter.Seq[uint64]
	filter    *syncFilter
	lo, hi    uint64
}

// Positives yields the IDs of the packets in the requested range that the
// filter showed, and that were therefore not sent. Not ranging over it
// costs nothing.
func (a *SyncAnswer) Positives() iter.Seq[uint64] { return a.positives }

// FilterID names the filter: its size, functions, prefix and range. A
// requester's cached filter keeps its name while packets are added to it,
// and filters built anew differ by prefix but for a 1 in 256 chance.
func (a *SyncAnswer) FilterID() uint64 {
	f := a.filter
	return mix64(mix64(mix64(f.m<<16|uint64(f.k)<<8|uint64(f.prefix))^a.lo) ^ a.hi)
}

// FilterFalsePositiveRate is the probability that a packet the requester
// does not hold shows in its filter: (set bits / bits)^k, the exact rate
// of a filter whose k positions per key are uniform.
func (a *SyncAnswer) FilterFalsePositiveRate() float64 {
	set := 0
	for _, w := range a.filter.words {
		set += bits.OnesCount64(w)
	}
	return math.Pow(float64(set)/float64(a.filter.m), float64(a.filter.k))
}

// positives are the packets a sync answer found in the requester's
// filter: the IDs listed, or every synced packet of a community whose
// answer the filter memo gave.
type positives struct {
	ids   []uint64
	whole *Community
	dig   []DigestEntry
}

// all yields the positives' IDs.
func (p *positives) all(yield func(uint64) bool) {
	if c := p.whole; c != nil {
		ds := c.store.(DigestScanner)
		for _, m := range c.def.synced {
			p.dig = ds.AppendDigests(p.dig[:0], m.Type, 0, maxGT)
			for _, d := range p.dig {
				if !yield(d.ID) {
					return
				}
			}
		}
		return
	}
	for _, id := range p.ids {
		if !yield(id) {
			return
		}
	}
}

// answerCovered reports whether the request's filter f shows every synced
// packet the community holds, all of them being in the requested range,
// as the filter memo can tell without testing each: the community's own
// filter of f's size, functions and prefix is known and f covers it.
func (c *Community) answerCovered(f *syncFilter, lo, hi, mod uint64) bool {
	if mod != 1 {
		return false
	}
	memo, key, ok := c.syncContent()
	if !ok || key.count == 0 {
		return false
	}
	for _, m := range c.def.synced {
		if m.Direction == Random {
			return false // the answer would draw its shuffle
		}
		if sp := memo.span(m.Type); sp.count > 0 && (sp.lo < c.low(m, lo) || sp.hi > hi) {
			return false
		}
	}
	key.m, key.k, key.prefix = uint32(f.m), uint8(f.k), f.prefix
	w := memo.memoFilter(key)
	return w != nil && f.covers(w)
}
