package protocol

import (
	"net/netip"
	"slices"
)

// addrVotes is the tally for one voted address.
type addrVotes struct {
	addr netip.AddrPort
	n    int
	ips  map[netip.Addr]int32 // voter IP -> votes from that IP
}

// votes is the WAN-address election of one node: every peer that tells us
// the address it sees us at gets one vote (Dispersy's wan_address_vote).
type votes struct {
	byVoter map[netip.AddrPort]netip.AddrPort
	tally   []*addrVotes // in order of first vote; deterministic
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

// unvote removes voter's vote, if any.
func (v *votes) unvote(voter netip.AddrPort) {
	a, ok := v.byVoter[voter]
	if !ok {
		return
	}
	delete(v.byVoter, voter)
	i := v.find(a)
	if i < 0 {
		return
	}
	t := v.tally[i]
	t.n--
	ip := voter.Addr()
	if t.ips[ip]--; t.ips[ip] <= 0 {
		delete(t.ips, ip)
	}
	if t.n <= 0 {
		v.tally = slices.Delete(v.tally, i, i+1)
	}
}

// add records voter's vote for a (after unvote).
func (v *votes) add(a, voter netip.AddrPort) {
	if v.byVoter == nil {
		v.byVoter = make(map[netip.AddrPort]netip.AddrPort)
	}
	v.byVoter[voter] = a
	i := v.find(a)
	if i < 0 {
		v.tally = append(v.tally, &addrVotes{addr: a, ips: make(map[netip.Addr]int32, 1)})
		i = len(v.tally) - 1
	}
	t := v.tally[i]
	t.n++
	t.ips[voter.Addr()]++
}

// addresses returns how many distinct addresses have votes.
func (v *votes) addresses() int { return len(v.tally) }

// anyMultiIP reports whether some address was voted for by voters from at
// least two different IPs.
func (v *votes) anyMultiIP() bool {
	for _, t := range v.tally {
		if len(t.ips) > 1 {
			return true
		}
	}
	return false
}
