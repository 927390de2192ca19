package simnet

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/natmodels"
)

// rx is one packet a test host received.
type rx struct {
	at   time.Duration
	from netip.AddrPort
	data string
}

// lab is a small network with recording hosts.
type lab struct {
	t    *testing.T
	n    *Network
	recv map[int][]rx
}

func newLab(t *testing.T, cfg Config) *lab {
	t.Helper()
	return &lab{t: t, n: newNet(t, cfg), recv: map[int][]rx{}}
}

func profile(t *testing.T, name string) natmodels.Profile {
	t.Helper()
	p, ok := natmodels.LookupProfile(name)
	if !ok {
		t.Fatalf("no NAT profile %q", name)
	}
	return p
}

// host adds a recording host with the named preset profile.
func (l *lab) host(name string) *Host {
	return l.hostP(profile(l.t, name))
}

func (l *lab) hostP(p natmodels.Profile) *Host {
	l.t.Helper()
	h, err := l.n.AddHost(p)
	if err != nil {
		l.t.Fatal(err)
	}
	id := h.ID()
	h.SetHandler(func(from netip.AddrPort, pkt []byte) {
		l.recv[id] = append(l.recv[id], rx{at: l.n.Now(), from: from, data: string(pkt)})
	})
	return h
}

// send schedules h to send data to dst at virtual time at.
func (l *lab) send(at time.Duration, h *Host, dst func() netip.AddrPort, data string) {
	l.n.At(at, func() { h.Env().Send(dst(), []byte(data)) })
}

func (l *lab) run(until time.Duration) {
	l.t.Helper()
	if err := l.n.RunUntil(until); err != nil {
		l.t.Fatal(err)
	}
}

// got returns the last packet h received with the given payload.
func (l *lab) got(h *Host, data string) (rx, bool) {
	for i := len(l.recv[h.ID()]) - 1; i >= 0; i-- {
		if r := l.recv[h.ID()][i]; r.data == data {
			return r, true
		}
	}
	return rx{}, false
}

func (l *lab) mustGet(h *Host, data string) rx {
	l.t.Helper()
	r, ok := l.got(h, data)
	if !ok {
		l.t.Fatalf("host %d (%s) did not receive %q; drops %v", h.ID(), h.Profile(), data, l.n.Stats().Drops())
	}
	return r
}

func TestAddresses(t *testing.T) {
	l := newLab(t, Config{})
	p := l.host(natmodels.ProfilePublic)
	a := l.host(natmodels.ProfilePortRestrictedCone)
	c1 := l.host(natmodels.ProfileCGNAT)
	c2 := l.host(natmodels.ProfileCGNAT)
	if got := p.Addr(); got != netip.MustParseAddrPort("20.0.0.1:7759") || p.PublicAddr() != got.Addr() || p.Behind() {
		t.Fatalf("public host at %v / %v", got, p.PublicAddr())
	}
	if !a.Addr().Addr().IsPrivate() || a.PublicAddr().IsPrivate() || !a.Behind() {
		t.Fatalf("NATed host at %v, public %v", a.Addr(), a.PublicAddr())
	}
	if c1.PublicAddr() != c2.PublicAddr() {
		t.Fatalf("cgnat hosts behind different CGNs: %v %v", c1.PublicAddr(), c2.PublicAddr())
	}
	if c1.Addr() == c2.Addr() {
		t.Fatal("two hosts share a LAN address")
	}
	// ShareOuter is honoured: the 65th cgnat host gets a new CGN.
	for i := 2; i < 64; i++ {
		if h := l.host(natmodels.ProfileCGNAT); h.PublicAddr() != c1.PublicAddr() {
			t.Fatalf("host %d of the profile left the shared CGN", i)
		}
	}
	if h := l.host(natmodels.ProfileCGNAT); h.PublicAddr() == c1.PublicAddr() {
		t.Fatal("CGN shared by more than ShareOuter hosts")
	}
	// A bad behaviour fails cleanly and leaves the network usable.
	boxes := l.n.NumBoxes()
	if _, err := l.n.AddHost(natmodels.Profile{Name: "bad", Chain: []natmodels.Behavior{{}}}); err == nil {
		t.Fatal("zero Behavior accepted")
	}
	if l.n.NumBoxes() != boxes {
		t.Fatal("failed AddHost left boxes behind")
	}
	if l.host(natmodels.ProfilePublic).Addr() != netip.MustParseAddrPort("20.0.0.5:7759") { // .1 public, .2 NAT, .3 and .4 CGNs
		t.Fatal("failed AddHost consumed a public address")
	}
}

