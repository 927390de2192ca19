package natmodels

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// host is a host behind a chain of boxes (inner to outer), driven by hand the
// way the simulator drives them.
type host struct {
	addr  netip.AddrPort
	chain []*Box
}

// newHost builds a host behind profile name; i makes its addresses unique.
func newHost(t testing.TB, name string, i byte) *host {
	t.Helper()
	p, ok := LookupProfile(name)
	if !ok {
		t.Fatalf("no profile %q", name)
	}
	h := &host{addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, i, 2}), 40000)}
	if len(p.Chain) == 0 {
		h.addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, i}), 40000)
	}
	for j, b := range p.Chain {
		public := netip.AddrFrom4([4]byte{100, 64, i, byte(j + 1)}) // CGN-side address of a home NAT
		if j == len(p.Chain)-1 {
			public = netip.AddrFrom4([4]byte{198, 51, 100, i})
		}
		x, err := NewBox(b, public, newRand(uint64(i)<<8|uint64(j)))
		if err != nil {
			t.Fatal(err)
		}
		h.chain = append(h.chain, x)
	}
	return h
}

// public is the host's address as the Internet sees it.
func (h *host) public() netip.Addr {
	if len(h.chain) == 0 {
		return h.addr.Addr()
	}
	return h.chain[len(h.chain)-1].Public()
}

// send returns the source a packet from h to dst has on the Internet.
func (h *host) send(now time.Duration, dst netip.AddrPort) (netip.AddrPort, bool) {
	src := h.addr
	for _, x := range h.chain {
		m, ok := x.Outbound(now, src, dst)
		if !ok {
			return netip.AddrPort{}, false
		}
		src = m
	}
	return src, true
}

// recv reports whether a packet from src to dst (on h's public address) gets
// through every box to h.
func (h *host) recv(now time.Duration, src, dst netip.AddrPort) bool {
	if dst.Addr() != h.public() {
		return false
	}
	for i := len(h.chain) - 1; i >= 0; i-- {
		in, v := h.chain[i].Inbound(now, src, dst)
		if v != Pass {
			return false
		}
		dst = in
	}
	return dst == h.addr
}

var server = netip.MustParseAddrPort("192.0.2.1:7000")

// punch runs the textbook experiment between hosts a and b. Both first
// talk to a server, which tells each the other's mapped endpoint. Then, in
// each round, b sends to its target for a and a to its target for b; a side
// that receives a packet retargets to the source it came from. In the
// Dispersy order b's packet arrives at a before a sends; simultaneously,
// both packets leave before either arrives. It succeeds iff both directions
// pass in the last round.
func punch(t testing.TB, a, b *host, simultaneous bool) bool {
	now := time.Second
	mA, okA := a.send(now, server)
	mB, okB := b.send(now, server)
	if !okA || !okB {
		t.Fatal("no mapping toward the server")
	}
	aTarget, bTarget := mB, mA
	var ab, ba bool
	for range 4 {
		now += 50 * time.Millisecond
		srcB, okB := b.send(now, bTarget)
		var srcA netip.AddrPort
		var okA bool
		if simultaneous {
			srcA, okA = a.send(now, aTarget)
		}
		ba = okB && a.recv(now, srcB, bTarget)
		if ba {
			aTarget = srcB
		}
		if !simultaneous {
			now += 50 * time.Millisecond
			srcA, okA = a.send(now, aTarget)
		}
		ab = okA && b.recv(now, srcA, aTarget)
		if ab {
			bTarget = srcA
		}
	}
	return ab && ba
}

