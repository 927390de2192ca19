package simnet

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/natmodels"
)

// pingWorld is a small random workload: every host pings a random public
// host about once a second with a random payload, public hosts answer and
// remember who pinged them, and every host now and then greets one of those
// endpoints unsolicited (which NATs filter or pass by their type and the age
// of their mappings).
type pingWorld struct {
	n      *Network
	public []netip.AddrPort
	seen   []netip.AddrPort
}

func newPingWorld(t testing.TB, seed uint64, loss float64, hosts int) *pingWorld {
	t.Helper()
	n := newNet(t, Config{
		Seed:    seed,
		Loss:    loss,
		Latency: LogNormalLatency{Median: 40 * time.Millisecond, Sigma: 0.6, Max: 2 * time.Second},
	})
	w := &pingWorld{n: n}
	names := []string{
		natmodels.ProfilePublic, natmodels.ProfileFullCone, natmodels.ProfilePortRestrictedCone,
		natmodels.ProfileSymmetric, natmodels.ProfileCGNAT, natmodels.ProfileLinuxMasquerade,
		natmodels.ProfilePublic, natmodels.ProfileRestrictedCone,
	}
	for i := 0; i < hosts; i++ {
		p, ok := natmodels.LookupProfile(names[i%len(names)])
		if !ok {
			t.Fatalf("no profile %q", names[i%len(names)])
		}
		h, err := n.AddHost(p)
		if err != nil {
			t.Fatal(err)
		}
		if !h.Behind() {
			w.public = append(w.public, h.Addr())
		}
	}
	for i := 0; i < hosts; i++ {
		w.start(n.Host(i))
	}
	return w
}

func (w *pingWorld) start(h *Host) {
	env := h.Env()
	r := env.Rand()
	buf := make([]byte, 0, 1500)
	h.SetHandler(func(from netip.AddrPort, pkt []byte) {
		if len(pkt) > 0 && pkt[0] == 'p' {
			if len(w.seen) < 1000 {
				w.seen = append(w.seen, from) // the first pings only: they age
			}
			buf = append(buf[:0], pkt...)
			buf[0] = 'r'
			env.Send(from, buf)
		}
	})
	var tick func()
	tick = func() {
		if h.ID()%10 == 0 && w.n.Now() > 20*time.Second {
			return // goes quiet: its NAT mappings expire
		}
		buf = buf[:1+r.IntN(200)]
		buf[0] = 'p'
		for i := 1; i < len(buf); i++ {
			buf[i] = byte(r.Uint32())
		}
		env.Send(w.public[r.IntN(len(w.public))], buf)
		if len(w.seen) > 0 && r.IntN(4) == 0 {
			env.Send(w.seen[r.IntN(len(w.seen))], []byte("hello"))
		}
		env.AfterFunc(500*time.Millisecond+time.Duration(r.Int64N(int64(time.Second))), tick)
	}
	w.n.At(time.Duration(r.Int64N(int64(time.Second))), tick)
}

func runPing(t testing.TB, seed uint64, loss float64) ([32]byte, Stats) {
	w := newPingWorld(t, seed, loss, 300)
	if err := w.n.RunUntil(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	return w.n.TraceHash(), w.n.Stats()
}

func TestDeterminism(t *testing.T) {
	h1, s1 := runPing(t, 42, 0.05)
	h2, s2 := runPing(t, 42, 0.05)
	h3, s3 := runPing(t, 43, 0.05)
	if h1 != h2 || s1 != s2 {
		t.Fatalf("same seed, different runs: %x vs %x\n%+v\n%+v", h1, h2, s1, s2)
	}
	if h1 == h3 {
		t.Fatal("different seeds gave the same trace hash")
	}
	if s3.PacketsDelivered == 0 {
		t.Fatal("seed 43 delivered nothing")
	}
	// The workload must exercise the network, or the hash proves little.
	if s1.PacketsDelivered < 10000 {
		t.Fatalf("only %d packets delivered", s1.PacketsDelivered)
	}
	for _, r := range []DropReason{DropLoss, DropNATFiltered, DropNoMapping} {
		if s1.Dropped[r] == 0 {
			t.Errorf("no %v drops in the workload: %v", r, s1.Drops())
		}
	}
	if s1.PacketsSent != s1.PacketsDelivered+s1.TotalDropped()+s1.InFlight {
		t.Errorf("sent %d != delivered %d + dropped %d + in flight %d", s1.PacketsSent, s1.PacketsDelivered, s1.TotalDropped(), s1.InFlight)
	}
	var zero [32]byte
	if h1 == zero {
		t.Fatal("trace hash is zero")
	}
}

func TestLatencyDistributions(t *testing.T) {
	const pairs = 10000
	tests := []struct {
		name       string
		lat        Latency
		wantMedian time.Duration
		tol        float64
	}{
		{"constant", ConstantLatency{D: 30 * time.Millisecond}, 30 * time.Millisecond, 0},
		{"uniform", UniformLatency{Min: 10 * time.Millisecond, Max: 110 * time.Millisecond}, 60 * time.Millisecond, 0.05},
		{"lognormal", LogNormalLatency{Median: 50 * time.Millisecond, Sigma: 0.8}, 50 * time.Millisecond, 0.05},
		{"lognormal narrow", LogNormalLatency{Median: 120 * time.Millisecond, Sigma: 0.2}, 120 * time.Millisecond, 0.05},
	}
	r := rand.New(rand.NewPCG(5, 5))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, _ := streamSeed(7, "latency", 0)
			ds := make([]time.Duration, 0, pairs)
			for i := 0; i < pairs; i++ {
				a, b := pubBase+r.Uint32N(1<<20), pubBase+r.Uint32N(1<<20)
				p := pairProbability(key, a, b)
				if p != pairProbability(key, b, a) || !(p > 0 && p < 1) {
					t.Fatalf("pair probability %v not symmetric or not in (0,1)", p)
				}
				ds = append(ds, tc.lat.Quantile(p))
			}
			slices.Sort(ds)
			med := ds[len(ds)/2]
			if rel := math.Abs(float64(med-tc.wantMedian)) / float64(tc.wantMedian); rel > tc.tol {
				t.Fatalf("median %v, want %v ± %.0f%%", med, tc.wantMedian, tc.tol*100)
			}
		})
	}
}