func TestRouting(t *testing.T) {
	const lat = 50 * time.Millisecond
	cgnNoHairpin := func(t *testing.T) natmodels.Profile {
		p := profile(t, natmodels.ProfileCGNAT)
		p.Name = "cgnat-nohairpin"
		p.Chain[1].Hairpin = false
		return p
	}
	tests := []struct {
		name string
		// run builds hosts and schedules sends; it returns a check run
		// after the network ran for 10 s.
		run       func(l *lab) func()
		wantDrops map[DropReason]int64
	}{
		{
			name: "public to public",
			run: func(l *lab) func() {
				a, b := l.host("public"), l.host("public")
				l.send(0, a, b.Addr, "hi")
				return func() {
					r := l.mustGet(b, "hi")
					if r.from != a.Addr() || r.at != lat {
						l.t.Fatalf("got %+v, want from %v at %v", r, a.Addr(), lat)
					}
				}
			},
		},
		{
			name: "unsolicited to NATed host has no mapping",
			run: func(l *lab) func() {
				p, a := l.host("public"), l.host(natmodels.ProfilePortRestrictedCone)
				l.send(0, p, func() netip.AddrPort { return netip.AddrPortFrom(a.PublicAddr(), 7759) }, "x")
				return func() {}
			},
			wantDrops: map[DropReason]int64{DropNoMapping: 1},
		},
		{
			name: "private address from public has no route",
			run: func(l *lab) func() {
				p, a := l.host("public"), l.host(natmodels.ProfileFullCone)
				l.send(0, p, a.Addr, "x")
				return func() {}
			},
			wantDrops: map[DropReason]int64{DropNoRoute: 1},
		},
		{
			name: "NATed to public and the reply passes, a stranger is filtered",
			run: func(l *lab) func() {
				p, q, a := l.host("public"), l.host("public"), l.host(natmodels.ProfilePortRestrictedCone)
				l.send(0, a, p.Addr, "req")
				var mapped netip.AddrPort
				l.n.At(time.Second, func() {
					mapped = l.mustGet(p, "req").from
					p.Env().Send(mapped, []byte("resp"))
					q.Env().Send(mapped, []byte("stranger"))
				})
				return func() {
					if mapped.Addr() != a.PublicAddr() {
						l.t.Fatalf("public host saw %v, want the NAT's address %v", mapped, a.PublicAddr())
					}
					if r := l.mustGet(a, "resp"); r.from != p.Addr() {
						l.t.Fatalf("reply from %v, want %v", r.from, p.Addr())
					}
					if _, ok := l.got(a, "stranger"); ok {
						l.t.Fatal("port-restricted cone let a stranger in")
					}
				}
			},
			wantDrops: map[DropReason]int64{DropNATFiltered: 1},
		},
		{
			name: "full cone lets a stranger in",
			run: func(l *lab) func() {
				p, q, a := l.host("public"), l.host("public"), l.host(natmodels.ProfileFullCone)
				l.send(0, a, p.Addr, "req")
				l.n.At(time.Second, func() { q.Env().Send(l.mustGet(p, "req").from, []byte("stranger")) })
				return func() { l.mustGet(a, "stranger") }
			},
		},
		{
			name: "closed port",
			run: func(l *lab) func() {
				a, b := l.host("public"), l.host("public")
				l.send(0, a, func() netip.AddrPort { return netip.AddrPortFrom(b.Addr().Addr(), 9) }, "x")
				return func() {}
			},
			wantDrops: map[DropReason]int64{DropClosedPort: 1},
		},
		{
			name: "offline receiver and sender",
			run: func(l *lab) func() {
				a, b := l.host("public"), l.host("public")
				b.SetOnline(false)
				l.send(0, a, b.Addr, "to offline")
				l.send(0, b, a.Addr, "from offline")
				l.n.At(time.Second, func() { b.SetOnline(true) })
				l.send(2*time.Second, a, b.Addr, "back")
				return func() {
					l.mustGet(b, "back")
					if len(l.recv[a.ID()]) != 0 || len(l.recv[b.ID()]) != 1 {
						l.t.Fatalf("received %v / %v", l.recv[a.ID()], l.recv[b.ID()])
					}
				}
			},
			wantDrops: map[DropReason]int64{DropOffline: 2},
		},
		{
			name: "oversize datagram",
			run: func(l *lab) func() {
				a, b := l.host("public"), l.host("public")
				l.send(0, a, b.Addr, string(make([]byte, MaxDatagram+1)))
				l.send(0, a, b.Addr, string(make([]byte, MaxDatagram)))
				return func() {
					if len(l.recv[b.ID()]) != 1 {
						l.t.Fatalf("got %d packets, want the one of MaxDatagram bytes", len(l.recv[b.ID()]))
					}
				}
			},
			wantDrops: map[DropReason]int64{DropOversize: 1},
		},
		{
			name: "mapping timeout blocks inbound",
			run: func(l *lab) func() {
				p, a := l.host("public"), l.host(natmodels.ProfilePortRestrictedCone) // 60 s timeout
				l.send(0, a, p.Addr, "req")
				reply := func(at time.Duration, data string) {
					l.n.At(at, func() { p.Env().Send(l.mustGet(p, "req").from, []byte(data)) })
				}
				reply(30*time.Second, "early")
				reply(70*time.Second, "late")
				return func() {
					l.mustGet(a, "early")
					if _, ok := l.got(a, "late"); ok {
						l.t.Fatal("reply after the mapping timeout passed")
					}
				}
			},
			wantDrops: map[DropReason]int64{DropNoMapping: 1},
		},
		{
			name: "hairpin at a shared CGN",
			run: func(l *lab) func() {
				return hairpinCase(l, profile(l.t, natmodels.ProfileCGNAT), true)
			},
		},
		{
			name: "hairpin denied at a shared CGN",
			run: func(l *lab) func() {
				return hairpinCase(l, cgnNoHairpin(l.t), false)
			},
			wantDrops: map[DropReason]int64{DropHairpin: 4},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, Config{Seed: 1, Latency: ConstantLatency{D: lat}})
			check := tc.run(l)
			l.run(100 * time.Second)
			check()
			s := l.n.Stats()
			for r := DropReason(0); r < NumDropReasons; r++ {
				if s.Dropped[r] != tc.wantDrops[r] {
					t.Errorf("drops %v = %d, want %d (all: %v)", r, s.Dropped[r], tc.wantDrops[r], s.Drops())
				}
			}
			if s.PacketsSent != s.PacketsDelivered+s.TotalDropped() {
				t.Errorf("sent %d != delivered %d + dropped %d", s.PacketsSent, s.PacketsDelivered, s.TotalDropped())
			}
		})
	}
}

