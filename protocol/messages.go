package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// delayKind says what a delayed message waits for.
type delayKind uint8

const (
	waitSequence delayKind = iota // a gap in its member's sequence numbers
	waitProof                     // a permission message allowing it (any authorize, revoke or dynamic-settings wakes it)
	waitTarget                    // the message it undoes
)

// delayedMsg is a received message held back until what it waits for is
// stored, or it expires.
type delayedMsg struct {
	kind    delayKind
	from    netip.AddrPort
	pkt     []byte
	member  MemberID
	meta    wire.Type
	seq     uint32
	gt      uint64
	target  msgRef
	expires Time
}

// maxDelayed bounds the messages a community holds back at once.
const maxDelayed = 4096

// msRequest is one received missing-sequence request, waiting for its batch.
type msRequest struct {
	from      netip.AddrPort
	member    MemberID
	meta      wire.Type
	low, high uint32
}

var (
	errUnknownMeta = errors.New("protocol: unknown message type")
	errNoStore     = errors.New("protocol: community stores nothing (tracker)")
)

// Definition returns the community's message types.
func (c *Community) Definition() *Definition { return c.def }

// Store returns what the community holds (nil on a tracker).
func (c *Community) Store() Store { return c.store }

// Publish creates a message of the type named meta with payload, signed by
// the node's member: a stored type gets the next global time (and sequence
// number), is stored and pushed to NodeCount random verified candidates; a
// direct type is sent to the candidates at to. The returned Record's Packet
// is the store's (or, for direct, a copy).
func (c *Community) Publish(meta string, payload []byte, to ...netip.AddrPort) (Record, error) {
	m := c.def.Meta(meta)
	if m == nil || m.Type >= wire.FirstReservedType {
		return Record{}, fmt.Errorf("publish %q: %w", meta, errUnknownMeta)
	}
	if m.DoubleSigned {
		return Record{}, fmt.Errorf("publish %q: a double-signed type: use RequestSignature", meta)
	}
	if err := c.writable(); err != nil {
		return Record{}, fmt.Errorf("publish %q: %w", meta, err)
	}
	n := c.node
	if !m.Stored() {
		gt := c.globalTime()
		if c.allows(m, n.mid, nil, gt, nil) != allowed {
			return Record{}, fmt.Errorf("publish %q: %w at global time %d", meta, ErrNotPermitted, gt)
		}
		b := wire.AppendHeader(n.s.buf[:0], wire.CommunityVersion, c.cid, m.Type)
		if !m.Unsigned {
			b = wire.AppendMember(b, n.pub)
		}
		if m.Resolution == Dynamic {
			idx, _ := c.tl.policyAt(m.Type, gt)
			b = wire.AppendPolicy(b, idx)
		}
		b = wire.AppendGlobalTime(b, gt)
		b = append(b, payload...)
		if !m.Unsigned {
			b = signNow(n.key, b)
		}
		for _, a := range to {
			n.send(a, m.Type, b)
		}
		r := Record{Member: n.mid, Meta: m.Type, GlobalTime: gt, Packet: bytes.Clone(b)}
		n.s.buf = b[:0]
		return r, nil
	}
	gt := c.nextGT(m)
	if c.allows(m, n.mid, nil, gt, nil) != allowed {
		return Record{}, fmt.Errorf("publish %q: %w: permit at global time %d", meta, ErrNotPermitted, gt)
	}
	r, err := c.createAt(n.key, m, gt, payload)
	if err != nil {
		return Record{}, fmt.Errorf("publish %q: %w", meta, err)
	}
	c.forward(m, &r, to)
	n.drainResume()
	return r, nil
}

// nextGT returns the global time a message of type m created now takes:
// the next one; with SkipWake a synced message takes it after the
// verified candidates' median global time too, so that a node that has
// not caught up yet still creates news, which a requester behind it is
// sent. Identities take at least 2.
func (c *Community) nextGT(m *Meta) uint64 {
	base := c.globalTime()
	if c.node.cfg.wake() && m.Synced() {
		c.acceptable(c.now())
		base = max(base, c.median)
	}
	gt := base + 1
	if m.Type == wire.TypeIdentity && gt < 2 {
		gt = 2
	}
	return gt
}

