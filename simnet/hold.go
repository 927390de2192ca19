package simnet

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/natmodels"
)

// HoldConfig describes a run of the hold model: PeerSim's push-gossip
// benchmark, through this package's own queue and delivery path.
type HoldConfig struct {
	// Nodes is the number of public hosts; >= 2.
	Nodes int
	// Duration is the virtual time simulated.
	Duration time.Duration
	// Seed seeds the run.
	Seed uint64
	// Trace keeps the trace hash on (PeerSim has none; off by default).
	Trace bool
	// Every, if > 0, calls OnTick every Every of virtual time (for a
	// heap sample); it costs one comparison per event.
	Every  time.Duration
	OnTick func(now time.Duration)
}

// HoldResult is what a hold-model run did.
type HoldResult struct {
	// Events is the number of events processed (packet arrivals and
	// the start event).
	Events int64
	// Delivered is the number of token deliveries.
	Delivered int64
	// TraceHash is the trace hash (zero without HoldConfig.Trace).
	TraceHash [32]byte
}

// HoldLatency is the hold model's delay: uniform on [10 ms, 100 ms], as
// PeerSim's UniformRandomTransport 10..100 in the reference runs. Here a
// pair of hosts keeps one delay from that range for the run (simnet's
// latency model); as every hop goes to a fresh uniformly random host, the
// delays along a token's path have the same distribution.
var HoldLatency = UniformLatency{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}

// NewHoldModel builds the hold model's network: Nodes public hosts, each
// of which, on every delivery, forwards the token to a uniformly random
// host (itself included); at time 0 every host sends one token. So Nodes
// tokens are always in flight, and every event is one delivery. The
// random choices come from one stream ("hold", 0), as PeerSim draws from
// one generator. Run it with RunUntil(cfg.Duration).
func NewHoldModel(cfg HoldConfig) (*Network, error) {
	if cfg.Nodes < 2 {
		return nil, fmt.Errorf("simnet: hold model: %d nodes, want at least 2", cfg.Nodes)
	}
	n, err := New(Config{Seed: cfg.Seed, Latency: HoldLatency, NoTrace: !cfg.Trace})
	if err != nil {
		return nil, err
	}
	addrs := make([]netip.AddrPort, cfg.Nodes)
	hosts := make([]*Host, cfg.Nodes)
	for i := range hosts {
		h, err := n.AddHost(natmodels.Profile{Name: natmodels.ProfilePublic})
		if err != nil {
			return nil, fmt.Errorf("simnet: hold model: %w", err)
		}
		hosts[i], addrs[i] = h, h.Addr()
	}
	rng := n.Rand("hold", 0)
	// The hosts' addresses are consecutive (see the address plan), so a
	// random destination costs no lookup.
	first, port := ipv4(addrs[0].Addr()), addrs[0].Port()
	for i := range addrs {
		if addrs[i] != addrPort(first+uint32(i), port) {
			return nil, fmt.Errorf("simnet: hold model: host %d is at %v, not at %v", i, addrs[i], addrPort(first+uint32(i), port))
		}
	}
	nodes := uint64(len(addrs))
	for _, h := range hosts {
		env := h.Env()
		h.SetHandler(func(_ netip.AddrPort, pkt []byte) {
			env.Send(addrPort(first+uint32(rng.Uint64N(nodes)), port), pkt)
		})
	}
	n.At(0, func() {
		token := []byte("token\x00\x00\x00")
		for _, h := range hosts {
			h.Env().Send(addrs[rng.IntN(len(addrs))], token)
		}
	})
	if cfg.Every > 0 && cfg.OnTick != nil {
		n.OnProgress(cfg.Every, cfg.OnTick)
	}
	return n, nil
}

// Hold returns the result of a hold-model run n has made so far.
func (n *Network) Hold() HoldResult {
	st := n.Stats()
	return HoldResult{Events: st.Events, Delivered: st.PacketsDelivered, TraceHash: n.TraceHash()}
}
