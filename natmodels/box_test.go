package natmodels

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unsafe"
)

const s = time.Second

var (
	pubAddr = netip.MustParseAddr("198.51.100.1")
	in1     = netip.MustParseAddrPort("10.0.0.2:40000")
	in2     = netip.MustParseAddrPort("10.0.0.3:40000")
	r1p1    = netip.MustParseAddrPort("192.0.2.1:7000")
	r1p2    = netip.MustParseAddrPort("192.0.2.1:7001")
	r2p1    = netip.MustParseAddrPort("192.0.2.2:7000")
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

func mustBox(t testing.TB, b Behavior) *Box {
	t.Helper()
	x, err := NewBox(b, pubAddr, newRand(1))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func mustRangeBox(t testing.TB, b Behavior, lo, hi uint16) *Box {
	t.Helper()
	x, err := newBox(b, pubAddr, newRand(1), lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func preset(t testing.TB, name string) Behavior {
	t.Helper()
	p, ok := LookupProfile(name)
	if !ok || len(p.Chain) != 1 {
		t.Fatalf("preset %q: want one box", name)
	}
	return p.Chain[0]
}

func out(t testing.TB, x *Box, now time.Duration, src, dst netip.AddrPort) netip.AddrPort {
	t.Helper()
	m, ok := x.Outbound(now, src, dst)
	if !ok {
		t.Fatalf("Outbound(%v, %v, %v): no port", now, src, dst)
	}
	if m.Addr() != pubAddr {
		t.Fatalf("Outbound mapped to %v, want address %v", m, pubAddr)
	}
	return m
}

func TestValidate(t *testing.T) {
	ok := Behavior{Timeout: s}
	tests := []struct {
		name  string
		b     Behavior
		field string // in the error; "" = valid
	}{
		{"minimal", ok, ""},
		{"mapping", Behavior{Mapping: 3, Timeout: s}, "Mapping"},
		{"mapping negative", Behavior{Mapping: -1, Timeout: s}, "Mapping"},
		{"filtering", Behavior{Filtering: 7, Timeout: s}, "Filtering"},
		{"portalloc", Behavior{PortAlloc: 3, Timeout: s}, "PortAlloc"},
		{"timeout zero", Behavior{}, "Timeout"},
		{"timeout negative", Behavior{Timeout: -s}, "Timeout"},
		{"assured negative", Behavior{Timeout: s, AssuredTimeout: -s, PerFlow: true, Filtering: AddressPortDependent}, "AssuredTimeout"},
		{"assured without perflow", Behavior{Timeout: s, AssuredTimeout: s}, "AssuredTimeout"},
		{"inbound flow without perflow", Behavior{Timeout: s, InboundCreatesFlow: true}, "InboundCreatesFlow"},
		{"perflow needs apdf", Behavior{Timeout: s, PerFlow: true, Filtering: AddressDependent}, "Filtering"},
		{"perflow ok", Behavior{Timeout: s, PerFlow: true, Filtering: AddressPortDependent, AssuredTimeout: 2 * s, InboundCreatesFlow: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewBox(tt.b, pubAddr, newRand(1))
			if tt.field == "" {
				if err != nil {
					t.Fatalf("NewBox: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("NewBox: no error")
			}
			if !errors.Is(err, ErrInvalidBehavior) || !strings.HasPrefix(err.Error(), "natmodels: ") || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("NewBox: error %q does not wrap ErrInvalidBehavior or name %s", err, tt.field)
			}
		})
	}
	if _, err := NewBox(ok, netip.Addr{}, newRand(1)); err == nil || !strings.Contains(err.Error(), "public") {
		t.Errorf("NewBox with invalid address: %v", err)
	}
	if _, err := NewBox(ok, pubAddr, nil); err == nil || !strings.Contains(err.Error(), "rand") {
		t.Errorf("NewBox with nil rand: %v", err)
	}
}

// TestMapping checks which destinations share an external port.
func TestMapping(t *testing.T) {
	tests := []struct {
		name string
		b    Behavior
		// whether the mapping for r1p2 / r2p1 equals the one for r1p1
		samePort, sameAddr bool
	}{
		{"EIM", Behavior{Mapping: EndpointIndependent, PortAlloc: PortRandom, Timeout: 60 * s}, true, true},
		{"ADM", Behavior{Mapping: AddressDependent, PortAlloc: PortRandom, Timeout: 60 * s}, true, false},
		{"APDM", Behavior{Mapping: AddressPortDependent, PortAlloc: PortRandom, Timeout: 60 * s}, false, false},
		{"APDM preserve", Behavior{Mapping: AddressPortDependent, PortAlloc: PortPreserve, Timeout: 60 * s}, false, false},
		{"PerFlow preserve", preset(t, ProfileLinuxMasquerade), true, true},
		{"PerFlow random", Behavior{PerFlow: true, Filtering: AddressPortDependent, PortAlloc: PortRandom, Timeout: 30 * s}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := mustBox(t, tt.b)
			a := out(t, x, 0, in1, r1p1)
			b := out(t, x, s, in1, r1p2)
			c := out(t, x, 2*s, in1, r2p1)
			if got := a == b; got != tt.samePort {
				t.Errorf("other port of same remote: %v vs %v, same=%v want %v", a, b, got, tt.samePort)
			}
			if got := a == c; got != tt.sameAddr {
				t.Errorf("other remote address: %v vs %v, same=%v want %v", a, c, got, tt.sameAddr)
			}
			if again := out(t, x, 3*s, in1, r1p1); again != a {
				t.Errorf("repeat send got %v, want the existing mapping %v", again, a)
			}
			if other := out(t, x, 3*s, in2, r1p1); other == a {
				t.Errorf("second inside host shares mapping %v toward the same remote", a)
			}
		})
	}
}

// TestFiltering checks who gets in through a mapping made by sending to r1p1.
func TestFiltering(t *testing.T) {
	type probe struct {
		src  netip.AddrPort
		want Verdict
	}
	tests := []struct {
		name   string
		b      Behavior
		probes []probe
	}{
		{"EIF", Behavior{Filtering: EndpointIndependent, Timeout: 60 * s},
			[]probe{{r1p1, Pass}, {r1p2, Pass}, {r2p1, Pass}}},
		{"ADF", Behavior{Filtering: AddressDependent, Timeout: 60 * s},
			[]probe{{r1p1, Pass}, {r1p2, Pass}, {r2p1, Filtered}}},
		{"APDF", Behavior{Filtering: AddressPortDependent, Timeout: 60 * s},
			[]probe{{r1p1, Pass}, {r1p2, Filtered}, {r2p1, Filtered}}},
		{"APDF with APDM", Behavior{Mapping: AddressPortDependent, Filtering: AddressPortDependent, PortAlloc: PortRandom, Timeout: 60 * s},
			[]probe{{r1p1, Pass}, {r1p2, Filtered}, {r2p1, Filtered}}},
		{"ADF with ADM", Behavior{Mapping: AddressDependent, Filtering: AddressDependent, Timeout: 60 * s},
			[]probe{{r1p1, Pass}, {r1p2, Pass}, {r2p1, Filtered}}},
		{"ADF with APDM", Behavior{Mapping: AddressPortDependent, Filtering: AddressDependent, Timeout: 60 * s},
			[]probe{{r1p1, Pass}, {r1p2, Pass}, {r2p1, Filtered}}},
		{"APDF with ADM", Behavior{Mapping: AddressDependent, Filtering: AddressPortDependent, Timeout: 60 * s},
			[]probe{{r1p1, Pass}, {r1p2, Filtered}, {r2p1, Filtered}}},
		{"PerFlow", preset(t, ProfileLinuxMasquerade),
			[]probe{{r1p1, Pass}, {r1p2, Filtered}, {r2p1, Filtered}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := mustBox(t, tt.b)
			m := out(t, x, 0, in1, r1p1)
			for _, p := range tt.probes {
				got, v := x.Inbound(s, p.src, m)
				if v != p.want {
					t.Errorf("from %v: verdict %v, want %v", p.src, v, p.want)
				}
				if (v == Pass) != (got == in1) {
					t.Errorf("from %v: delivered to %v with verdict %v", p.src, got, v)
				}
			}
			// Sending to r1p2 opens the filter for it wherever the mapping is
			// shared (EIM, ADM, PerFlow with the port kept).
			if m2 := out(t, x, 2*s, in1, r1p2); m2 == m {
				if _, v := x.Inbound(2*s, r1p2, m); v != Pass {
					t.Errorf("from r1p2 after sending to it: %v, want pass", v)
				}
			}
			free := netip.AddrPortFrom(pubAddr, m.Port()+1)
			if _, v := x.Inbound(s, r1p1, free); v != NoMapping {
				t.Errorf("to unmapped port: %v, want no-mapping", v)
			}
			other := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.9"), m.Port())
			if _, v := x.Inbound(s, r1p1, other); v != NoMapping {
				t.Errorf("to another address: %v, want no-mapping", v)
			}
		})
	}
}

func TestEndpointKeys(t *testing.T) {
	for _, a := range []string{"192.0.2.1:7", "[2001:db8::1]:7", "[::ffff:192.0.2.1]:7", "0.0.0.0:0", "[fe80::1%eth0]:7"} {
		ap := netip.MustParseAddrPort(a)
		want := netip.AddrPortFrom(ap.Addr().WithZone(""), ap.Port())
		if got := epOf(ap).addrPort(); got != want {
			t.Errorf("%v: round trip gives %v", ap, got)
		}
	}
	v4, v4in6 := netip.MustParseAddrPort("192.0.2.1:7"), netip.MustParseAddrPort("[::ffff:192.0.2.1]:7")
	if epOf(v4) == epOf(v4in6) {
		t.Error("IPv4 and IPv4-mapped IPv6 share a key")
	}
}

func TestPortAllocation(t *testing.T) {
	t.Run("preserve", func(t *testing.T) {
		x := mustBox(t, preset(t, ProfilePortRestrictedCone))
		if m := out(t, x, 0, in1, r1p1); m.Port() != in1.Port() {
			t.Errorf("first host: port %d, want preserved %d", m.Port(), in1.Port())
		}
		m2 := out(t, x, 0, in2, r1p1) // same inside port, port taken
		if m2.Port() == in1.Port() || m2.Port() < DefaultPortLow {
			t.Errorf("second host: port %d, want another port >= %d", m2.Port(), DefaultPortLow)
		}
		low := netip.MustParseAddrPort("10.0.0.4:53")
		if m := out(t, x, 0, low, r1p1); m.Port() == 53 || m.Port() < DefaultPortLow {
			t.Errorf("inside port 53 outside the range: got %d, want a random port in range", m.Port())
		}
	})
	t.Run("sequential", func(t *testing.T) {
		b := Behavior{PortAlloc: PortSequential, Timeout: 60 * s}
		x := mustRangeBox(t, b, 2000, 2009)
		var ports []uint16
		for i := range 10 {
			src := netip.AddrPortFrom(in1.Addr(), uint16(5000+i))
			ports = append(ports, out(t, x, 0, src, r1p1).Port())
		}
		for i := 1; i < len(ports); i++ {
			want := ports[i-1] + 1
			if want > 2009 {
				want = 2000
			}
			if ports[i] != want {
				t.Fatalf("ports %v: not sequential in [2000,2009]", ports)
			}
		}
	})
	t.Run("sequential skips used", func(t *testing.T) {
		b := Behavior{PortAlloc: PortSequential, Timeout: 60 * s}
		x := mustRangeBox(t, b, 2000, 2002)
		a := out(t, x, 0, netip.MustParseAddrPort("10.0.0.2:1"), r1p1).Port()
		out(t, x, 0, netip.MustParseAddrPort("10.0.0.2:2"), r1p1)
		out(t, x, 0, netip.MustParseAddrPort("10.0.0.2:3"), r1p1)
		// at 61 s all are dead; refresh the first one only, then a new one
		// must take the port after the last handed out, not a used one.
		out(t, x, 61*s-1, netip.MustParseAddrPort("10.0.0.2:1"), r1p1)
		n := out(t, x, 61*s, netip.MustParseAddrPort("10.0.0.2:4"), r1p1).Port()
		if n == a {
			t.Errorf("new mapping took port %d still in use", n)
		}
	})
	t.Run("random", func(t *testing.T) {
		b := Behavior{PortAlloc: PortRandom, Timeout: 60 * s}
		x := mustRangeBox(t, b, 3000, 3099)
		seen := map[uint16]bool{}
		for i := range 100 {
			p := out(t, x, 0, netip.AddrPortFrom(in1.Addr(), uint16(9000+i)), r1p1).Port()
			if p < 3000 || p > 3099 || seen[p] {
				t.Fatalf("mapping %d: port %d out of range or reused", i, p)
			}
			seen[p] = true
		}
	})
	t.Run("perflow shares a port across remotes", func(t *testing.T) {
		x := mustBox(t, preset(t, ProfileLinuxMasquerade))
		a := out(t, x, 0, in1, r1p1)
		b := out(t, x, 0, in2, r2p1) // same inside port, other remote: tuple unique
		if a.Port() != in1.Port() || b.Port() != in1.Port() {
			t.Errorf("got %v and %v, want both to keep port %d", a, b, in1.Port())
		}
		c := out(t, x, 0, in2, r1p1) // same remote as a: tuple taken
		if c.Port() == in1.Port() {
			t.Errorf("second flow to %v kept port %d already in its reply tuple", r1p1, c.Port())
		}
		if got, v := x.Inbound(s, r1p1, a); v != Pass || got != in1 {
			t.Errorf("reply from %v: %v %v, want %v", r1p1, got, v, in1)
		}
		if got, v := x.Inbound(s, r2p1, b); v != Pass || got != in2 {
			t.Errorf("reply from %v: %v %v, want %v", r2p1, got, v, in2)
		}
		if got, v := x.Inbound(s, r1p1, c); v != Pass || got != in2 {
			t.Errorf("reply from %v to %v: %v %v, want %v", r1p1, c, got, v, in2)
		}
	})
}

func TestPortExhaustion(t *testing.T) {
	behaviors := map[string]Behavior{
		"preserve":   {PortAlloc: PortPreserve, Timeout: 10 * s},
		"sequential": {PortAlloc: PortSequential, Timeout: 10 * s},
		"random":     {PortAlloc: PortRandom, Timeout: 10 * s},
		"perflow":    {PerFlow: true, Filtering: AddressPortDependent, PortAlloc: PortPreserve, Timeout: 10 * s},
	}
	for _, name := range []string{"preserve", "sequential", "random", "perflow"} {
		t.Run(name, func(t *testing.T) {
			x := mustRangeBox(t, behaviors[name], 5000, 5002)
			for i := range 3 {
				if _, ok := x.Outbound(0, netip.AddrPortFrom(in1.Addr(), uint16(5000+i)), r1p1); !ok {
					t.Fatalf("mapping %d of 3: no port", i)
				}
			}
			extra := netip.AddrPortFrom(in1.Addr(), 6000)
			if m, ok := x.Outbound(s, extra, r1p1); ok {
				t.Fatalf("fourth mapping on 3 ports got %v", m)
			}
			if name == "perflow" {
				// Ports are only exhausted per remote: another remote fits.
				if _, ok := x.Outbound(s, extra, r2p1); !ok {
					t.Error("flow to another remote: no port")
				}
			}
			if _, ok := x.Outbound(10*s, extra, r1p1); !ok {
				t.Error("after the mappings expired: still no port")
			}
		})
	}
}

func TestTimeoutAndRefresh(t *testing.T) {
	for _, refresh := range []bool{false, true} {
		name := "outbound refresh only"
		if refresh {
			name = "refresh on inbound"
		}
		t.Run(name, func(t *testing.T) {
			b := preset(t, ProfilePortRestrictedCone) // 60 s
			b.RefreshOnInbound = refresh
			x := mustBox(t, b)
			m := out(t, x, 0, in1, r1p1)
			out(t, x, 0, in1, r2p1)
			if _, v := x.Inbound(59*s, r1p1, m); v != Pass {
				t.Fatalf("at 59 s: %v, want pass", v)
			}
			// Outbound to r1p1 at 30 s would refresh; inbound at 59 s
			// refreshes only if RefreshOnInbound.
			_, v := x.Inbound(100*s, r1p1, m)
			want := NoMapping
			if refresh {
				want = Pass
			}
			if v != want {
				t.Errorf("at 100 s after inbound at 59 s: %v, want %v", v, want)
			}
			if _, v := x.Inbound(200*s, r1p1, m); v != NoMapping {
				t.Errorf("at 200 s: %v, want no-mapping", v)
			}
			if n := x.Len(200 * s); n != 0 {
				t.Errorf("Len at 200 s = %d, want 0", n)
			}
		})
	}
	t.Run("outbound refreshes mapping and its own permission", func(t *testing.T) {
		x := mustBox(t, preset(t, ProfilePortRestrictedCone))
		m := out(t, x, 0, in1, r1p1)
		out(t, x, 0, in1, r2p1)
		out(t, x, 50*s, in1, r2p1) // refreshes the mapping and r2p1 only
		if _, v := x.Inbound(100*s, r2p1, m); v != Pass {
			t.Errorf("r2p1 at 100 s: %v, want pass", v)
		}
		if _, v := x.Inbound(100*s, r1p1, m); v != Filtered {
			t.Errorf("r1p1 at 100 s (permission idle 100 s): %v, want filtered", v)
		}
		if _, v := x.Inbound(111*s, r2p1, m); v != NoMapping {
			t.Errorf("r2p1 at 111 s: %v, want no-mapping", v)
		}
	})
	t.Run("expired mapping frees its port", func(t *testing.T) {
		b := preset(t, ProfileSymmetric)
		x := mustRangeBox(t, b, 7000, 7000)
		out(t, x, 0, in1, r1p1)
		if _, ok := x.Outbound(59*s, in1, r2p1); ok {
			t.Fatal("second mapping on a one-port range")
		}
		if m := out(t, x, 60*s, in1, r2p1); m.Port() != 7000 {
			t.Errorf("after expiry: port %d", m.Port())
		}
	})
}

func TestPerFlowTimeouts(t *testing.T) {
	b := preset(t, ProfileLinuxMasquerade) // 30 s unreplied, 120 s assured
	tests := []struct {
		name  string
		reply bool // a reply passes at 1 s
		at    time.Duration
		want  Verdict
	}{
		{"unreplied alive", false, 29 * s, Pass},
		{"unreplied expired", false, 31 * s, NoMapping},
		{"assured alive", true, 120 * s, Pass},
		{"assured expired", true, 122 * s, NoMapping},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := mustBox(t, b)
			m := out(t, x, 0, in1, r1p1)
			if tt.reply {
				if _, v := x.Inbound(s, r1p1, m); v != Pass {
					t.Fatalf("reply: %v", v)
				}
			}
			// probe from another port of the remote: filtered while alive,
			// no state touched.
			probe := Filtered
			if tt.want == NoMapping {
				probe = NoMapping
			}
			if _, v := x.Inbound(tt.at, r1p2, m); v != probe {
				t.Errorf("stranger at %v: %v, want %v", tt.at, v, probe)
			}
			if _, v := x.Inbound(tt.at, r1p1, m); v != tt.want {
				t.Errorf("remote at %v: %v, want %v", tt.at, v, tt.want)
			}
		})
	}
	t.Run("no inbound refresh", func(t *testing.T) {
		b := b
		b.RefreshOnInbound = false
		x := mustBox(t, b)
		m := out(t, x, 0, in1, r1p1)
		if _, v := x.Inbound(20*s, r1p1, m); v != Pass {
			t.Fatal("reply")
		}
		// assured since 20 s but not refreshed by it: 0 + 120 s
		if _, v := x.Inbound(119*s, r1p1, m); v != Pass {
			t.Errorf("at 119 s: %v", v)
		}
		if _, v := x.Inbound(121*s, r1p1, m); v != NoMapping {
			t.Errorf("at 121 s: %v, want no-mapping", v)
		}
	})
}

// TestConntrackCollision: an unsolicited packet from the peer makes the
// host's later flow to that peer lose its port, only with InboundCreatesFlow.
func TestConntrackCollision(t *testing.T) {
	peer := netip.MustParseAddrPort("203.0.113.7:40000")
	tests := []struct {
		profile   string
		keepsPort bool
	}{
		{ProfileLinuxMasquerade, true},
		{ProfileLinuxMasqueradeNoFW, false},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			x := mustBox(t, preset(t, tt.profile))
			m := out(t, x, 0, in1, r1p1) // the host talks to the introducer
			if _, v := x.Inbound(s, peer, m); v != Filtered {
				t.Fatalf("early punch: %v, want filtered", v)
			}
			got := out(t, x, 2*s, in1, peer)
			if (got.Port() == in1.Port()) != tt.keepsPort {
				t.Fatalf("flow to the peer got %v; keeps port: want %v", got, tt.keepsPort)
			}
			_, v := x.Inbound(3*s, peer, m)
			if want := Pass; !tt.keepsPort {
				if v == Pass {
					t.Errorf("peer's punch to the old port passed")
				}
				// the reply to the flow's real port passes
				if _, v := x.Inbound(3*s, peer, got); v != Pass {
					t.Errorf("peer to %v: %v, want pass", got, v)
				}
			} else if v != want {
				t.Errorf("peer's punch: %v, want pass", v)
			}
		})
	}
	t.Run("unsolicited entry lives while refreshed, then expires", func(t *testing.T) {
		x := mustBox(t, preset(t, ProfileLinuxMasqueradeNoFW))
		if _, v := x.Inbound(0, peer, netip.AddrPortFrom(pubAddr, in1.Port())); v != NoMapping {
			t.Fatalf("punch to an unused port: %v, want no-mapping", v)
		}
		if n := x.Len(0); n != 0 {
			t.Errorf("unsolicited entry counted as a mapping: Len = %d", n)
		}
		if _, ok := x.Lookup(0, netip.AddrPortFrom(pubAddr, in1.Port())); ok {
			t.Error("Lookup found an unsolicited entry")
		}
		x.Inbound(25*s, peer, netip.AddrPortFrom(pubAddr, in1.Port())) // refresh to 55 s
		if m := out(t, x, 50*s, in2, peer); m.Port() == in1.Port() {
			t.Errorf("at 50 s: flow kept port %d held by a refreshed entry", m.Port())
		}
		if m := out(t, x, 56*s, in1, peer); m.Port() != in1.Port() {
			t.Errorf("at 56 s: flow got %v, want port %d once the entry expired", m, in1.Port())
		}
	})
}