// create builds, signs and stores a message of a stored type by the
// node's member, at the next global time.
func (c *Community) create(m *Meta, payload []byte) (Record, error) {
	return c.createAt(c.node.key, m, c.nextGT(m), payload)
}

// createAt builds, signs with key and stores a message of stored type m
// at global time gt (from nextGT), with the next sequence number of key's
// member, and applies it as a received one would be.
func (c *Community) createAt(key PrivateKey, m *Meta, gt uint64, payload []byte) (Record, error) {
	n := c.node
	pub := key.Public()
	member := IDOf(pub)
	c.gt = max(c.gt, gt)
	var seq uint32
	if m.SequenceNumbers {
		seq = 1
		c.store.ScanMember(member, m.Type, func(r *Record) bool { seq = max(seq, r.Sequence+1); return true })
	}
	b := wire.AppendHeader(n.s.buf[:0], wire.CommunityVersion, c.cid, m.Type)
	b = wire.AppendMember(b, pub)
	if m.Resolution == Dynamic {
		idx, _ := c.tl.policyAt(m.Type, gt)
		b = wire.AppendPolicy(b, idx)
	}
	b = wire.AppendGlobalTime(b, gt)
	if m.SequenceNumbers {
		b = wire.AppendSequence(b, seq)
	}
	b = append(b, payload...)
	b = signNow(key, b)
	n.s.buf = b[:0]
	r := Record{Member: member, Meta: m.Type, GlobalTime: gt, Sequence: seq, Digest: messageDigest(b, n.scheme.SignatureLen()), Packet: b}
	return c.storeOwn(&r, m)
}

// storeOwn stores a message the node made (r.Packet may be scratch) and
// applies it; the returned Record's Packet is a copy.
func (c *Community) storeOwn(r *Record, m *Meta) (Record, error) {
	n := c.node
	if _, err := c.store.Put(r); err != nil {
		return Record{}, err
	}
	c.afterStore(r, m, netip.AddrPort{})
	pkt := bytes.Clone(r.Packet) // the scratch buffer is reused
	if p := &n.s.made; wire.DecodeWith(pkt, n.scheme.SignatureLen(), KeyLen, &c.def.layouts, p) == nil {
		c.applied(r, m, p)
	}
	r.Packet = pkt
	if cur, ok := c.store.Get(r.Member, r.GlobalTime); ok {
		r.Undone = cur.Undone
	}
	return *r, nil
}

// forward pushes a created message to the candidates at to and up to
// NodeCount random verified candidates (Dispersy's _forward).
func (c *Community) forward(m *Meta, r *Record, to []netip.AddrPort) {
	n := c.node
	for _, a := range to {
		n.send(a, m.Type, r.Packet)
	}
	if m.NodeCount == 0 {
		return
	}
	now := c.now()
	pool := n.s.dups[:0]
	for _, x := range c.cands.list {
		if x.Tracker || slices.Contains(to, x.Sock()) {
			continue
		}
		if cat := x.Category(now, &n.cfg); cat == CategoryWalk || cat == CategoryStumble {
			pool = append(pool, x)
		}
	}
	rnd := n.env.Rand()
	sent := min(len(pool), m.NodeCount)
	for i := 0; i < sent; i++ {
		j := i + rnd.IntN(len(pool)-i)
		pool[i], pool[j] = pool[j], pool[i]
		n.send(pool[i].Sock(), m.Type, r.Packet)
	}
	if sent < m.NodeCount && n.cfg.wake() {
		u := &unpushed{meta: m.Type, pkt: bytes.Clone(r.Packet), want: m.NodeCount}
		for _, x := range pool[:sent] {
			u.to = append(u.to, x.Sock())
		}
		if len(c.unpushed) == maxUnpushed {
			c.unpushed = append(c.unpushed[:0], c.unpushed[1:]...)
		}
		c.unpushed = append(c.unpushed, u)
	}
	clear(pool)
	n.s.dups = pool[:0]
}

// maxUnpushed bounds the created messages a community keeps to push later.
const maxUnpushed = 16

