package protocol

import (
	"net/netip"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Category is a candidate's walker category at a given time.
type Category uint8

// Candidate categories, in Dispersy's order of precedence.
const (
	CategoryNone       Category = iota // obsolete: removed at the next cleanup
	CategoryWalk                       // we walked to it and it answered recently
	CategoryStumble                    // it walked to us recently
	CategoryIntro                      // someone introduced it (or it punctured us) recently
	CategoryDiscovered                 // inserted from outside (bootstrap trackers)
)

// String names the category as Dispersy does.
func (c Category) String() string {
	switch c {
	case CategoryWalk:
		return "walk"
	case CategoryStumble:
		return "stumble"
	case CategoryIntro:
		return "intro"
	case CategoryDiscovered:
		return "discovered"
	}
	return "none"
}

// Candidate is one UDP endpoint of a peer in one community, with the
// timestamps that decide its category.
//
// Its addresses are packed (endpoint): a candidate holds no pointer, so
// the collector never scans the millions of them a large simulation keeps.
type Candidate struct {
	sock     endpoint // where we talk to it
	lan      endpoint // its LAN address, or 0.0.0.0:0
	wan      endpoint // its WAN address, or 0.0.0.0:0
	Tunnel   bool
	ConnType wire.ConnType
	Tracker  bool // a bootstrap tracker

	lastWalk, lastWalkReply, lastStumble, lastIntro, lastDiscovered Time
	globalTime                                                      uint64 // highest global time it sent us
	// news: its last sync block showed a packet we lack (SkipWake); our
	// next request to it carries a sync block
	news bool
}

// Sock returns the address we talk to the candidate at.
func (c *Candidate) Sock() netip.AddrPort { return c.sock.addrPort() }

// LAN returns the candidate's LAN address, or 0.0.0.0:0 if unknown.
func (c *Candidate) LAN() netip.AddrPort { return c.lan.addrPort() }

// WAN returns the candidate's WAN address, or 0.0.0.0:0 if unknown.
func (c *Candidate) WAN() netip.AddrPort { return c.wan.addrPort() }

func newCandidate(sock, lan, wan netip.AddrPort, tunnel bool, ct wire.ConnType) *Candidate {
	c := &Candidate{sock: endpointOf(sock), Tunnel: tunnel, lan: unknownEndpoint, wan: unknownEndpoint,
		lastWalk: Never, lastWalkReply: Never, lastStumble: Never, lastIntro: Never, lastDiscovered: Never}
	c.update(tunnel, lan, wan, ct)
	return c
}

// update overwrites the addresses with the ones given when those are known.
// (Dispersy overwrites only addresses that are already known, which keeps an
// unknown address unknown forever; that looks unintended and is not kept.)
func (c *Candidate) update(tunnel bool, lan, wan netip.AddrPort, ct wire.ConnType) {
	c.Tunnel = tunnel
	if !wire.IsUnknown(lan) {
		c.lan = endpointOf(lan)
	}
	if !wire.IsUnknown(wan) {
		c.wan = endpointOf(wan)
	}
	if ct == wire.ConnUnknown && lan == wan {
		ct = wire.ConnPublic
	}
	c.ConnType = ct
}

// Category returns the candidate's category at now.
func (c *Candidate) Category(now Time, cfg *Config) Category {
	switch {
	case c.lastWalkReply != Never && now < c.lastWalkReply.Add(cfg.WalkLifetime):
		return CategoryWalk
	case c.lastStumble != Never && now < c.lastStumble.Add(cfg.StumbleLifetime):
		return CategoryStumble
	case c.lastIntro != Never && now < c.lastIntro.Add(cfg.IntroLifetime):
		return CategoryIntro
	case c.lastDiscovered != Never && now < c.lastDiscovered.Add(cfg.DiscoveredLifetime):
		return CategoryDiscovered
	}
	return CategoryNone
}

// Eligible reports whether the candidate may be walked to at now.
func (c *Candidate) Eligible(now Time, cfg *Config) bool {
	return (c.lastWalk == Never || c.lastWalk.Add(cfg.EligibleDelay) <= now) && c.Category(now, cfg) != CategoryNone
}

// LastWalkReply returns when the candidate last answered our walk (Never if not).
func (c *Candidate) LastWalkReply() Time { return c.lastWalkReply }

func (c *Candidate) merge(o *Candidate) {
	c.lastWalkReply = max(c.lastWalkReply, o.lastWalkReply)
	c.lastWalk = max(c.lastWalk, o.lastWalk)
	c.lastStumble = max(c.lastStumble, o.lastStumble)
	c.lastIntro = max(c.lastIntro, o.lastIntro)
	c.Tracker = c.Tracker || o.Tracker
}

// indexMin is the table size from which lookups use maps instead of scans.
const indexMin = 48

// candTable is a community's candidate table: insertion-ordered (Dispersy
// iterates its dict in insertion order), with map indexes once it is large
// (a tracker holds every node of the network).
type candTable struct {
	list []*Candidate
	// keys[i] is sockKey(list[i].Sock) and lans[i] sockKey(list[i].LAN):
	// scanning them touches a few cache lines instead of every candidate.
	keys []uint64
	lans []uint64
	// indexes, non-nil when len(list) >= indexMin
	bySock map[endpoint]*Candidate
	symIP  map[ip16][]*Candidate // symmetric-NAT candidates by IP
	byLAN  map[endpoint][]*Candidate

	// round-robin cursors of the introduce iterators (index of last
	// yield): walk, stumble, and a tracker's public stumble candidates
	cursor [3]int
}

func (t *candTable) indexed() bool { return t.bySock != nil }

// sockKey packs an IPv4 endpoint into 48 bits; other addresses get a hash
// with the top bit set (a match is confirmed on the full address).
func sockKey(a netip.AddrPort) uint64 { return endpointOf(a).key() }

func (e endpoint) key() uint64 {
	if e.ip.kind == 4 {
		b := e.ip.b
		return uint64(b[12])<<40 | uint64(b[13])<<32 | uint64(b[14])<<24 | uint64(b[15])<<16 | uint64(e.port)
	}
	h := uint64(14695981039346656037)
	for _, x := range e.ip.b {
		h = (h ^ uint64(x)) * 1099511628211
	}
	return (h^uint64(e.port))<<1>>1 | 1<<63
}

func (t *candTable) get(sock netip.AddrPort) *Candidate {
	e := endpointOf(sock)
	if t.indexed() {
		return t.bySock[e]
	}
	k := e.key()
	for i, x := range t.keys {
		if x == k && t.list[i].sock == e {
			return t.list[i]
		}
	}
	return nil
}

// symmetricMatch finds a symmetric-NAT candidate on the same host as sock
// whose LAN address is unknown or equal to lan.
func (t *candTable) symmetricMatch(sock, lan netip.AddrPort) *Candidate {
	es, el := endpointOf(sock), endpointOf(lan)
	ip := es.ip
	match := func(c *Candidate) bool {
		return c.ConnType == wire.ConnSymmetricNAT && c.sock.ip == ip && (c.lan.unknown() || c.lan == el)
	}
	if t.indexed() {
		for _, c := range t.symIP[ip] {
			if match(c) {
				return c
			}
		}
		return nil
	}
	k := es.key()
	for i, x := range t.keys {
		// same IPv4 address (the port differs), or any non-IPv4 key
		if (x>>16 == k>>16 || x>>63 == 1) && match(t.list[i]) {
			return t.list[i]
		}
	}
	return nil
}

func (t *candTable) add(c *Candidate) {
	t.list = append(t.list, c)
	t.keys = append(t.keys, c.sock.key())
	t.lans = append(t.lans, c.lan.key())
	if t.indexed() {
		t.indexAdd(c)
	} else if len(t.list) >= indexMin {
		t.bySock = make(map[endpoint]*Candidate, 2*len(t.list))
		t.symIP = make(map[ip16][]*Candidate)
		t.byLAN = make(map[endpoint][]*Candidate, 2*len(t.list))
		for _, x := range t.list {
			t.indexAdd(x)
		}
	}
}

func (t *candTable) indexAdd(c *Candidate) {
	t.bySock[c.sock] = c
	if c.ConnType == wire.ConnSymmetricNAT {
		t.symIP[c.sock.ip] = append(t.symIP[c.sock.ip], c)
	}
	if !c.lan.unknown() {
		t.byLAN[c.lan] = append(t.byLAN[c.lan], c)
	}
}

func removePtr(s []*Candidate, c *Candidate) []*Candidate {
	for i, x := range s {
		if x == c {
			copy(s[i:], s[i+1:])
			s[len(s)-1] = nil
			return s[:len(s)-1]
		}
	}
	return s
}

func (t *candTable) indexDel(c *Candidate) {
	if t.bySock[c.sock] == c {
		delete(t.bySock, c.sock)
	}
	if c.ConnType == wire.ConnSymmetricNAT {
		ip := c.sock.ip
		if s := removePtr(t.symIP[ip], c); len(s) == 0 {
			delete(t.symIP, ip)
		} else {
			t.symIP[ip] = s
		}
	}
	if !c.lan.unknown() {
		if s := removePtr(t.byLAN[c.lan], c); len(s) == 0 {
			delete(t.byLAN, c.lan)
		} else {
			t.byLAN[c.lan] = s
		}
	}
}

// modify applies f to c, keeping the indexes right when f changes the
// socket address, LAN address or connection type.
func (t *candTable) modify(c *Candidate, f func()) {
	sock, lan := c.sock, c.lan
	if t.indexed() {
		t.indexDel(c)
		f()
		t.indexAdd(c)
	} else {
		f()
	}
	if c.sock != sock || c.lan != lan {
		for i, x := range t.list {
			if x == c {
				t.keys[i] = c.sock.key()
				t.lans[i] = c.lan.key()
			}
		}
	}
}

// remove deletes c; it keeps the round-robin cursors pointing at the same
// next candidate, as Dispersy's iterators do.
func (t *candTable) remove(c *Candidate) {
	for i, x := range t.list {
		if x == c {
			t.removeAt(i)
			return
		}
	}
}

func (t *candTable) removeAt(i int) {
	c := t.list[i]
	if t.indexed() {
		t.indexDel(c)
	}
	copy(t.list[i:], t.list[i+1:])
	t.list[len(t.list)-1] = nil
	t.list = t.list[:len(t.list)-1]
	copy(t.keys[i:], t.keys[i+1:])
	t.keys = t.keys[:len(t.keys)-1]
	copy(t.lans[i:], t.lans[i+1:])
	t.lans = t.lans[:len(t.lans)-1]
	for k := range t.cursor {
		if t.cursor[k] >= i {
			t.cursor[k]--
		}
	}
}

// sweep removes every candidate for which drop returns true, in one pass.
func (t *candTable) sweep(drop func(*Candidate) bool) {
	j := 0
	removedBefore := [len(t.cursor)]int{}
	for i, c := range t.list {
		if drop(c) {
			if t.indexed() {
				t.indexDel(c)
			}
			for k := range t.cursor {
				if i <= t.cursor[k] {
					removedBefore[k]++
				}
			}
			continue
		}
		t.list[j] = c
		t.keys[j] = t.keys[i]
		t.lans[j] = t.lans[i]
		j++
	}
	t.keys = t.keys[:j]
	t.lans = t.lans[:j]
	for i := j; i < len(t.list); i++ {
		t.list[i] = nil
	}
	t.list = t.list[:j]
	for k := range t.cursor {
		t.cursor[k] -= removedBefore[k]
	}
}

// duplicates returns the other candidates with c's WAN IP and LAN address.
func (t *candTable) duplicates(c *Candidate, out []*Candidate) []*Candidate {
	if c.lan.unknown() {
		return out
	}
	match := func(o *Candidate) bool {
		return o != c && o.lan == c.lan && o.wan.ip == c.wan.ip
	}
	if t.indexed() {
		for _, o := range t.byLAN[c.lan] {
			if match(o) {
				out = append(out, o)
			}
		}
		return out
	}
	k := c.lan.key()
	for i, x := range t.lans {
		if x == k && match(t.list[i]) {
			out = append(out, t.list[i])
		}
	}
	return out
}

// nextPublic advances the third round-robin iterator over at most limit
// candidates to the next stumble candidate that reports a public
// connection type, has both addresses known, is not exclude and is not
// tunnelled unless exclude is. It returns nil when none was found.
func (t *candTable) nextPublic(exclude *Candidate, limit int, now Time, cfg *Config) *Candidate {
	n := len(t.list)
	for step := 0; step < min(n, limit); step++ {
		i := t.cursor[2] + 1
		if i >= n || i < 0 {
			i = 0
		}
		t.cursor[2] = i
		c := t.list[i]
		if c.ConnType == wire.ConnPublic && c != exclude && (exclude.Tunnel || !c.Tunnel) &&
			!c.lan.unknown() && !c.wan.unknown() && c.Category(now, cfg) == CategoryStumble {
			return c
		}
	}
	return nil
}

// next advances round-robin iterator k (0: walk, 1: stumble) to the next
// candidate of category cat with both addresses known. It returns nil after
// a full cycle without a match.
func (t *candTable) next(k int, cat Category, now Time, cfg *Config) *Candidate {
	n := len(t.list)
	for step := 0; step < n; step++ {
		i := t.cursor[k] + 1
		if i >= n || i < 0 {
			i = 0
		}
		t.cursor[k] = i
		c := t.list[i]
		if c.Category(now, cfg) == cat && !c.lan.unknown() && !c.wan.unknown() {
			return c
		}
	}
	return nil
}
