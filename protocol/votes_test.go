package protocol

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestVotesModel drives the vote table through random votes and unvotes,
// across the switch from slices to maps, and compares it with a plain model.
func TestVotesModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var v votes
	model := map[netip.AddrPort]netip.AddrPort{}
	addrs := []netip.AddrPort{ap("1.1.1.1:1"), ap("1.1.1.1:2"), ap("2.2.2.2:1")}
	for step := 0; step < 4000; step++ {
		nVoters := 10
		if step > 1000 {
			nVoters = 200 // forces the map representation
		}
		voter := netip.AddrPortFrom(netip.AddrFrom4([4]byte{9, 0, byte(r.IntN(nVoters) % 7), byte(r.IntN(nVoters))}), uint16(r.IntN(3)+1))
		v.unvote(voter)
		delete(model, voter)
		if r.IntN(3) > 0 {
			a := addrs[r.IntN(len(addrs))]
			v.add(a, voter)
			model[voter] = a
		}
		if v.voters() != len(model) {
			t.Fatalf("step %d: %d voters, model %d", step, v.voters(), len(model))
		}
		counts := map[netip.AddrPort]int{}
		ips := map[netip.AddrPort]map[netip.Addr]bool{}
		for vt, a := range model {
			counts[a]++
			if ips[a] == nil {
				ips[a] = map[netip.Addr]bool{}
			}
			ips[a][vt.Addr()] = true
		}
		multi := false
		for _, a := range addrs {
			if v.count(a) != counts[a] {
				t.Fatalf("step %d: %v has %d votes, model %d", step, a, v.count(a), counts[a])
			}
			if len(ips[a]) > 1 {
				multi = true
			}
		}
		if v.addresses() != len(counts) || v.anyMultiIP() != multi {
			t.Fatalf("step %d: addresses %d (model %d), multi %v (model %v)", step, v.addresses(), len(counts), v.anyMultiIP(), multi)
		}
	}
	if v.big == nil {
		t.Fatalf("the table never switched to maps; the test did not cover it")
	}
}
