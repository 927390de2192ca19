package protocol

import (
	"net/netip"
	"slices"
)

// smallMax is the size up to which the vote tables use slices scanned
// linearly; beyond it they switch to maps. Most nodes have a few dozen
// voters, a tracker has one per node of the network.
const smallMax = 32

// ipCount counts votes per voter IP for one voted address.
type ipCount struct {
	ip netip.Addr
	n  int32
}

// addrVotes is the tally for one voted address.
type addrVotes struct {
	addr  netip.AddrPort
	n     int
	small []ipCount            // voter IP -> votes, while few
	big   map[netip.Addr]int32 // the same, once many
}

func (t *addrVotes) inc(ip netip.Addr) {
	t.n++
	if t.big != nil {
		t.big[ip]++
		return
	}
	for i := range t.small {
		if t.small[i].ip == ip {
			t.small[i].n++
			return
		}
	}
	if len(t.small) < smallMax {
		t.small = append(t.small, ipCount{ip, 1})
		return
	}
	t.big = make(map[netip.Addr]int32, 2*smallMax)
	for _, c := range t.small {
		t.big[c.ip] = c.n
	}
	t.small = nil
	t.big[ip]++
}

func (t *addrVotes) dec(ip netip.Addr) {
	t.n--
	if t.big != nil {
		if t.big[ip]--; t.big[ip] <= 0 {
			delete(t.big, ip)
		}
		return
	}
	for i := range t.small {
		if t.small[i].ip == ip {
			if t.small[i].n--; t.small[i].n <= 0 {
				t.small = slices.Delete(t.small, i, i+1)
			}
			return
		}
	}
}

// distinctIPs returns the number of distinct voter IPs.
func (t *addrVotes) distinctIPs() int {
	if t.big != nil {
		return len(t.big)
	}
	return len(t.small)
}

// ballot is one voter's current vote.
type ballot struct {
	voter, addr netip.AddrPort
}

// votes is the WAN-address election of one node: every peer that tells us
// the address it sees us at gets one vote (Dispersy's wan_address_vote).
type votes struct {
	small []ballot                          // while few voters
	keys  []uint64                          // sockKey of small[i].voter, scanned instead of small
	big   map[netip.AddrPort]netip.AddrPort // voter -> address, once many
	tally []*addrVotes                      // in order of first vote; deterministic
}

func (v *votes) find(a netip.AddrPort) int {
	for i, t := range v.tally {
		if t.addr == a {
			return i
		}
	}
	return -1
}

// count returns the number of votes for a.
func (v *votes) count(a netip.AddrPort) int {
	if i := v.find(a); i >= 0 {
		return v.tally[i].n
	}
	return 0
}

// take removes and returns voter's ballot.
func (v *votes) take(voter netip.AddrPort) (netip.AddrPort, bool) {
	if v.big != nil {
		a, ok := v.big[voter]
		if ok {
			delete(v.big, voter)
		}
		return a, ok
	}
	if i := v.smallIndex(voter); i >= 0 {
		a := v.small[i].addr
		last := len(v.small) - 1
		v.small[i], v.keys[i] = v.small[last], v.keys[last]
		v.small, v.keys = v.small[:last], v.keys[:last]
		return a, true
	}
	return netip.AddrPort{}, false
}

func (v *votes) smallIndex(voter netip.AddrPort) int {
	k := sockKey(voter)
	for i, x := range v.keys {
		if x == k && v.small[i].voter == voter {
			return i
		}
	}
	return -1
}

// ballotOf returns voter's current vote.
func (v *votes) ballotOf(voter netip.AddrPort) (netip.AddrPort, bool) {
	if v.big != nil {
		a, ok := v.big[voter]
		return a, ok
	}
	if i := v.smallIndex(voter); i >= 0 {
		return v.small[i].addr, true
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
	t := v.tally[i]
	t.dec(voter.Addr())
	if t.n <= 0 {
		v.tally = slices.Delete(v.tally, i, i+1)
	}
}

// add records voter's vote for a (after unvote).
func (v *votes) add(a, voter netip.AddrPort) {
	switch {
	case v.big != nil:
		v.big[voter] = a
	case len(v.small) < smallMax:
		v.small = append(v.small, ballot{voter, a})
		v.keys = append(v.keys, sockKey(voter))
	default:
		v.big = make(map[netip.AddrPort]netip.AddrPort, 2*smallMax)
		for _, b := range v.small {
			v.big[b.voter] = b.addr
		}
		v.small, v.keys = nil, nil
		v.big[voter] = a
	}
	i := v.find(a)
	if i < 0 {
		v.tally = append(v.tally, &addrVotes{addr: a})
		i = len(v.tally) - 1
	}
	v.tally[i].inc(voter.Addr())
}

// addresses returns how many distinct addresses have votes.
func (v *votes) addresses() int { return len(v.tally) }

// anyMultiIP reports whether some address was voted for by voters from at
// least two different IPs.
func (v *votes) anyMultiIP() bool {
	for _, t := range v.tally {
		if t.distinctIPs() > 1 {
			return true
		}
	}
	return false
}
