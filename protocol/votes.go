package protocol

import (
	"net/netip"
	"slices"
)

// smallMax is the size up to which the ballots are a slice scanned
// linearly; beyond it they move to a map. Most nodes have a few dozen
// voters, a tracker has one per node of the network.
const smallMax = 32

// ballot is one voter's current vote.
type ballot struct {
	voter, addr endpoint
}

// tally counts the votes for one address. Whether they come from more
// than one IP is all the election asks, so instead of a count per voter
// IP it keeps one IP (first) and how many of the votes come from it: the
// votes come from several IPs exactly when n > nFirst. When the last vote
// from first goes, the smallest IP among the remaining voters takes its
// place (a scan of the ballots; rare).
type tally struct {
	addr      endpoint
	first     ip16
	n, nFirst int32
}

func (t *tally) multiIP() bool { return t.n > t.nFirst }

// votes is the WAN-address election of one node: every peer that tells us
// the address it sees us at gets one vote (Dispersy's wan_address_vote).
// Nothing in it holds a pointer but the slices and the map themselves.
type votes struct {
	small []ballot              // while few voters
	keys  []uint64              // sockKey of small[i].voter, scanned instead of small
	big   map[endpoint]endpoint // voter -> address, once many
	tally []tally               // in order of first vote; deterministic
	multi int                   // tallies whose votes come from several IPs
}

func (v *votes) find(a endpoint) int {
	for i := range v.tally {
		if v.tally[i].addr == a {
			return i
		}
	}
	return -1
}

// count returns the number of votes for a.
func (v *votes) count(a netip.AddrPort) int {
	if i := v.find(endpointOf(a)); i >= 0 {
		return int(v.tally[i].n)
	}
	return 0
}

// take removes and returns voter's ballot.
func (v *votes) take(voter netip.AddrPort) (endpoint, bool) {
	e := endpointOf(voter)
	if v.big != nil {
		a, ok := v.big[e]
		if ok {
			delete(v.big, e)
		}
		return a, ok
	}
	if i := v.smallIndex(voter, e); i >= 0 {
		a := v.small[i].addr
		last := len(v.small) - 1
		v.small[i], v.keys[i] = v.small[last], v.keys[last]
		v.small, v.keys = v.small[:last], v.keys[:last]
		return a, true
	}
	return endpoint{}, false
}

func (v *votes) smallIndex(voter netip.AddrPort, e endpoint) int {
	k := sockKey(voter)
	for i, x := range v.keys {
		if x == k && v.small[i].voter == e {
			return i
		}
	}
	return -1
}

// ballotOf returns voter's current vote.
func (v *votes) ballotOf(voter netip.AddrPort) (netip.AddrPort, bool) {
	e := endpointOf(voter)
	if v.big != nil {
		a, ok := v.big[e]
		return a.addrPort(), ok
	}
	if i := v.smallIndex(voter, e); i >= 0 {
		return v.small[i].addr.addrPort(), true
	}
	return netip.AddrPort{}, false
}

// voters returns the number of voters.
func (v *votes) voters() int {
	if v.big != nil {
		return len(v.big)
	}
	return len(v.small)
}

// unvote removes voter's vote, if any.
func (v *votes) unvote(voter netip.AddrPort) {
	a, ok := v.take(voter)
	if !ok {
		return
	}
	i := v.find(a)
	if i < 0 {
		return
	}
	t := &v.tally[i]
	was := t.multiIP()
	t.n--
	if ip := endpointOf(voter).ip; ip == t.first {
		t.nFirst--
	}
	switch {
	case t.n <= 0:
		v.tally = slices.Delete(v.tally, i, i+1)
		if was {
			v.multi--
		}
		return
	case t.nFirst <= 0:
		v.recount(t)
	}
	if now := t.multiIP(); now != was {
		if now {
			v.multi++
		} else {
			v.multi--
		}
	}
}

// recount makes the smallest IP among t's voters its first.
func (v *votes) recount(t *tally) {
	var first ip16
	n := int32(0)
	see := func(voter, addr endpoint) {
		switch {
		case addr != t.addr:
		case n == 0 || voter.ip.less(first):
			first, n = voter.ip, 1
		case voter.ip == first:
			n++
		}
	}
	if v.big != nil {
		for voter, addr := range v.big {
			see(voter, addr)
		}
	} else {
		for _, b := range v.small {
			see(b.voter, b.addr)
		}
	}
	t.first, t.nFirst = first, n
}

// add records voter's vote for a (after unvote).
func (v *votes) add(a, voter netip.AddrPort) {
	ea, ev := endpointOf(a), endpointOf(voter)
	switch {
	case v.big != nil:
		v.big[ev] = ea
	case len(v.small) < smallMax:
		v.small = append(v.small, ballot{ev, ea})
		v.keys = append(v.keys, sockKey(voter))
	default:
		v.big = make(map[endpoint]endpoint, 2*smallMax)
		for _, b := range v.small {
			v.big[b.voter] = b.addr
		}
		v.small, v.keys = nil, nil
		v.big[ev] = ea
	}
	i := v.find(ea)
	if i < 0 {
		v.tally = append(v.tally, tally{addr: ea, first: ev.ip})
		i = len(v.tally) - 1
	}
	t := &v.tally[i]
	was := t.multiIP()
	t.n++
	if ev.ip == t.first {
		t.nFirst++
	}
	if !was && t.multiIP() {
		v.multi++
	}
}

// addresses returns how many distinct addresses have votes.
func (v *votes) addresses() int { return len(v.tally) }

// anyMultiIP reports whether some address was voted for by voters from at
// least two different IPs.
func (v *votes) anyMultiIP() bool { return v.multi > 0 }