func TestLookupHasNoSideEffect(t *testing.T) {
	for _, name := range []string{ProfilePortRestrictedCone, ProfileSymmetric, ProfileLinuxMasquerade} {
		t.Run(name, func(t *testing.T) {
			b := preset(t, name)
			x := mustBox(t, b)
			m := out(t, x, 0, in1, r1p1)
			for at := time.Duration(0); at < b.Timeout; at += s {
				if got, ok := x.Lookup(at, m); !ok || got != in1 {
					t.Fatalf("Lookup at %v = %v %v, want %v", at, got, ok, in1)
				}
			}
			if _, ok := x.Lookup(b.Timeout, m); ok {
				t.Error("Lookup refreshed the mapping")
			}
			if got, ok := x.Lookup(0, netip.AddrPortFrom(netip.MustParseAddr("198.51.100.2"), m.Port())); ok {
				t.Errorf("Lookup of another address = %v", got)
			}
			if x.used != 1 {
				t.Errorf("Lookup freed state: %d entries", x.used)
			}
		})
	}
}

// TestLookupNewestOnTie: when flows from two inside endpoints share an
// external port, Lookup returns the one with the latest activity, the newest
// on a tie, in a small box and in one that has switched to maps.
func TestLookupNewestOnTie(t *testing.T) {
	for _, big := range []bool{false, true} {
		x := mustBox(t, preset(t, ProfileLinuxMasquerade))
		if big { // enough other flows that the box indexes them with maps
			for i := range smallMax + 1 {
				out(t, x, 0, netip.MustParseAddrPort("10.0.0.9:50000"), netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 3, byte(i)}), 7000))
			}
			if !x.big {
				t.Fatal("box did not switch to maps")
			}
		}
		m1 := out(t, x, s, in1, r1p1)
		m2 := out(t, x, s, in2, r2p1)
		if m1 != m2 {
			t.Fatalf("big %v: flows on %v and %v, want one port", big, m1, m2)
		}
		if got, ok := x.Lookup(s, m1); !ok || got != in2 {
			t.Errorf("big %v: tie: Lookup = %v %v, want the newest, %v", big, got, ok, in2)
		}
		out(t, x, 2*s, in1, r1p1)
		if got, ok := x.Lookup(2*s, m1); !ok || got != in1 {
			t.Errorf("big %v: Lookup = %v %v, want the latest active, %v", big, got, ok, in1)
		}
	}
}

