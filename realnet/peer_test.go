package realnet

import (
	"context"
	"net/netip"
	"sync"
	"testing"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

// TestLoopbackWalk starts a tracker and five peers on 127.0.0.1 with every
// Dispersy duration scaled by 1/25 (a 200 ms walk step) and the fast
// candidate walker on, as cmd/peer runs by default: within five walk steps
// of its start each peer must have discovered at least three other peers.
func TestLoopbackWalk(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := protocol.DefaultConfig().Scaled(1.0 / 25)
	cfg.FastWalker = true
	cid := wire.CID{0xD1, 0x5B}
	var wg sync.WaitGroup
	start := func(p *Peer) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				t.Errorf("peer %v: %v", p.Addr(), err)
			}
		}()
	}
	tr, err := NewPeer(PeerConfig{Listen: "127.0.0.1:0", Tracker: true, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	start(tr)
	var peers []*Peer
	for i := 0; i < 5; i++ {
		p, err := NewPeer(PeerConfig{Listen: "127.0.0.1:0", Trackers: []netip.AddrPort{tr.Addr()},
			Communities: []wire.CID{cid}, Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, p)
	}
	for _, p := range peers {
		start(p)
	}
	// The first step comes within StartJitter of the start; within three
	// walk steps after it (five, for the race detector's pace) every peer must know three others.
	for _, p := range peers {
		var known []netip.AddrPort
		within(cfg, 5, func() bool {
			known = known[:0]
			err := p.Do(func(n *protocol.Node) {
				for _, x := range n.Community(cid).Candidates() {
					if !x.Tracker && x.Sock() != tr.Addr() {
						known = append(known, x.Sock())
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			return len(known) >= 3
		})
		if len(known) < 3 {
			t.Errorf("peer %v discovered %d other peers %v within five walk steps, want >= 3", p.Addr(), len(known), known)
		}
		for _, k := range known {
			if k == p.Addr() {
				t.Errorf("peer %v has itself as a candidate", p.Addr())
			}
		}
	}
	cancel()
	wg.Wait()
}
