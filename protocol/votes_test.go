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
		if r.IntN(5) == 0 { // an IPv6 voter, sometimes the IPv4-mapped form of an IPv4 one
			b := voter.Addr().As16()
			if r.IntN(2) == 0 {
				b[0] = 0x20
			}
			voter = netip.AddrPortFrom(netip.AddrFrom16(b), voter.Port())
		}
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

// TestEndpointRoundTrip checks that packing an address keeps it, and keeps
// IPv4 apart from its IPv4-mapped IPv6 form.
func TestEndpointRoundTrip(t *testing.T) {
	for _, s := range []string{"1.2.3.4:5", "0.0.0.0:0", "[::ffff:1.2.3.4]:5", "[2001:db8::1]:65535", "[::]:0"} {
		a := netip.MustParseAddrPort(s)
		if got := endpointOf(a).addrPort(); got != a {
			t.Errorf("%v: round trip gives %v", a, got)
		}
	}
	if endpointOf(ap("1.2.3.4:5")) == endpointOf(netip.MustParseAddrPort("[::ffff:1.2.3.4]:5")) {
		t.Errorf("1.2.3.4:5 and its IPv4-mapped form pack alike")
	}
	if got := endpointOf(netip.AddrPort{}).addrPort(); got.IsValid() {
		t.Errorf("the zero AddrPort comes back as %v", got)
	}
}