// hairpinCase puts two hosts behind one shared CGN, lets them learn their
// mapped endpoints from a public rendezvous and then punch towards each
// other twice (the second round succeeds once both sides have sent).
func hairpinCase(l *lab, p natmodels.Profile, wantPass bool) func() {
	r := l.host("public")
	a, b := l.hostP(p), l.hostP(p)
	if a.PublicAddr() != b.PublicAddr() {
		l.t.Fatal("hosts not behind one CGN")
	}
	l.send(0, a, r.Addr, "a")
	l.send(0, b, r.Addr, "b")
	punch := func(at time.Duration, round string) {
		l.n.At(at, func() {
			a.Env().Send(l.mustGet(r, "b").from, []byte("a"+round))
			b.Env().Send(l.mustGet(r, "a").from, []byte("b"+round))
		})
	}
	punch(time.Second, "1")
	punch(2*time.Second, "2")
	return func() {
		_, gotA := l.got(a, "b2")
		_, gotB := l.got(b, "a2")
		if gotA != wantPass || gotB != wantPass {
			l.t.Fatalf("second round delivered a:%v b:%v, want %v", gotA, gotB, wantPass)
		}
		if wantPass {
			// Hairpinned packets stay in the realm: LAN delay, not Internet.
			if got := l.mustGet(a, "b2"); got.at != 2*time.Second+DefaultLANLatency || got.from != l.mustGet(r, "b").from {
				l.t.Fatalf("hairpinned packet %+v", got)
			}
		}
	}
}

