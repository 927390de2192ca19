package simnet

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/internal/cputime"
	"github.com/dispersy-go/dispersy/natmodels"
)

// BenchmarkSendDeliver measures one packet's full cost (Send, routing, queue,
// arrival, NAT translation, trace hash, handler) in a two-host ping-pong;
// one op is one delivered packet.
func BenchmarkSendDeliver(b *testing.B) {
	for _, tc := range []struct {
		name    string
		profile string
		noTrace bool
	}{
		{"public", natmodels.ProfilePublic, false},
		{"public-notrace", natmodels.ProfilePublic, true},
		{"port-restricted", natmodels.ProfilePortRestrictedCone, false},
		{"cgnat", natmodels.ProfileCGNAT, false},
		{"linux-masquerade", natmodels.ProfileLinuxMasquerade, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			n := newNet(b, Config{Seed: 1, NoTrace: tc.noTrace, Latency: LogNormalLatency{Median: 50 * time.Millisecond, Sigma: 0.5}})
			p, ok := natmodels.LookupProfile(tc.profile)
			if !ok {
				b.Fatalf("no profile %q", tc.profile)
			}
			rdv, _ := n.AddHost(natmodels.Profile{Name: "public"})
			x, err := n.AddHost(p)
			if err != nil {
				b.Fatal(err)
			}
			p.Name += "-2" // never behind the same shared NAT
			y, err := n.AddHost(p)
			if err != nil {
				b.Fatal(err)
			}
			// Rendezvous: learn the mapped endpoints, then punch.
			var seen [2]netip.AddrPort
			rdv.SetHandler(func(from netip.AddrPort, pkt []byte) { seen[pkt[0]] = from })
			x.Env().Send(rdv.Addr(), []byte{0})
			y.Env().Send(rdv.Addr(), []byte{1})
			if err := n.RunUntil(time.Second); err != nil {
				b.Fatal(err)
			}
			x.Env().Send(seen[1], []byte("punch"))
			y.Env().Send(seen[0], []byte("punch"))
			if err := n.RunUntil(2 * time.Second); err != nil {
				b.Fatal(err)
			}
			left := 0
			pong := func(h *Host) {
				env := h.Env()
				h.SetHandler(func(from netip.AddrPort, pkt []byte) {
					if left > 0 {
						left--
						env.Send(from, pkt)
					}
				})
			}
			pong(x)
			pong(y)
			payload := make([]byte, 200)
			// Run in short steps so that NAT mappings never idle out.
			drain := func() {
				for left > 0 || n.Stats().InFlight > 0 {
					if err := n.RunUntil(n.Now() + time.Second); err != nil {
						b.Fatal(err)
					}
				}
			}
			left = 1000 // warm up pools and NAT tables
			x.Env().Send(seen[1], payload)
			drain()
			before := n.Stats()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cputime.Process()
			left = b.N - 1
			x.Env().Send(seen[1], payload)
			drain()
			b.StopTimer()
			b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/pkt")
			s := n.Stats()
			if got := s.PacketsDelivered - before.PacketsDelivered; got != int64(b.N) {
				b.Fatalf("delivered %d, want %d; drops %v", got, b.N, s.Drops())
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpkts/s")
		})
	}
}

// BenchmarkWalkLoad is a Dispersy-sized load without the protocol: 100,000
// hosts, each waking every 5 s (timer) to send a 200-byte request to a
// random public host, which answers, so two packets and one timer per host
// per step. One op is one simulated step of 5 s for all hosts (about
// 300,000 events). "mix" puts most hosts behind the NATs of the mix below
// (then about a third of the cost is natmodels' tables); "public" has no NAT
// and no trace hash, the engine's own floor at this scale.
func BenchmarkWalkLoad(b *testing.B) {
	mix := []string{
		natmodels.ProfilePublic, natmodels.ProfilePortRestrictedCone, natmodels.ProfileLinuxMasquerade,
		natmodels.ProfileCGNAT, natmodels.ProfileSymmetric, natmodels.ProfilePortRestrictedCone,
		natmodels.ProfileFullCone, natmodels.ProfilePublic, natmodels.ProfileLinuxMasquerade, natmodels.ProfileCGNAT,
	}
	b.Run("mix", func(b *testing.B) { benchWalk(b, mix, false) })
	b.Run("public-notrace", func(b *testing.B) { benchWalk(b, []string{natmodels.ProfilePublic}, true) })
}

func benchWalk(b *testing.B, mix []string, noTrace bool) {
	const hosts = 100_000
	n := newNet(b, Config{Seed: 1, Loss: 0.01, NoTrace: noTrace, Latency: LogNormalLatency{Median: 50 * time.Millisecond, Sigma: 0.6, Max: 2 * time.Second}})
	profiles := make([]natmodels.Profile, len(mix))
	for i, name := range mix {
		p, ok := natmodels.LookupProfile(name)
		if !ok {
			b.Fatalf("no profile %q", name)
		}
		profiles[i] = p
	}
	var public []netip.AddrPort
	for i := 0; i < hosts; i++ {
		h, err := n.AddHost(profiles[i%len(profiles)])
		if err != nil {
			b.Fatal(err)
		}
		if !h.Behind() {
			public = append(public, h.Addr())
		}
	}
	payload := make([]byte, 200)
	for i := 0; i < hosts; i++ {
		h := n.Host(i)
		env := h.Env()
		r := env.Rand()
		h.SetHandler(func(from netip.AddrPort, pkt []byte) {
			if pkt[0] == 0 {
				pkt[0] = 1 // the buffer is ours during the call
				env.Send(from, pkt)
			}
		})
		var step func()
		step = func() {
			env.Send(public[r.IntN(len(public))], payload)
			env.AfterFunc(5*time.Second, step)
		}
		n.At(time.Duration(r.Int64N(int64(5*time.Second))), step)
	}
	if err := n.RunUntil(10 * time.Second); err != nil { // warm up
		b.Fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := n.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	b.ReportMetric(float64(ms.HeapAlloc)/hosts, "heapB/host")
	cpu0 := cputime.Process()
	if err := n.RunUntil(n.Now() + time.Duration(b.N)*5*time.Second); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	s := n.Stats()
	ev := s.Events - before.Events
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(ev), "cpu-ns/event")
	b.ReportMetric(float64(ev)/b.Elapsed().Seconds()/1e6, "Mevents/s")
	b.ReportMetric(float64(ev)/float64(b.N), "events/op")
	if s.PacketsDelivered == before.PacketsDelivered {
		b.Fatal("nothing delivered")
	}
}