// TestHairpin checks the flag and that a box handles a packet whose source is
// one of its own external endpoints, as the simulator drives it.
func TestHairpin(t *testing.T) {
	for _, name := range ProfileNames() {
		p, _ := LookupProfile(name)
		for i, b := range p.Chain {
			want := name == ProfileCGNAT && i == len(p.Chain)-1
			x := mustBox(t, b)
			if x.Behavior().Hairpin != want {
				t.Errorf("%s box %d: Hairpin = %v, want %v", name, i, x.Behavior().Hairpin, want)
			}
		}
	}
	for _, name := range []string{ProfilePortRestrictedCone, ProfileLinuxMasquerade} {
		t.Run(name, func(t *testing.T) {
			b := preset(t, name)
			b.Hairpin = true
			x := mustBox(t, b)
			in2 := netip.MustParseAddrPort("10.0.0.3:40001")
			m1 := out(t, x, 0, in1, r1p1)
			m2 := out(t, x, 0, in2, r1p1)
			// in2 sends to m1: translated source is in2's mapping for m1.
			src := out(t, x, s, in2, m1)
			if src.Addr() != x.Public() {
				t.Fatalf("hairpin source %v", src)
			}
			if _, v := x.Inbound(s, src, m1); v != Filtered {
				t.Errorf("in2 -> m1 before in1 sent to in2: %v, want filtered", v)
			}
			src1 := out(t, x, 2*s, in1, m2)
			if got, v := x.Inbound(2*s, src1, m2); v != Pass || got != in2 {
				t.Errorf("in1 -> m2: %v %v, want pass to %v", got, v, in2)
			}
			src = out(t, x, 3*s, in2, m1)
			if got, v := x.Inbound(3*s, src, m1); v != Pass || got != in1 {
				t.Errorf("in2 -> m1: %v %v, want pass to %v", got, v, in1)
			}
		})
	}
}