// unpushed is a created message that found fewer than NodeCount verified
// candidates to push to (SkipWake): it goes to each new one until it has
// reached NodeCount.
type unpushed struct {
	meta wire.Type
	pkt  []byte
	want int
	to   []netip.AddrPort
}

// pushUnpushed sends the messages still short of their pushes to x, a
// candidate that has just answered or walked to us.
func (c *Community) pushUnpushed(x *Candidate) {
	if len(c.unpushed) == 0 || x.Tracker {
		return
	}
	keep := c.unpushed[:0]
	for _, u := range c.unpushed {
		if !slices.Contains(u.to, x.Sock()) {
			c.node.send(x.Sock(), u.meta, u.pkt)
			u.to = append(u.to, x.Sock())
		}
		if len(u.to) < u.want {
			keep = append(keep, u)
		}
	}
	clear(c.unpushed[len(keep):])
	c.unpushed = keep
}

// afterStore does what follows storing a message: the clock, last-sync
// history, pruning, the cached filter, the observer and waiting messages.
func (c *Community) afterStore(r *Record, m *Meta, from netip.AddrPort) {
	n := c.node
	raised := r.GlobalTime > c.gt
	c.gt = max(c.gt, r.GlobalTime)
	if m.Distribution == LastSync {
		if m.DoubleSigned {
			c.keepNewestPair(r, m)
		} else {
			c.store.KeepNewest(r.Member, m.Type, m.HistorySize)
		}
	}
	if raised {
		c.prune()
	}
	c.syncStored(r, m, from)
	if from.IsValid() && m.Synced() {
		c.wakeSkip() // a message came in: others may hold more
	}
	n.obs.MessageStored(c.cid, r)
	if m.SequenceNumbers && len(c.delayed) > 0 {
		c.resumeDelayed(r.Member, m.Type)
	}
}

// prune deletes messages of pruning types that aged past PrunePruned.
func (c *Community) prune() {
	for i := range c.def.metas {
		m := &c.def.metas[i]
		if m.pruning() && c.gt > m.PrunePruned {
			c.store.DeleteUpTo(m.Type, c.gt-m.PrunePruned)
		}
	}
}

// onMessage handles a received community message or identity.
func (c *Community) onMessage(from netip.AddrPort, p *wire.Packet, pkt []byte, m *Meta) {
	n := c.node
	if !m.Stored() {
		if x := c.cands.get(from); x != nil {
			c.peerTime(x, p.GlobalTime)
		}
		if m.permissioned() && c.tl != nil && c.allows(m, IDOf(p.Key), p.Key2, p.GlobalTime, nil) != allowed {
			c.delayProof(from, pkt, p, IDOf(p.Key))
			return
		}
		n.obs.DirectReceived(c.cid, m.Type, p.Payload)
		return
	}
	if c.store == nil {
		n.drop(wire.ReasonNotWanted)
		return
	}
	now := c.now()
	gt := p.GlobalTime
	if gt > c.acceptable(now) {
		n.drop(wire.ReasonFutureGlobalTime)
		return
	}
	if m.pruning() && c.gt >= gt && c.gt-gt >= m.PruneInactive {
		n.drop(wire.ReasonInactive)
		return
	}
	member := n.s.member // computed by Node.handle, with the stored message it names
	if old, ok := n.s.old, n.s.haveOld; ok {
		if bytes.Equal(old.Packet, pkt) {
			n.drop(wire.ReasonDuplicate)
			return
		}
		sigLen := len(p.Signature)
		if old.Meta != m.Type || len(old.Packet) != len(pkt) || !bytes.Equal(old.Packet[:len(old.Packet)-sigLen], p.Body) {
			n.drop(wire.ReasonConflict)
			return
		}
		// the same message signed twice: keep the higher packet
		if bytes.Compare(pkt, old.Packet) < 0 {
			n.drop(wire.ReasonDuplicate)
			return
		}
		c.store.Delete(member, gt)
		c.forget(&old)
	}
	if m.SequenceNumbers && !c.checkSequence(from, p, pkt, m, member) {
		return
	}
	if m.Distribution == LastSync && !c.checkHistory(from, m, member, p.Key2, gt) {
		return
	}
	undone, ok := c.admit(from, p, pkt, m, member)
	if !ok {
		return
	}
	r := &n.s.put // afterStore may store delayed packets, but reads r before
	*r = Record{Member: member, Meta: m.Type, GlobalTime: gt, Sequence: p.Sequence,
		Digest: messageDigest(pkt, len(p.Signature)+len(p.Signature2)), Undone: undone, Packet: pkt}
	if _, err := c.store.Put(r); err != nil {
		n.drop(wire.ReasonConflict)
		return
	}
	c.afterStore(r, m, from)
	c.applied(r, m, p)
}