// TestHolePunchMatrix reproduces the classic hole-punching table. Row a is
// the side whose NAT receives the first punch before it has sent anything to
// the peer, column b is the side that punches first (the Dispersy order).
//
// Cone NATs punch with each other; symmetric NAT fails against a filter
// that needs its port (port-restricted, cgnat, the Linux routers) and
// against itself; Linux masquerade without the WAN input drop fails when
// the first punch reaches it from a peer that filters per port, because the
// punch leaves a conntrack entry that costs its host the port the peer
// expects (and against itself, as measured).
func TestHolePunchMatrix(t *testing.T) {
	names := ProfileNames()
	// columns in ProfileNames order:
	// public full-cone restricted port-restricted symmetric cgnat linux-masq linux-masq-nofw
	want := map[string]string{
		ProfilePublic:              "+ + + + + + + +",
		ProfileFullCone:            "+ + + + + + + +",
		ProfileRestrictedCone:      "+ + + + + + + +",
		ProfilePortRestrictedCone:  "+ + + + - + + +",
		ProfileSymmetric:           "+ + + - - - - -",
		ProfileCGNAT:               "+ + + + - + + +",
		ProfileLinuxMasquerade:     "+ + + + - + + +",
		ProfileLinuxMasqueradeNoFW: "+ + + - - - - -",
	}
	var got strings.Builder
	failed := false
	for _, row := range names {
		cells := strings.Fields(want[row])
		if len(cells) != len(names) {
			t.Fatalf("row %s: %d cells", row, len(cells))
		}
		fmt.Fprintf(&got, "%-22s", row)
		for j, col := range names {
			ok := punch(t, newHost(t, row, 1), newHost(t, col, 2), false)
			mark := "-"
			if ok {
				mark = "+"
			}
			got.WriteString(" " + mark)
			if mark != cells[j] {
				failed = true
				t.Errorf("%s (punched first) x %s (punches): success=%v, want %v", row, col, ok, cells[j] == "+")
			}
		}
		got.WriteString("\n")
	}
	if failed {
		t.Logf("got:\n%s", got.String())
	}
}

// TestHolePunchSimultaneous: when both punches leave before either arrives,
// no unsolicited entry exists yet and the Linux router without input drop
// punches too (the "wire delay" fix of the research, §4).
func TestHolePunchSimultaneous(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{ProfileLinuxMasqueradeNoFW, ProfileLinuxMasqueradeNoFW, true},
		{ProfileLinuxMasqueradeNoFW, ProfilePortRestrictedCone, true},
		{ProfileLinuxMasquerade, ProfileLinuxMasquerade, true},
		{ProfilePortRestrictedCone, ProfileSymmetric, false},
		{ProfileSymmetric, ProfileSymmetric, false},
		{ProfileRestrictedCone, ProfileSymmetric, true},
	}
	for _, tt := range tests {
		if got := punch(t, newHost(t, tt.a, 1), newHost(t, tt.b, 2), true); got != tt.want {
			t.Errorf("%s x %s simultaneous: success=%v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestCGNATHairpin: two subscribers behind one shared carrier-grade NAT reach
// each other through its public address, which needs hairpinning there. The
// router below is what the simulator must do: after the outer box's
// Outbound, a packet addressed to the box's own public address is handed to
// its Inbound with the translated source if Hairpin is set, else dropped.
func TestCGNATHairpin(t *testing.T) {
	for _, hairpin := range []bool{true, false} {
		t.Run(fmt.Sprintf("hairpin=%v", hairpin), func(t *testing.T) {
			p, _ := LookupProfile(ProfileCGNAT)
			p.Chain[1].Hairpin = hairpin
			outer, err := NewBox(p.Chain[1], netip.MustParseAddr("198.51.100.1"), newRand(9))
			if err != nil {
				t.Fatal(err)
			}
			mk := func(i byte) *host {
				home, err := NewBox(p.Chain[0], netip.AddrFrom4([4]byte{100, 64, 0, i}), newRand(uint64(i)))
				if err != nil {
					t.Fatal(err)
				}
				return &host{addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 2}), 40000), chain: []*Box{home, outer}}
			}
			h1, h2 := mk(1), mk(2)
			// route sends from h to dst and reports whether it reached to.
			route := func(now time.Duration, from, to *host, dst netip.AddrPort) bool {
				src, ok := from.send(now, dst)
				if !ok {
					return false
				}
				if dst.Addr() != outer.Public() || !outer.Behavior().Hairpin {
					return false // leaves for the Internet, or dropped
				}
				in, v := outer.Inbound(now, src, dst)
				if v != Pass {
					return false
				}
				home := to.chain[0]
				if in.Addr() != home.Public() {
					return false
				}
				in, v = home.Inbound(now, src, in)
				return v == Pass && in == to.addr
			}
			m1, _ := h1.send(0, server)
			m2, _ := h2.send(0, server)
			if m1.Addr() != m2.Addr() || m1 == m2 {
				t.Fatalf("mapped endpoints %v, %v: want one address, two ports", m1, m2)
			}
			var ok12, ok21 bool
			for i := range 3 {
				now := time.Duration(i+1) * time.Second
				ok21 = route(now, h2, h1, m1)
				ok12 = route(now, h1, h2, m2)
			}
			if got := ok12 && ok21; got != hairpin {
				t.Errorf("subscribers reach each other: %v, want %v", got, hairpin)
			}
		})
	}
}