// TestSweep checks that dead state is freed and the tables given back.
func TestSweep(t *testing.T) {
	for _, name := range []string{ProfilePortRestrictedCone, ProfileSymmetric, ProfileLinuxMasqueradeNoFW} {
		t.Run(name, func(t *testing.T) {
			b := preset(t, name)
			x := mustBox(t, b)
			for i := range 1000 {
				remote := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), uint16(7000+i))
				out(t, x, 0, netip.AddrPortFrom(in1.Addr(), uint16(20000+i%10)), remote)
				x.Inbound(0, remote, netip.AddrPortFrom(pubAddr, uint16(30000+i)))
			}
			keep := out(t, x, b.Timeout/2, in2, r1p1)
			// The next call after the sweep deadline frees all but keep.
			out(t, x, b.Timeout+s, in2, r1p1)
			if x.used != 1 || x.peak > compactMin || x.permPeak > compactMin {
				t.Errorf("after sweep: %d entries (peak %d, permissions peak %d), want 1 and compacted", x.used, x.peak, x.permPeak)
			}
			if n := len(x.byKey) + len(x.flows); n > 1 {
				t.Errorf("after sweep: %d keys", n)
			}
			if len(x.perms) > 1 || len(x.tuples) > 1 {
				t.Errorf("after sweep: %d permissions, %d tuples", len(x.perms), len(x.tuples))
			}
			if got, ok := x.Lookup(b.Timeout+s, keep); !ok || got != in2 {
				t.Errorf("kept mapping lost: %v %v", got, ok)
			}
			// When everything is dead the box drops its tables.
			x.Inbound(10*b.Timeout, r1p1, netip.AddrPort{}) // not for this box: only sweeps
			if x.used != 0 || x.mslots != nil || x.fslots != nil || x.byKey != nil || x.tuples != nil || x.perms != nil ||
				x.keys != nil || x.permKeys != nil || x.big {
				t.Errorf("empty box kept tables: used %d", x.used)
			}
		})
	}
}