// checkSequence applies Dispersy's sequence-number rules; false means the
// message was dropped or delayed.
func (c *Community) checkSequence(from netip.AddrPort, p *wire.Packet, pkt []byte, m *Meta, member MemberID) bool {
	n := c.node
	var last Record
	var have bool
	seq := p.Sequence
	var atSeq Record
	var haveAt bool
	c.store.ScanMember(member, m.Type, func(r *Record) bool {
		if r.Sequence == seq {
			atSeq, haveAt = *r, true
		}
		last, have = *r, true
		return true
	})
	h := uint32(0)
	if have {
		h = last.Sequence
	}
	switch {
	case seq <= h:
		if !haveAt {
			n.drop(wire.ReasonSequenceConflict)
			return false
		}
		// two messages claim one number: the lower (global time, packet) wins
		if atSeq.GlobalTime < p.GlobalTime || (atSeq.GlobalTime == p.GlobalTime && bytes.Compare(atSeq.Packet, pkt) < 0) {
			n.send(from, m.Type, atSeq.Packet)
			n.drop(wire.ReasonSequenceConflict)
			return false
		}
		var gone []Record
		c.store.ScanMember(member, m.Type, func(r *Record) bool {
			if r.GlobalTime >= atSeq.GlobalTime {
				rr := *r
				rr.Packet = bytes.Clone(r.Packet)
				gone = append(gone, rr)
			}
			return true
		})
		for i := range gone {
			c.store.Delete(member, gone[i].GlobalTime)
			c.forget(&gone[i])
		}
		return true
	case seq > h+1:
		c.delay(from, pkt, member, m, h, seq)
		return false
	case have && p.GlobalTime <= last.GlobalTime:
		n.drop(wire.ReasonSequenceConflict)
		return false
	}
	return true
}

// delay holds a message back and asks its sender for the missing sequence
// numbers, unless a request for them is already open.
func (c *Community) delay(from netip.AddrPort, pkt []byte, member MemberID, m *Meta, h, seq uint32) {
	n := c.node
	requested := false
	for _, d := range c.delayed {
		if d.kind == waitSequence && d.member == member && d.meta == m.Type {
			if d.seq == seq {
				return // the same message again: already waiting
			}
			if d.seq >= seq {
				requested = true
			}
		}
	}
	held, again := c.hold(&delayedMsg{kind: waitSequence, from: from, pkt: pkt, member: member, meta: m.Type, seq: seq})
	if !held || again || requested {
		return
	}
	b := wire.AppendHeader(n.s.buf[:0], wire.CommunityVersion, c.cid, wire.TypeMissingSequence)
	b = wire.AppendGlobalTime(b, c.globalTime())
	b = wire.AppendMissingSequence(b, &wire.MissingSequence{Member: member, Meta: m.Type, Low: h + 1, High: seq - 1})
	n.send(from, wire.TypeMissingSequence, b)
	n.s.buf = b[:0]
}

// hold keeps d (copying its packet) until it resumes or expires; held is
// false when the community holds all it may and dropped it. A resumed
// message that must wait again for the same thing keeps its first expiry,
// and again is true: what it waits for was asked for already.
func (c *Community) hold(d *delayedMsg) (held, again bool) {
	n := c.node
	if rd := c.retrying; rd != nil && rd.kind == d.kind && rd.member == d.member && rd.gt == d.gt && rd.seq == d.seq {
		d.expires, again = rd.expires, true
	} else {
		d.expires = c.now().Add(n.cfg.DelayedLifetime)
	}
	if len(c.delayed) >= maxDelayed {
		n.drop(wire.ReasonDelayFull)
		return false, false
	}
	d.pkt = bytes.Clone(d.pkt)
	c.delayed = append(c.delayed, d)
	n.stats.Delayed++
	return true, again
}

