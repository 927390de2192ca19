package realnet

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

// benchPeer starts one peer with a SQLite store in a temporary directory
// (no tracker: publishing needs none).
func benchPeer(b *testing.B, cfg protocol.Config, trackers []netip.AddrPort, dir, name string) (*Peer, func()) {
	b.Helper()
	p, err := NewPeer(PeerConfig{Listen: "127.0.0.1:0", Communities: []wire.CID{{0xBE}}, Config: cfg,
		Trackers: trackers, StorePath: filepath.Join(dir, name+".db")})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return p, func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}
}

var payload = []byte("a text message of about a hundred bytes, which is what a chat or a status update would carry....")

// BenchmarkPublishDurable is the latency of one publish, from the call to
// the commit (synchronous=FULL) that makes it durable, with nothing else
// going on: ns/op, and the median and 99th percentile.
func BenchmarkPublishDurable(b *testing.B) {
	p, stop := benchPeer(b, fastConfig(), nil, b.TempDir(), "p")
	defer stop()
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := p.Publish(ctx, wire.CID{0xBE}, "text", payload); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkPublishConcurrent is publishes per second on one peer with 64
// clients publishing at once, each publish waiting for its commit (group
// commit makes one commit serve many).
func BenchmarkPublishConcurrent(b *testing.B) {
	p, stop := benchPeer(b, fastConfig(), nil, b.TempDir(), "p")
	defer stop()
	ctx := context.Background()
	b.SetParallelism(32) // 64 goroutines on 2 cores
	b.ResetTimer()
	t0 := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Publish(ctx, wire.CID{0xBE}, "text", payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
	el := time.Since(t0)
	b.StopTimer()
	st, _ := p.Status()
	b.ReportMetric(float64(b.N)/el.Seconds(), "publishes/s")
	if st != nil && st.Store.Commits > 0 {
		b.ReportMetric(float64(b.N)/float64(st.Store.Commits), "publishes/commit")
	}
}

// BenchmarkSync is messages synced per second between two loopback peers:
// one holds b.N messages, the other starts empty, and the clock runs until
// it holds them all. Both walk every 50 ms (Dispersy's durations / 100)
// with the skip curve off; each sync answer carries at most 5 KiB, so the
// rate is set by the protocol as much as by the peers.
func BenchmarkSync(b *testing.B) {
	dir := b.TempDir()
	cfg := protocol.DefaultConfig().Scaled(1.0 / 100)
	cfg.SyncSkip = false
	tr, err := NewPeer(PeerConfig{Listen: "127.0.0.1:0", Tracker: true, Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = tr.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	src, stopSrc := benchPeer(b, cfg, nil, dir, "src")
	defer stopSrc()
	for i := range b.N {
		if _, err := src.Publish(ctx, wire.CID{0xBE}, "text", fmt.Appendf(nil, "%d %s", i, payload)); err != nil {
			b.Fatal(err)
		}
	}
	trackers := []netip.AddrPort{tr.Addr()}
	// the source walks from the tracker too
	_ = src.Do(func(n *protocol.Node) {})
	srcAddr := src.Addr()
	b.ResetTimer()
	t0 := time.Now()
	dst, stopDst := benchPeer(b, cfg, append(trackers, srcAddr), dir, "dst")
	defer stopDst()
	for {
		var have int
		if err := dst.Do(func(n *protocol.Node) { have = n.Community(wire.CID{0xBE}).Store().Count(1) }); err != nil {
			b.Fatal(err)
		}
		if have >= b.N {
			break
		}
		if time.Since(t0) > 5*time.Minute {
			b.Fatalf("synced %d of %d messages in 5 minutes", have, b.N)
		}
		time.Sleep(5 * time.Millisecond)
	}
	el := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
}