// TestDeterminism: same seed and calls give the same results, whatever the
// map iteration order of this process.
func TestDeterminism(t *testing.T) {
	for _, name := range []string{ProfileSymmetric, ProfileLinuxMasqueradeNoFW} {
		b := preset(t, name)
		b.PortAlloc = PortRandom
		run := func() []netip.AddrPort {
			x, err := newBox(b, pubAddr, newRand(42), 1024, 1200)
			if err != nil {
				t.Fatal(err)
			}
			rng := newRand(7)
			var res []netip.AddrPort
			for i := range 5000 {
				now := time.Duration(i) * 100 * time.Millisecond
				src := netip.AddrPortFrom(in1.Addr(), uint16(1024+rng.IntN(20)))
				dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(rng.IntN(30))}), 7000)
				m, _ := x.Outbound(now, src, dst)
				res = append(res, m)
				got, _ := x.Inbound(now, dst, netip.AddrPortFrom(pubAddr, uint16(1024+rng.IntN(177))))
				res = append(res, got)
			}
			return res
		}
		a, c := run(), run()
		for i := range a {
			if a[i] != c[i] {
				t.Fatalf("%s: runs differ at %d: %v vs %v", name, i, a[i], c[i])
			}
		}
	}
}

func TestEmptyBoxIsSmall(t *testing.T) {
	b := preset(t, ProfileLinuxMasquerade)
	r := newRand(1)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := NewBox(b, pubAddr, r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("NewBox: %v allocations, want 1", allocs)
	}
	// The box struct is the only allocation of an empty box.
	if size := unsafe.Sizeof(Box{}); size >= 512 {
		t.Errorf("Box is %d bytes, want well under 1 KiB", size)
	}
}