// resumeWhere queues the waiting messages that match for handling after
// the current packet, in their order, or in order if given.
func (c *Community) resumeWhere(match func(d *delayedMsg) bool, order func(a, b *delayedMsg) int) {
	kept := c.delayed[:0]
	var out []*delayedMsg
	for _, d := range c.delayed {
		if match(d) {
			out = append(out, d)
			continue
		}
		kept = append(kept, d)
	}
	clear(c.delayed[len(kept):])
	c.delayed = kept
	if order != nil {
		slices.SortStableFunc(out, order)
	}
	for _, d := range out {
		c.node.resume = append(c.node.resume, resumed{from: d.from, pkt: d.pkt, delayed: d})
	}
}

// resumeDelayed queues the waiting messages of member's type meta whose
// predecessor is now stored; the node handles them after the current packet.
func (c *Community) resumeDelayed(member MemberID, meta wire.Type) {
	var h uint32
	c.store.ScanMember(member, meta, func(r *Record) bool { h = max(h, r.Sequence); return true })
	c.resumeWhere(func(d *delayedMsg) bool {
		return d.kind == waitSequence && d.member == member && d.meta == meta && d.seq <= h+1
	}, nil)
}

// delayProof holds back a message the timeline refuses and asks its
// sender for the proof (dispersy-missing-proof naming the message's first
// member and global time), once per message.
func (c *Community) delayProof(from netip.AddrPort, pkt []byte, p *wire.Packet, member MemberID) {
	for _, d := range c.delayed {
		if d.kind == waitProof && d.member == member && d.gt == p.GlobalTime {
			return // already waiting, its proof asked for
		}
	}
	held, again := c.hold(&delayedMsg{kind: waitProof, from: from, pkt: pkt, member: member, meta: p.Type, gt: p.GlobalTime})
	if !held || again {
		return
	}
	n := c.node
	b := wire.AppendHeader(n.s.buf[:0], wire.CommunityVersion, c.cid, wire.TypeMissingProof)
	b = wire.AppendGlobalTime(b, c.globalTime())
	b = wire.AppendMissingProof(b, p.Key, p.GlobalTime)
	n.send(from, wire.TypeMissingProof, b)
	n.s.buf = b[:0]
}

// delayTarget holds back an undo whose target is not stored and asks the
// sender for it (dispersy-missing-message), once per target.
func (c *Community) delayTarget(from netip.AddrPort, pkt []byte, p *wire.Packet, member MemberID, target msgRef, key []byte) {
	requested := false
	for _, d := range c.delayed {
		if d.kind != waitTarget {
			continue
		}
		if d.member == member && d.gt == p.GlobalTime {
			return // the same undo again
		}
		requested = requested || d.target == target
	}
	held, again := c.hold(&delayedMsg{kind: waitTarget, from: from, pkt: pkt, member: member, meta: p.Type, gt: p.GlobalTime, target: target})
	if held && !again && !requested {
		n := c.node
		b := wire.AppendHeader(n.s.buf[:0], wire.CommunityVersion, c.cid, wire.TypeMissingMessage)
		b = wire.AppendGlobalTime(b, c.globalTime())
		b = wire.AppendMissingMessage(b, key, []uint64{target.gt})
		n.send(from, wire.TypeMissingMessage, b)
		n.s.buf = b[:0]
	}
}

// wakeProof resumes every message waiting for a proof: a permission
// message was stored (Dispersy resumes them on any authorize or
// dynamic-settings). Waiting permission messages go first, in global-time
// order, so that a chain of proofs resolves in one pass.
func (c *Community) wakeProof() {
	if len(c.delayed) == 0 {
		return
	}
	rank := func(d *delayedMsg) int {
		switch d.meta {
		case wire.TypeAuthorize, wire.TypeRevoke, wire.TypeDynamicSettings:
			return 0
		}
		return 1
	}
	c.resumeWhere(func(d *delayedMsg) bool { return d.kind == waitProof }, func(a, b *delayedMsg) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return cmpU64(a.gt, b.gt)
	})
}

