package natmodels

import (
	"net/netip"
	"testing"
	"time"
)

// benchProfiles are the box kinds whose per-packet cost differs: EIM with
// per-endpoint permissions, APDM (a mapping per remote), conntrack flows.
var benchProfiles = []string{ProfileFullCone, ProfilePortRestrictedCone, ProfileSymmetric, ProfileLinuxMasquerade}

// benchBox returns a box in steady state: one inside endpoint that has talked
// to 30 remotes, their mapped endpoints, and the remotes.
func benchBox(b *testing.B, name string) (*Box, []netip.AddrPort, []netip.AddrPort) {
	x := mustBox(b, preset(b, name))
	remotes := make([]netip.AddrPort, 30)
	mapped := make([]netip.AddrPort, 30)
	for i := range remotes {
		remotes[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 7000)
		mapped[i] = out(b, x, 0, in1, remotes[i])
	}
	return x, remotes, mapped
}

// BenchmarkOutbound: a packet to one of 30 known remotes; virtual time moves
// 1 ms per packet, so mappings stay alive and sweeps run now and then.
func BenchmarkOutbound(b *testing.B) {
	for _, name := range benchProfiles {
		b.Run(name, func(b *testing.B) {
			x, remotes, _ := benchBox(b, name)
			b.ReportAllocs()
			now, i := time.Duration(0), 0
			for b.Loop() {
				now += time.Millisecond
				x.Outbound(now, in1, remotes[i])
				if i++; i == len(remotes) {
					i = 0
				}
			}
		})
	}
}

// BenchmarkInbound: a reply from one of 30 known remotes (virtual time
// stands still, so the state stays alive without outbound traffic).
func BenchmarkInbound(b *testing.B) {
	for _, name := range benchProfiles {
		b.Run(name, func(b *testing.B) {
			x, remotes, mapped := benchBox(b, name)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, v := x.Inbound(time.Millisecond, remotes[i], mapped[i]); v != Pass {
					b.Fatalf("verdict %v", v)
				}
				if i++; i == len(remotes) {
					i = 0
				}
			}
		})
	}
}

// BenchmarkRoundTrip: a request to and a reply from one of 30 remotes per
// op, with virtual time moving 1 ms per op (expiry checks and sweeps run).
func BenchmarkRoundTrip(b *testing.B) {
	for _, name := range benchProfiles {
		b.Run(name, func(b *testing.B) {
			x, remotes, _ := benchBox(b, name)
			b.ReportAllocs()
			now, i := time.Duration(0), 0
			for b.Loop() {
				now += time.Millisecond
				m, _ := x.Outbound(now, in1, remotes[i])
				if _, v := x.Inbound(now, remotes[i], m); v != Pass {
					b.Fatalf("verdict %v", v)
				}
				if i++; i == len(remotes) {
					i = 0
				}
			}
		})
	}
}

// BenchmarkInboundFiltered: unsolicited packets that the filter drops (the
// common case of punches that arrive too early).
func BenchmarkInboundFiltered(b *testing.B) {
	for _, name := range benchProfiles[1:] {
		b.Run(name, func(b *testing.B) {
			x, _, mapped := benchBox(b, name)
			stranger := netip.MustParseAddrPort("203.0.113.9:9")
			b.ReportAllocs()
			for b.Loop() {
				if _, v := x.Inbound(time.Millisecond, stranger, mapped[0]); v == Pass {
					b.Fatal("stranger passed")
				}
			}
		})
	}
}

// BenchmarkNewMapping: the cost of creating (and expiring) mappings, each
// packet from a new inside port.
func BenchmarkNewMapping(b *testing.B) {
	for _, name := range benchProfiles {
		b.Run(name, func(b *testing.B) {
			x := mustBox(b, preset(b, name))
			b.ReportAllocs()
			now, port := time.Duration(0), uint16(1024)
			for b.Loop() {
				now += 10 * time.Millisecond // about 3000-6000 live mappings
				x.Outbound(now, netip.AddrPortFrom(in1.Addr(), port), r1p1)
				if port++; port == 0 {
					port = 1024
				}
			}
		})
	}
}