func TestSteadyStateDoesNotAllocate(t *testing.T) {
	for _, name := range []string{ProfilePortRestrictedCone, ProfileSymmetric, ProfileLinuxMasquerade} {
		t.Run(name, func(t *testing.T) {
			x := mustBox(t, preset(t, name))
			remotes := make([]netip.AddrPort, 30)
			mapped := make([]netip.AddrPort, 30)
			for i := range remotes {
				remotes[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 7000)
				mapped[i] = out(t, x, 0, in1, remotes[i])
			}
			now := time.Duration(0)
			allocs := testing.AllocsPerRun(1000, func() {
				now += 10 * time.Millisecond // crosses several sweeps
				for i := range remotes {
					x.Outbound(now, in1, remotes[i])
					x.Inbound(now, remotes[i], mapped[i])
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per round", allocs)
			}
		})
	}
}

// TestReset: a reset box forgets every mapping and permission (a packet
// that passed before finds no mapping), and works as a new one afterwards.
func TestReset(t *testing.T) {
	for _, name := range []string{ProfileFullCone, ProfilePortRestrictedCone, ProfileSymmetric, ProfileLinuxMasquerade} {
		t.Run(name, func(t *testing.T) {
			x := mustBox(t, preset(t, name))
			m := out(t, x, 0, in1, r1p1)
			if _, v := x.Inbound(s, r1p1, m); v != Pass {
				t.Fatalf("before reset: inbound %v, want pass", v)
			}
			x.Reset()
			if n := x.Len(s); n != 0 {
				t.Fatalf("after reset: %d live mappings", n)
			}
			if _, v := x.Inbound(2*s, r1p1, m); v == Pass {
				t.Fatal("after reset: the old mapping still passes")
			}
			m2 := out(t, x, 3*s, in1, r1p1)
			if got, v := x.Inbound(4*s, r1p1, m2); v != Pass || got != in1 {
				t.Fatalf("new mapping after reset: %v %v", got, v)
			}
		})
	}
}