// wakeTarget resumes the undos waiting for the message at ref.
func (c *Community) wakeTarget(ref msgRef) {
	if len(c.delayed) > 0 {
		c.resumeWhere(func(d *delayedMsg) bool { return d.kind == waitTarget && d.target == ref }, nil)
	}
}

// expireDelayed drops waiting messages past their lifetime.
func (c *Community) expireDelayed(now Time) {
	kept := c.delayed[:0]
	for _, d := range c.delayed {
		if now >= d.expires {
			switch d.kind {
			case waitProof:
				c.node.drop(wire.ReasonNotPermitted)
			case waitTarget:
				c.node.drop(wire.ReasonTargetExpired)
			default:
				c.node.drop(wire.ReasonGapExpired)
			}
			continue
		}
		kept = append(kept, d)
	}
	clear(c.delayed[len(kept):])
	c.delayed = kept
}

// checkHistory applies last-sync's history rule (per member, or per pair
// of members of a double-signed type, key2 the second); false means
// dropped.
func (c *Community) checkHistory(from netip.AddrPort, m *Meta, member MemberID, key2 []byte, gt uint64) bool {
	count := 0
	var oldest, newest Record
	if m.DoubleSigned {
		recs := c.pairRecords(m, member, IDOf(key2))
		if count = len(recs); count > 0 {
			oldest, newest = recs[0], recs[count-1]
		}
	} else {
		c.store.ScanMember(member, m.Type, func(r *Record) bool {
			if count == 0 {
				oldest = *r
			}
			newest = *r
			count++
			return true
		})
	}
	if count >= m.HistorySize && gt < oldest.GlobalTime {
		if m.HistorySize == 1 {
			c.node.send(from, m.Type, newest.Packet)
		}
		c.node.drop(wire.ReasonHistoryOld)
		return false
	}
	return true
}

// onMissingSequence queues a request; requests arriving within
// MissingSequenceDelay are answered together.
func (c *Community) onMissingSequence(from netip.AddrPort, p *wire.Packet) {
	n := c.node
	ms := &p.MissingSequence
	m := c.def.metaOf(ms.Meta)
	if c.store == nil || m == nil || !m.SequenceNumbers {
		n.drop(wire.ReasonNotWanted)
		return
	}
	c.msPending = append(c.msPending, msRequest{from: from, member: ms.Member, meta: ms.Meta, low: ms.Low, high: ms.High})
	if c.msTimer == nil {
		c.msTimer = n.env.AfterFunc(n.cfg.MissingSequenceDelay, c.msFlushFn)
	}
}

// flushMissingSequence answers the batched missing-sequence requests:
// per requester, member and type the ranges are merged, every packet is
// sent once in sequence order, and each requester gets at most
// MissingSequenceLimit bytes (the packet crossing it included).
func (c *Community) flushMissingSequence() {
	n := c.node
	c.msTimer = nil
	reqs := c.msPending
	c.msPending = nil
	sent := map[netip.AddrPort]int{}
	for i, q := range reqs {
		if q.low == 0 {
			continue // merged into an earlier one
		}
		type span struct{ lo, hi uint32 }
		spans := []span{{q.low, q.high}}
		for j := i + 1; j < len(reqs); j++ {
			o := &reqs[j]
			if o.low != 0 && o.from == q.from && o.member == q.member && o.meta == q.meta {
				spans = append(spans, span{o.low, o.high})
				o.low = 0
			}
		}
		want := func(s uint32) bool {
			for _, sp := range spans {
				if s >= sp.lo && s <= sp.hi {
					return true
				}
			}
			return false
		}
		var pkts [][]byte
		var seqs []uint32
		c.store.ScanMember(q.member, q.meta, func(r *Record) bool {
			if want(r.Sequence) {
				pkts = append(pkts, r.Packet)
				seqs = append(seqs, r.Sequence)
			}
			return true
		})
		if len(pkts) == 0 {
			found := false
			c.store.ScanMember(q.member, q.meta, func(*Record) bool { found = true; return false })
			if !found {
				n.drop(wire.ReasonUnknownMember)
			}
			continue
		}
		// ScanMember is in global-time order, which is sequence order
		for _, pk := range pkts {
			if sent[q.from] >= n.cfg.MissingSequenceLimit {
				break
			}
			n.send(q.from, q.meta, pk)
			sent[q.from] += len(pk)
		}
	}
}