func TestLatencyStablePerPair(t *testing.T) {
	l := newLab(t, Config{Seed: 11, Latency: LogNormalLatency{Median: 60 * time.Millisecond, Sigma: 1}})
	hosts := []*Host{l.host("public"), l.host("public"), l.host("public"), l.host(natmodels.ProfileFullCone)}
	// Every host sends to every public host at t=0 and again at t=10s.
	for _, at := range []time.Duration{0, 10 * time.Second} {
		for _, s := range hosts {
			for _, d := range hosts[:3] {
				if s != d {
					l.send(at, s, d.Addr, s.PublicAddr().String()+">"+at.String())
				}
			}
		}
	}
	l.run(time.Minute)
	delays := map[[2]netip.Addr]time.Duration{}
	for _, d := range hosts[:3] {
		for _, s := range hosts {
			if s == d {
				continue
			}
			d0 := l.mustGet(d, s.PublicAddr().String()+">0s").at
			d1 := l.mustGet(d, s.PublicAddr().String()+">10s").at - 10*time.Second
			if d0 != d1 {
				t.Fatalf("%v->%v: delay %v then %v", s.PublicAddr(), d.PublicAddr(), d0, d1)
			}
			delays[[2]netip.Addr{s.PublicAddr(), d.PublicAddr()}] = d0
		}
	}
	distinct := map[time.Duration]bool{}
	for k, v := range delays {
		if back, ok := delays[[2]netip.Addr{k[1], k[0]}]; ok && back != v {
			t.Fatalf("asymmetric pair %v: %v vs %v", k, v, back)
		}
		distinct[v] = true
	}
	if len(distinct) < 3 {
		t.Fatalf("pairs share delays: %v", delays)
	}
}

func TestLossRate(t *testing.T) {
	const sent = 20000
	tests := []float64{0, 0.01, 0.1, 0.5}
	for _, p := range tests {
		l := newLab(t, Config{Seed: 2, Loss: p})
		a, b := l.host("public"), l.host("public")
		// Two hosts on one LAN behind a shared NAT: nothing is lost there.
		lan := natmodels.Profile{Name: "shared-lan", ShareOuter: 8, Chain: profile(t, natmodels.ProfileFullCone).Chain}
		c1, c2 := l.hostP(lan), l.hostP(lan)
		l.n.At(0, func() {
			for i := 0; i < sent; i++ {
				a.Env().Send(b.Addr(), []byte{1})
				c1.Env().Send(c2.Addr(), []byte{2})
			}
		})
		l.run(time.Second)
		s := l.n.Stats()
		got := float64(s.Dropped[DropLoss]) / sent
		if math.Abs(got-p) > 0.01 {
			t.Errorf("loss %v: measured %v", p, got)
		}
		if len(l.recv[b.ID()])+int(s.Dropped[DropLoss]) != sent {
			t.Errorf("loss %v: delivered %d + lost %d != %d", p, len(l.recv[b.ID()]), s.Dropped[DropLoss], sent)
		}
		if len(l.recv[c2.ID()]) != sent || l.recv[c2.ID()][0].at != DefaultLANLatency || l.recv[c2.ID()][0].from != c1.Addr() {
			t.Errorf("loss %v: LAN delivered %d of %d", p, len(l.recv[c2.ID()]), sent)
		}
	}
}