// TestHolePunching checks the classic NAT-pair outcomes with a rendezvous:
// both peers learn each other's mapped endpoint and send at once, then
// answer what they received.
func TestHolePunching(t *testing.T) {
	tests := []struct {
		a, b     string
		wantPass bool
	}{
		{natmodels.ProfilePortRestrictedCone, natmodels.ProfilePortRestrictedCone, true},
		{natmodels.ProfileFullCone, natmodels.ProfileSymmetric, true},
		{natmodels.ProfileRestrictedCone, natmodels.ProfileSymmetric, true},
		{natmodels.ProfilePortRestrictedCone, natmodels.ProfileSymmetric, false},
		{natmodels.ProfileSymmetric, natmodels.ProfileSymmetric, false},
		{natmodels.ProfileCGNAT, natmodels.ProfilePortRestrictedCone, true},
	}
	for _, tc := range tests {
		t.Run(tc.a+"_x_"+tc.b, func(t *testing.T) {
			l := newLab(t, Config{Seed: 3, Latency: UniformLatency{Min: 20 * time.Millisecond, Max: 80 * time.Millisecond}})
			r := l.host("public")
			a, b := l.host(tc.a), l.host(tc.b)
			l.send(0, a, r.Addr, "a")
			l.send(0, b, r.Addr, "b")
			l.n.At(time.Second, func() {
				a.Env().Send(l.mustGet(r, "b").from, []byte("punch"))
				b.Env().Send(l.mustGet(r, "a").from, []byte("punch"))
			})
			// Answer any punch that got through (to the address it came from).
			for _, h := range []*Host{a, b} {
				h := h
				h.SetHandler(func(from netip.AddrPort, pkt []byte) {
					l.recv[h.ID()] = append(l.recv[h.ID()], rx{at: l.n.Now(), from: from, data: string(pkt)})
					if string(pkt) == "punch" {
						h.Env().Send(from, []byte("ack"))
					}
				})
			}
			l.run(10 * time.Second)
			_, ackA := l.got(a, "ack")
			_, ackB := l.got(b, "ack")
			if (ackA || ackB) != tc.wantPass {
				t.Fatalf("connected=%v (ack at a:%v b:%v), want %v; drops %v", ackA || ackB, ackA, ackB, tc.wantPass, l.n.Stats().Drops())
			}
		})
	}
}

func TestResolvePublic(t *testing.T) {
	l := newLab(t, Config{Seed: 9})
	p := l.host("public")
	a := l.host(natmodels.ProfileSymmetric)
	c := l.host(natmodels.ProfileCGNAT)
	l.send(0, a, p.Addr, "a")
	l.send(0, c, p.Addr, "c")
	l.run(time.Second)
	tests := []struct {
		name   string
		ap     netip.AddrPort
		want   int
		wantOK bool
	}{
		{"public host", p.Addr(), p.ID(), true},
		{"public host wrong port", netip.AddrPortFrom(p.Addr().Addr(), 1), -1, false},
		{"symmetric mapping", l.mustGet(p, "a").from, a.ID(), true},
		{"nested CGN mapping", l.mustGet(p, "c").from, c.ID(), true},
		{"unmapped NAT port", netip.AddrPortFrom(a.PublicAddr(), 1), -1, false},
		{"private address", a.Addr(), -1, false},
		{"unknown address", netip.MustParseAddrPort("8.8.8.8:53"), -1, false},
		{"IPv6", netip.MustParseAddrPort("[2001:db8::1]:7759"), -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := l.n.ResolvePublic(tc.ap)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("ResolvePublic(%v) = %d, %v; want %d, %v", tc.ap, got, ok, tc.want, tc.wantOK)
			}
		})
	}
	// Lookups change nothing, and the mapping expires with its timeout.
	before := l.n.Stats()
	l.run(5 * time.Minute)
	if got, ok := l.n.ResolvePublic(l.mustGet(p, "a").from); ok {
		t.Fatalf("expired mapping still resolves to %d", got)
	}
	if l.n.Stats() != before {
		t.Fatal("ResolvePublic changed the network's counters")
	}
}

func TestHooks(t *testing.T) {
	l := newLab(t, Config{Seed: 4})
	a, b := l.host("public"), l.host(natmodels.ProfilePortRestrictedCone)
	type pair struct{ src, dst int }
	var delivered []pair
	var dropped []DropReason
	l.n.OnDeliver(func(src, dst int) { delivered = append(delivered, pair{src, dst}) })
	l.n.OnDrop(func(src int, r DropReason) {
		if src != a.ID() {
			t.Errorf("drop attributed to host %d", src)
		}
		dropped = append(dropped, r)
	})
	l.send(0, b, a.Addr, "out")
	l.send(0, a, func() netip.AddrPort { return netip.AddrPortFrom(b.PublicAddr(), 1) }, "in")
	l.run(time.Second)
	if len(delivered) != 1 || delivered[0] != (pair{b.ID(), a.ID()}) {
		t.Fatalf("OnDeliver saw %v", delivered)
	}
	if len(dropped) != 1 || dropped[0] != DropNoMapping {
		t.Fatalf("OnDrop saw %v", dropped)
	}
	l.n.OnDeliver(nil)
	l.n.OnDrop(nil)
	l.send(2*time.Second, b, a.Addr, "out")
	l.run(3 * time.Second)
	if len(delivered) != 1 {
		t.Fatal("removed hook still called")
	}
}