// onMissingMessage sends back every requested message that is stored.
func (c *Community) onMissingMessage(from netip.AddrPort, p *wire.Packet) {
	n := c.node
	if c.store == nil {
		n.drop(wire.ReasonNotWanted)
		return
	}
	mm := &p.MissingMessage
	member := IDOf(mm.Key)
	for i := range mm.Len() {
		if r, ok := c.store.Get(member, mm.GlobalTime(i)); ok {
			n.send(from, r.Meta, r.Packet)
		}
	}
}

// onMissingIdentity sends back the stored identity of the member asked for.
func (c *Community) onMissingIdentity(from netip.AddrPort, p *wire.Packet) {
	n := c.node
	if c.store == nil {
		n.drop(wire.ReasonNotWanted)
		return
	}
	found := false
	c.store.ScanMember(p.MissingIdentity.Member, wire.TypeIdentity, func(r *Record) bool {
		n.send(from, wire.TypeIdentity, r.Packet)
		found = true
		return true
	})
	if !found {
		n.drop(wire.ReasonUnknownMember)
	}
}

// RequestMessages asks the peer at to for the messages member key created
// at the global times gts (dispersy-missing-message).
func (c *Community) RequestMessages(to netip.AddrPort, key []byte, gts ...uint64) error {
	if len(gts) == 0 || len(key) != KeyLen {
		return fmt.Errorf("request messages: need a %d-byte key and at least one global time", KeyLen)
	}
	n := c.node
	b := wire.AppendHeader(n.s.buf[:0], wire.CommunityVersion, c.cid, wire.TypeMissingMessage)
	b = wire.AppendGlobalTime(b, c.globalTime())
	b = wire.AppendMissingMessage(b, key, gts)
	n.send(to, wire.TypeMissingMessage, b)
	n.s.buf = b[:0]
	return nil
}

// RequestIdentity asks the peer at to for the identity of member
// (dispersy-missing-identity).
func (c *Community) RequestIdentity(to netip.AddrPort, member MemberID) {
	n := c.node
	b := wire.AppendHeader(n.s.buf[:0], wire.CommunityVersion, c.cid, wire.TypeMissingIdentity)
	b = wire.AppendGlobalTime(b, c.globalTime())
	b = wire.AppendMissingIdentity(b, &wire.MissingIdentity{Member: member})
	n.send(to, wire.TypeMissingIdentity, b)
	n.s.buf = b[:0]
}

// pairRecords returns the stored messages of double-signed type m whose
// two members are a and b (in either order), by global time (Dispersy
// counts last-sync history per unordered member pair).
func (c *Community) pairRecords(m *Meta, a, b MemberID) []Record {
	var out []Record
	for _, first := range []MemberID{a, b} {
		second := b
		if first == b {
			second = a
		}
		var recs []Record
		c.store.ScanMember(first, m.Type, func(r *Record) bool {
			rr := *r
			rr.Packet = bytes.Clone(r.Packet)
			recs = append(recs, rr)
			return true
		})
		for _, r := range recs {
			if p, ok := c.decodeStored(r.Packet); ok && IDOf(p.Key2) == second {
				out = append(out, r)
			}
		}
		if a == b {
			break
		}
	}
	slices.SortFunc(out, func(x, y Record) int {
		if x.GlobalTime != y.GlobalTime {
			return cmpU64(x.GlobalTime, y.GlobalTime)
		}
		return bytes.Compare(x.Member[:], y.Member[:])
	})
	return out
}

// keepNewestPair deletes the oldest messages of r's member pair beyond the
// type's history size.
func (c *Community) keepNewestPair(r *Record, m *Meta) {
	p, ok := c.decodeStored(r.Packet)
	if !ok {
		return
	}
	recs := c.pairRecords(m, r.Member, IDOf(p.Key2))
	for i := 0; i < len(recs)-m.HistorySize; i++ {
		c.store.Delete(recs[i].Member, recs[i].GlobalTime)
	}
}
