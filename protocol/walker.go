package protocol

import (
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// introCache is an open introduction-request (Dispersy's
// IntroductionRequestCache): the walk it belongs to stays open until both
// the response and the puncture arrived, or the timeout fired.
type introCache struct {
	id          uint16
	helper      *Candidate
	timer       Timer
	gotResponse bool
	gotPuncture bool
	timeout     func() // made once; caches are recycled
}

// punch is eager-puncture state for one introduction (EagerPuncture only).
type punch struct {
	id      uint16
	target  netip.AddrPort
	sentTo  [3]netip.AddrPort
	nSent   int
	heard   bool
	retried bool
	created Time
}

func (p *punch) sent(a netip.AddrPort) bool {
	for i := 0; i < p.nSent; i++ {
		if p.sentTo[i] == a {
			return true
		}
	}
	return false
}

func (p *punch) markSent(a netip.AddrPort) {
	if p.sent(a) || p.nSent == len(p.sentTo) {
		return
	}
	p.sentTo[p.nSent] = a
	p.nSent++
}

// Community is one overlay a node takes part in: its candidate table, its
// walker and its open requests.
type Community struct {
	node       *Node
	cid        wire.CID
	cands      candTable
	caches     []*introCache
	freeCaches []*introCache
	punches    []*punch

	def      *Definition
	store    Store
	gt       uint64     // highest stored global time (Dispersy's _global_time)
	sc       *syncCache // the last sync filter sent
	skip     int        // skip-curve counter
	nrSync   int        // Dispersy's _nrsyncpackets
	acc      uint64     // cached acceptable global time
	median   uint64     // the verified candidates' median global time behind acc
	unpushed []*unpushed
	accAt    Time
	accValid bool
	delayed  []*delayedMsg
	retrying *delayedMsg          // the delayed message being handled again
	tl       *timeline            // the permission timeline (nil on a tracker)
	undos    map[msgRef][]undoRef // stored undo messages by target
	pending  *permMsg             // the permission message admit checked, for applied
	// pendingUndo is the undo admit checked, for applied
	pendingUndo undoRef
	destroyed   []byte    // the destroy-community packet once the community is hard-killed
	cosigns     []*cosign // open signature requests
	msPending   []msRequest
	msTimer     Timer
	msFlushFn   func()

	stepTimer    Timer
	insertTimer  Timer
	retryTimer   Timer
	stepFn       func()
	fastFn       func()
	insertFn     func()
	fastSteps    int
	retryPending bool
	steps        uint64
}

func newCommunity(n *Node, cid wire.CID) *Community {
	c := &Community{node: n, cid: cid}
	c.msFlushFn = c.flushMissingSequence
	c.stepFn = c.step
	c.fastFn = c.fastStep
	c.insertFn = c.insertTrackersTick
	return c
}

// CID returns the community id.
func (c *Community) CID() wire.CID { return c.cid }

// Candidates returns the candidate table in Dispersy's iteration order. The
// slice and the candidates belong to the community: read them, do not keep them.
func (c *Community) Candidates() []*Candidate { return c.cands.list }

// Steps returns how many walk steps the community has taken.
func (c *Community) Steps() uint64 { return c.steps }

func (c *Community) now() Time { return c.node.env.Now() }

func (c *Community) start() {
	n := c.node
	if c.destroyed != nil {
		return // a destroyed community does not walk
	}
	if n.tracker {
		// trackers never walk; they only drop obsolete candidates periodically
		c.stepTimer = n.env.AfterFunc(n.cfg.WalkInterval, c.stepFn)
		return
	}
	c.insertTrackers()
	c.insertTimer = n.env.AfterFunc(n.cfg.TrackerInsertInterval, c.insertFn)
	var d time.Duration
	if n.cfg.StartJitter > 0 {
		d = time.Duration(n.env.Rand().Int64N(int64(n.cfg.StartJitter)))
	}
	if n.cfg.FastWalker && n.cfg.FastWalkerSteps > 0 {
		c.stepTimer = n.env.AfterFunc(d, c.fastFn)
		return
	}
	c.stepTimer = n.env.AfterFunc(d, c.stepFn)
}

// fastStep is one tick of Dispersy's fast candidate walker: walk to every
// candidate that will soon be eligible, until enough are verified.
func (c *Community) fastStep() {
	n := c.node
	now := c.now()
	cfg := &n.cfg
	c.cleanup(now)
	verified := 0
	for _, x := range c.cands.list {
		if cat := x.Category(now, cfg); cat == CategoryWalk || cat == CategoryStumble {
			verified++
		}
	}
	if verified > cfg.FastWalkerTarget || c.fastSteps >= cfg.FastWalkerSteps {
		c.step() // switch to normal walking: a step now, then every WalkInterval
		return
	}
	c.steps++
	c.fastSteps++
	r := n.env.Rand()
	// walk to every candidate eligible within the next 20..27.5 s (Dispersy's
	// constants, as fractions of the eligible delay)
	var targets []*Candidate
	for _, x := range c.cands.list {
		ahead := cfg.EligibleDelay * 40 / 55
		ahead += time.Duration(r.Float64() * float64(cfg.EligibleDelay-ahead))
		if x.Eligible(now.Add(ahead), cfg) {
			targets = append(targets, x)
		}
	}
	for _, x := range targets {
		c.sendIntroRequest(x, now, false) // the fast walker sends no sync block
	}
	c.stepTimer = n.env.AfterFunc(cfg.FastWalkerInterval, c.fastFn)
}

func (c *Community) stop() {
	for _, t := range []Timer{c.stepTimer, c.insertTimer, c.retryTimer, c.msTimer} {
		if t != nil {
			t.Stop()
		}
	}
	for _, cs := range c.cosigns {
		cs.timer.Stop()
	}
	c.cosigns = nil
	for _, ic := range c.caches {
		ic.timer.Stop()
	}
	c.caches = nil
}

// insertTrackers adds every bootstrap tracker as a discovered candidate.
func (c *Community) insertTrackers() {
	now := c.now()
	for _, a := range c.node.trackers {
		t := c.cands.get(a)
		if t == nil {
			t = newCandidate(a, a, a, false, wire.ConnUnknown)
			c.cands.add(t)
		}
		t.Tracker = true
		t.lastDiscovered = now
	}
}

func (c *Community) insertTrackersTick() {
	c.insertTrackers()
	c.insertTimer = c.node.env.AfterFunc(c.node.cfg.TrackerInsertInterval, c.insertFn)
}

// cleanup removes obsolete candidates and their WAN votes.
func (c *Community) cleanup(now Time) {
	n := c.node
	c.cands.sweep(func(x *Candidate) bool {
		if x.Category(now, &n.cfg) == CategoryNone {
			n.votes.unvote(x.Sock())
			return true
		}
		return false
	})
}

func (c *Community) removeSock(a netip.AddrPort) {
	if x := c.cands.get(a); x != nil {
		c.cands.remove(x)
		c.node.votes.unvote(a)
	}
}

// step is one walker tick: pick a candidate and send it an
// introduction-request (Dispersy's take_step).
func (c *Community) step() {
	n := c.node
	c.stepTimer = n.env.AfterFunc(n.cfg.WalkInterval, c.stepFn)
	now := c.now()
	c.expirePunches(now)
	if n.tracker {
		c.cleanup(now)
		return
	}
	c.steps++
	if len(c.delayed) > 0 {
		c.expireDelayed(now)
	}
	target := c.walkCandidateSweep(now)
	if target == nil {
		if !c.retryPending && len(n.trackers) > 0 {
			c.retryPending = true
			c.retryTimer = n.env.AfterFunc(n.cfg.TrackerRetryInterval, func() {
				c.retryPending = false
				c.insertTrackers()
			})
		}
		return
	}
	c.sendIntroRequest(target, now, true)
}

// walkCandidate chooses the next walk target (Dispersy's
// dispersy_get_walk_candidate): per category the eligible candidate that
// waited longest, then a category by the configured shares.
func (c *Community) walkCandidate(now Time) *Candidate {
	var best [5]*Candidate
	for _, x := range c.cands.list {
		c.consider(x, x.Category(now, &c.node.cfg), now, &best)
	}
	return c.chooseWalk(&best)
}

// walkCandidateSweep is cleanup followed by walkCandidate, in one pass
// over the table (a walk step touches every candidate once).
func (c *Community) walkCandidateSweep(now Time) *Candidate {
	var best [5]*Candidate
	n := c.node
	c.cands.sweep(func(x *Candidate) bool {
		cat := x.Category(now, &n.cfg)
		if cat == CategoryNone {
			n.votes.unvote(x.Sock())
			return true
		}
		c.consider(x, cat, now, &best)
		return false
	})
	return c.chooseWalk(&best)
}

// consider keeps x in best[cat] if it is eligible and has waited longest
// in its category.
func (c *Community) consider(x *Candidate, cat Category, now Time, best *[5]*Candidate) {
	if cat == CategoryNone || (x.lastWalk != Never && x.lastWalk.Add(c.node.cfg.EligibleDelay) > now) {
		return
	}
	b := best[cat]
	if b == nil {
		best[cat] = x
		return
	}
	var older bool
	switch cat {
	case CategoryWalk:
		older = x.lastWalk < b.lastWalk
	case CategoryStumble:
		older = x.lastStumble < b.lastStumble
	case CategoryIntro:
		older = x.lastIntro < b.lastIntro
	case CategoryDiscovered:
		older = x.lastDiscovered < b.lastDiscovered
	}
	if older {
		best[cat] = x
	}
}

// chooseWalk draws the category as Dispersy does: r1 picks walk, stumble or
// intro, or discovered; r2 orders stumble and intro; an empty choice falls
// back to the others, and discovered-only draws repeat while anything is
// eligible.
func (c *Community) chooseWalk(best *[5]*Candidate) *Candidate {
	walk, stumble, intro, disc := best[CategoryWalk], best[CategoryStumble], best[CategoryIntro], best[CategoryDiscovered]
	if walk == nil && stumble == nil && intro == nil && disc == nil {
		return nil
	}
	cfg := &c.node.cfg
	first := func(cs ...*Candidate) *Candidate {
		for _, x := range cs {
			if x != nil {
				return x
			}
		}
		return nil
	}
	r := c.node.env.Rand()
	for {
		r1, r2 := r.Float64(), r.Float64()
		var si [2]*Candidate
		if r2 < .5 {
			si = [2]*Candidate{stumble, intro}
		} else {
			si = [2]*Candidate{intro, stumble}
		}
		switch {
		case r1 <= cfg.WalkShare:
			return first(walk, si[0], si[1], disc)
		case r1 <= cfg.WalkShare+cfg.StumbleIntroShare:
			return first(si[0], si[1], walk, disc)
		default:
			if disc != nil {
				return disc
			}
		}
	}
}

// introduceCandidate picks whom to introduce to the requester (Dispersy's
// dispersy_get_introduce_candidate): round-robin over walk and stumble
// candidates, a fair coin choosing which iterator goes first.
func (c *Community) introduceCandidate(exclude *Candidate, now Time) *Candidate {
	cfg := &c.node.cfg
	if c.node.tracker && cfg.TrackerIntroducesPublic && exclude != nil && exclude.ConnType != wire.ConnPublic {
		if res := c.cands.nextPublic(exclude, trackerPublicScan, now, cfg); res != nil {
			return res
		}
	}
	var first [2]*Candidate
	get := func(k int) *Candidate {
		if k == 0 && c.node.tracker {
			return nil // trackers never walk: no walk candidates
		}
		cat := CategoryWalk
		if k == 1 {
			cat = CategoryStumble
		}
		res := c.cands.next(k, cat, now, cfg)
		if res == first[k] {
			res = nil
		}
		if first[k] == nil {
			first[k] = res
		}
		return res
	}
	r := c.node.env.Rand()
	for {
		k := 1
		if r.Float64() <= .5 {
			k = 0
		}
		res := get(k)
		if res == nil {
			res = get(1 - k)
		}
		if res == nil {
			return nil
		}
		if exclude != nil {
			if res == exclude {
				continue
			}
			if !exclude.Tunnel && res.Tunnel {
				continue
			}
			if exclude.ConnType == wire.ConnSymmetricNAT && res.ConnType == wire.ConnSymmetricNAT &&
				exclude.wan.ip != res.wan.ip {
				continue
			}
		}
		return res
	}
}

// trackerPublicScan bounds how many candidates a tracker looks at for a
// public one to introduce (TrackerIntroducesPublic): with a fifth of the
// network public, 64 miss one with probability 0.8^64, about 10^-6.
const trackerPublicScan = 64

// createOrUpdate finds (or makes) the candidate at sock and updates its
// addresses (Dispersy's create_or_update_walkcandidate).
func (c *Community) createOrUpdate(sock, lan, wan netip.AddrPort, tunnel bool, ct wire.ConnType) *Candidate {
	n := c.node
	lan, wan = n.estimate(sock, lan, wan)
	x := c.cands.get(sock)
	if x == nil {
		if s := c.cands.symmetricMatch(sock, lan); s != nil {
			// a symmetric-NAT peer shows up at a new port: move it
			n.votes.unvote(s.Sock())
			c.cands.modify(s, func() { s.sock = endpointOf(sock) })
			x = s
		}
	}
	if x == nil {
		x = newCandidate(sock, lan, wan, tunnel, ct)
		c.cands.add(x)
		c.capTable(x)
		return x
	}
	c.cands.modify(x, func() { x.update(tunnel, lan, wan, ct) })
	return x
}

// capTable enforces Config.MaxCandidates by dropping the candidate that
// would become obsolete first (never keep).
func (c *Community) capTable(keep *Candidate) {
	limit := c.node.cfg.MaxCandidates
	if limit <= 0 || c.node.tracker || len(c.cands.list) <= limit {
		return
	}
	var victim *Candidate
	var vEnd Time
	cfg := &c.node.cfg
	for _, x := range c.cands.list {
		if x == keep || x.Tracker {
			continue
		}
		end := max3(x.lastWalkReply.Add(cfg.WalkLifetime), x.lastStumble.Add(cfg.StumbleLifetime),
			max(x.lastIntro.Add(cfg.IntroLifetime), x.lastDiscovered.Add(cfg.DiscoveredLifetime)))
		if victim == nil || end < vEnd {
			victim, vEnd = x, end
		}
	}
	if victim != nil {
		c.cands.remove(victim)
		c.node.votes.unvote(victim.Sock())
	}
}

func max3(a, b, d Time) Time { return max(a, max(b, d)) }

// filterDuplicates merges into x every other candidate that is the same
// peer: same WAN IP and same LAN address (filter_duplicate_candidate).
func (c *Community) filterDuplicates(x *Candidate) {
	n := c.node
	n.s.dups = c.cands.duplicates(x, n.s.dups[:0])
	for _, o := range n.s.dups {
		x.merge(o)
		c.cands.remove(o)
		n.votes.unvote(o.Sock())
	}
	clear(n.s.dups)
}

func (c *Community) cache(id uint16) *introCache {
	for _, ic := range c.caches {
		if ic.id == id {
			return ic
		}
	}
	return nil
}

func (c *Community) closeCache(ic *introCache) {
	ic.timer.Stop()
	c.dropCache(ic)
}

// dropCache removes ic from the open caches and recycles it.
func (c *Community) dropCache(ic *introCache) {
	for i, x := range c.caches {
		if x == ic {
			c.caches = append(c.caches[:i], c.caches[i+1:]...)
			break
		}
	}
	ic.helper, ic.timer = nil, nil
	c.freeCaches = append(c.freeCaches, ic)
}

func (c *Community) newIdentifier() uint16 {
	r := c.node.env.Rand()
	for {
		id := uint16(r.Uint32())
		if c.cache(id) == nil {
			return id
		}
	}
}

// header starts a packet of type t in the node's scratch buffer.
func (c *Community) header(t wire.Type, signed bool) []byte {
	n := c.node
	b := wire.AppendHeader(n.s.buf[:0], wire.CommunityVersion, c.cid, t)
	if signed {
		b = wire.AppendMember(b, n.pub)
	}
	return wire.AppendGlobalTime(b, c.globalTime())
}

func (c *Community) sign(b []byte) []byte {
	b = c.node.key.AppendSign(b, b)
	c.node.s.buf = b[:0]
	return b
}

func (c *Community) sendIntroRequest(target *Candidate, now Time, withSync bool) {
	n := c.node
	var ic *introCache
	if k := len(c.freeCaches); k > 0 {
		ic = c.freeCaches[k-1]
		c.freeCaches = c.freeCaches[:k-1]
	} else {
		ic = &introCache{}
		ic.timeout = func() { c.introTimeout(ic) }
	}
	ic.id, ic.helper, ic.gotResponse, ic.gotPuncture = c.newIdentifier(), target, false, false
	ic.timer = n.env.AfterFunc(n.cfg.IntroRequestTimeout, ic.timeout)
	c.caches = append(c.caches, ic)
	target.lastWalk = now
	req := wire.IntroRequest{
		Destination: target.Sock(), SourceLAN: n.lan, SourceWAN: n.wan,
		Advice: true, ConnType: n.connType, Identifier: ic.id,
	}
	var sc *syncCache
	if withSync {
		sc = c.claimSyncFor(target.Sock(), now, c.differs(target))
	}
	if sc != nil {
		sc.block(&n.s.sync)
		req.Sync = &n.s.sync
		target.news = false
	}
	b := c.header(wire.TypeIntroductionRequest, true)
	b = wire.AppendIntroRequest(b, &req)
	if sc != nil {
		b = sc.filter.appendBytes(b)
		n.obs.SyncRequested(c.cid, wire.SyncHeaderLen+int(sc.filter.m/8))
	}
	n.send(target.Sock(), wire.TypeIntroductionRequest, c.sign(b))
}

func (c *Community) introTimeout(ic *introCache) {
	if !ic.gotResponse {
		ic.helper.lastWalkReply = Never
	}
	c.dropCache(ic)
}

func (c *Community) handle(from netip.AddrPort, p *wire.Packet, pkt []byte) {
	if c.destroyed != nil {
		c.onDestroyed(from, p)
		return
	}
	switch p.Type {
	case wire.TypeIntroductionRequest:
		c.onIntroRequest(from, p)
	case wire.TypeIntroductionResponse:
		c.onIntroResponse(from, p)
	case wire.TypePunctureRequest:
		c.onPunctureRequest(from, p)
	case wire.TypePuncture:
		c.onPuncture(from, p)
	case wire.TypeMissingSequence:
		c.onMissingSequence(from, p)
	case wire.TypeMissingMessage:
		c.onMissingMessage(from, p)
	case wire.TypeMissingIdentity:
		c.onMissingIdentity(from, p)
	case wire.TypeMissingProof, wire.TypeSignatureRequest, wire.TypeSignatureResponse:
		switch {
		case c.store == nil:
			c.node.drop(wire.ReasonNotWanted) // a tracker holds no messages
		case p.Type == wire.TypeMissingProof:
			c.onMissingProof(from, p)
		case p.Type == wire.TypeSignatureRequest:
			c.onSignatureRequest(from, p)
		default:
			c.onSignatureResponse(from, p)
		}
	default:
		if c.def == nil {
			c.node.drop(wire.ReasonNotWanted)
			return
		}
		m := c.def.metaOf(p.Type)
		if m == nil {
			c.node.drop(wire.ReasonUnknownType)
			return
		}
		c.onMessage(from, p, pkt, m)
	}
}

func (c *Community) onIntroRequest(from netip.AddrPort, p *wire.Packet) {
	n := c.node
	now := c.now()
	req := &p.IntroRequest
	x := c.createOrUpdate(from, req.SourceLAN, req.SourceWAN, false, req.ConnType)
	x.lastStumble = now
	c.peerTime(x, p.GlobalTime)
	c.pushUnpushed(x)
	n.vote(req.Destination, from)
	c.filterDuplicates(x)

	var intro *Candidate
	if req.Advice {
		intro = c.introduceCandidate(x, now)
	}
	resp := wire.IntroResponse{
		Destination: from, SourceLAN: n.lan, SourceWAN: n.wan,
		IntroLAN: wire.Unknown, IntroWAN: wire.Unknown,
		ConnType: n.connType, Identifier: req.Identifier,
	}
	if intro != nil {
		resp.IntroLAN, resp.IntroWAN, resp.Tunnel = intro.LAN(), intro.WAN(), intro.Tunnel
	}
	// The puncture-request relays the requester's self-reported addresses.
	walkerLAN, walkerWAN := req.SourceLAN, req.SourceWAN
	b := c.header(wire.TypeIntroductionResponse, true)
	b = wire.AppendIntroResponse(b, &resp)
	n.send(from, wire.TypeIntroductionResponse, c.sign(b))
	if intro != nil {
		pr := wire.PunctureRequest{WalkerLAN: walkerLAN, WalkerWAN: walkerWAN, Identifier: req.Identifier}
		b := c.header(wire.TypePunctureRequest, false)
		b = wire.AppendPunctureRequest(b, &pr)
		n.send(intro.Sock(), wire.TypePunctureRequest, b)
		n.s.buf = b[:0]
		n.obs.Introducing(c.cid, from, intro.Sock())
	}
	if req.Sync != nil {
		c.answerSync(from, x, p.Key, req.Sync, p.GlobalTime)
	} else if n.cfg.wake() {
		c.answerNewer(from, p.GlobalTime)
	}
}

func (c *Community) onIntroResponse(from netip.AddrPort, p *wire.Packet) {
	n := c.node
	now := c.now()
	resp := &p.IntroResponse
	ic := c.cache(resp.Identifier)
	if ic == nil || ic.gotResponse {
		n.drop(wire.ReasonUnknownIdentifier)
		return
	}
	lanKnown, wanKnown := !wire.IsUnknown(resp.IntroLAN), !wire.IsUnknown(resp.IntroWAN)
	if lanKnown && !wire.ValidAddr(resp.IntroLAN) {
		n.drop(wire.ReasonBadAddress)
		return
	}
	if wanKnown {
		if !wire.ValidAddr(resp.IntroWAN) {
			n.drop(wire.ReasonBadAddress)
			return
		}
		if resp.IntroWAN == n.wan || (resp.IntroWAN.Addr() == n.wan.Addr() && resp.IntroLAN == n.lan) {
			n.drop(wire.ReasonSelfIntroduction)
			return
		}
	} else if lanKnown && resp.IntroLAN == n.lan {
		n.drop(wire.ReasonSelfIntroduction)
		return
	}

	x := c.createOrUpdate(from, resp.SourceLAN, resp.SourceWAN, false, resp.ConnType)
	c.peerTime(x, p.GlobalTime)
	x.lastWalkReply = now
	c.filterDuplicates(x)
	c.pushUnpushed(x)
	n.vote(resp.Destination, from)

	ic.gotResponse = true
	if ic.gotPuncture {
		c.closeCache(ic)
	}
	if !lanKnown || !wanKnown {
		return
	}
	sock := resp.IntroWAN
	if resp.IntroWAN.Addr() == n.wan.Addr() {
		sock = resp.IntroLAN
	}
	y := c.createOrUpdate(sock, resp.IntroLAN, resp.IntroWAN, resp.Tunnel, wire.ConnUnknown)
	y.lastIntro = now
	c.filterDuplicates(y)
	n.obs.Introduced(c.cid, from, y.Sock())
	if n.cfg.EagerPuncture {
		pu := c.newPunch(resp.Identifier, y.Sock(), now)
		c.sendPuncture(resp.Identifier, pu, y.Sock())
	}
}

func (c *Community) onPunctureRequest(from netip.AddrPort, p *wire.Packet) {
	n := c.node
	pr := &p.PunctureRequest
	if pr.WalkerLAN == from || pr.WalkerWAN == from ||
		!wire.ValidAddr(pr.WalkerLAN) || !wire.ValidAddr(pr.WalkerWAN) {
		n.drop(wire.ReasonBadAddress)
		return
	}
	if pr.WalkerWAN == n.wan || (pr.WalkerWAN.Addr() == n.wan.Addr() && pr.WalkerLAN == n.lan) {
		n.drop(wire.ReasonSelfIntroduction)
		return
	}
	target := pr.WalkerWAN
	if pr.WalkerWAN.Addr() == n.wan.Addr() {
		target = pr.WalkerLAN
	}
	if n.cfg.EagerPuncture {
		pu := c.newPunch(pr.Identifier, target, c.now())
		c.sendPuncture(pr.Identifier, pu, target)
		return
	}
	c.sendPuncture(pr.Identifier, nil, target)
}

// sendPuncture sends a puncture for walk id to to, recording it in pu
// (eager mode) when pu is not nil.
func (c *Community) sendPuncture(id uint16, pu *punch, to netip.AddrPort) {
	n := c.node
	if pu != nil {
		pu.markSent(to)
	}
	pl := wire.Puncture{SourceLAN: n.lan, SourceWAN: n.wan, Identifier: id}
	b := c.header(wire.TypePuncture, true)
	b = wire.AppendPuncture(b, &pl)
	n.send(to, wire.TypePuncture, c.sign(b))
}

func (c *Community) onPuncture(from netip.AddrPort, p *wire.Packet) {
	n := c.node
	now := c.now()
	pl := &p.Puncture
	ic := c.cache(pl.Identifier)
	var pu *punch
	if n.cfg.EagerPuncture {
		pu = c.findPunch(pl.Identifier)
	}
	if (ic == nil || ic.gotPuncture) && pu == nil {
		n.drop(wire.ReasonUnknownIdentifier)
		return
	}
	if ic != nil && !ic.gotPuncture {
		ic.gotPuncture = true
		if ic.gotResponse {
			c.closeCache(ic)
		}
	}
	if !wire.IsUnknown(pl.SourceLAN) && !wire.IsUnknown(pl.SourceWAN) {
		x := c.createOrUpdate(from, pl.SourceLAN, pl.SourceWAN, false, wire.ConnUnknown)
		x.lastIntro = now
	}
	if pu != nil {
		// Answer the first puncture that gets through, even to an address
		// we punctured already (that puncture may have been filtered before
		// the other side's NAT opened), and any from a new address.
		first := !pu.heard
		pu.heard = true
		if first || !pu.sent(from) {
			c.sendPuncture(pu.id, pu, from)
		}
	}
}

// newPunch records eager-puncture state and arms its single retry.
func (c *Community) newPunch(id uint16, target netip.AddrPort, now Time) *punch {
	pu := c.findPunch(id)
	if pu == nil || pu.target != target {
		pu = &punch{id: id, target: target, created: now}
		c.punches = append(c.punches, pu)
	}
	c.node.env.AfterFunc(c.node.cfg.PunctureRetryDelay, func() {
		if !pu.heard && !pu.retried && !c.node.stopped {
			pu.retried = true
			c.sendPuncture(pu.id, pu, pu.target)
		}
	})
	return pu
}

func (c *Community) findPunch(id uint16) *punch {
	for i := len(c.punches) - 1; i >= 0; i-- {
		if c.punches[i].id == id {
			return c.punches[i]
		}
	}
	return nil
}

func (c *Community) expirePunches(now Time) {
	life := c.node.cfg.PunctureStateLifetime
	j := 0
	for _, pu := range c.punches {
		if pu.created.Add(life) > now {
			c.punches[j] = pu
			j++
		}
	}
	clear(c.punches[j:])
	c.punches = c.punches[:j]
}
