package realnet

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

// testNet is a tracker and peers on 127.0.0.1, each peer with its own
// SQLite store, walking every 200 ms (Dispersy's durations / 25).
type testNet struct {
	t       *testing.T
	cfg     protocol.Config
	cid     wire.CID
	tracker *Peer
	peers   []*Peer
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// fastConfig is Dispersy's configuration scaled by 1/25. The fast walker
// stays off: its steps carry no sync block, which would hold sync back
// for its first fifteen ticks.
func fastConfig() protocol.Config {
	return protocol.DefaultConfig().Scaled(1.0 / 25)
}

func startNet(t *testing.T, peers int) *testNet {
	t.Helper()
	return startNetWith(t, peers, wire.CID{0xD1, 0x5B, 0x09}, nil)
}

// startNetWith is startNet in community cid, mod adjusting each peer's
// configuration.
func startNetWith(t *testing.T, peers int, cid wire.CID, mod func(i int, pc *PeerConfig)) *testNet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNet{t: t, cfg: fastConfig(), cid: cid, cancel: cancel}
	var err error
	tn.tracker, err = NewPeer(PeerConfig{Listen: "127.0.0.1:0", Tracker: true, Config: tn.cfg})
	if err != nil {
		t.Fatal(err)
	}
	tn.run(ctx, tn.tracker)
	dir := t.TempDir()
	for i := range peers {
		pc := PeerConfig{Listen: "127.0.0.1:0", Trackers: []netip.AddrPort{tn.tracker.Addr()},
			Communities: []wire.CID{tn.cid}, Config: tn.cfg, StorePath: filepath.Join(dir, fmt.Sprintf("peer%d.db", i))}
		if mod != nil {
			mod(i, &pc)
		}
		p, err := NewPeer(pc)
		if err != nil {
			t.Fatal(err)
		}
		tn.peers = append(tn.peers, p)
		tn.run(ctx, p)
	}
	t.Cleanup(tn.stop)
	return tn
}

func (tn *testNet) run(ctx context.Context, p *Peer) {
	tn.wg.Add(1)
	go func() {
		defer tn.wg.Done()
		if err := p.Run(ctx); err != nil {
			tn.t.Errorf("peer %v: %v", p.Addr(), err)
		}
	}()
}

func (tn *testNet) stop() {
	tn.cancel()
	tn.wg.Wait()
}

// within polls cond every 20 ms for at most steps walk steps (after the
// start jitter) and reports whether it became true.
func within(cfg protocol.Config, steps int, cond func() bool) bool {
	deadline := time.Now().Add(cfg.StartJitter + time.Duration(steps)*cfg.WalkInterval)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (tn *testNet) known(p *Peer) []netip.AddrPort {
	var known []netip.AddrPort
	err := p.Do(func(n *protocol.Node) {
		for _, x := range n.Community(tn.cid).Candidates() {
			cat := x.Category(n.Now(), n.Config())
			if !x.Tracker && x.Sock() != tn.tracker.Addr() && (cat == protocol.CategoryWalk || cat == protocol.CategoryStumble) {
				known = append(known, x.Sock())
			}
		}
	})
	if err != nil {
		tn.t.Fatal(err)
	}
	return known
}

// TestPublishReachesEveryPeer is the loopback run in process: a
// tracker and five peers find each other, and a message published on one
// is listed by every other within a few walk steps.
func TestPublishReachesEveryPeer(t *testing.T) {
	tn := startNet(t, 5)
	for _, p := range tn.peers {
		if !within(tn.cfg, 5, func() bool { return len(tn.known(p)) >= 2 }) {
			t.Fatalf("peer %v verified %d other peers within five walk steps, want >= 2", p.Addr(), len(tn.known(p)))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg, err := tn.peers[0].Publish(ctx, tn.cid, "text", []byte("hello, overlay"))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range tn.peers[1:] {
		has := func() bool {
			page, err := p.Messages(tn.cid, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page.Messages {
				if m.ID == msg.ID && m.Text == "hello, overlay" && m.Type == "text" {
					return true
				}
			}
			return false
		}
		if !within(tn.cfg, 10, has) {
			t.Errorf("peer %d (%v) does not list message %s ten walk steps after it was published", i+1, p.Addr(), msg.ID)
		}
	}
	// publishing into an unknown community or type fails, naming it
	for _, tt := range []struct {
		cid  wire.CID
		meta string
	}{{wire.CID{9}, "text"}, {tn.cid, "no-such-type"}} {
		if _, err := tn.peers[0].Publish(ctx, tt.cid, tt.meta, nil); err == nil {
			t.Errorf("Publish(%x, %q) succeeded", tt.cid[:1], tt.meta)
		}
	}
}

// TestMetricsParse scrapes /metrics with Prometheus's own parser and checks
// the counters a peer that walked and synced must have.
func TestMetricsParse(t *testing.T) {
	tn := startNet(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := tn.peers[0].Publish(ctx, tn.cid, "text", []byte("metered")); err != nil {
		t.Fatal(err)
	}
	p := tn.peers[1]
	if !within(tn.cfg, 10, func() bool {
		page, _ := p.Messages(tn.cid, 0, 10)
		return len(page.Messages) == 1
	}) {
		t.Fatal("the message did not reach the second peer")
	}
	// a datagram too short for a prefix, counted by reason
	send(t, p.Addr(), []byte("x"))
	if !within(tn.cfg, 5, func() bool {
		st, _ := p.Status()
		return st.Drops[wire.ReasonShort.String()] >= 1
	}) {
		t.Fatal("the short datagram was not counted")
	}
	srv := httptest.NewServer(p.MetricsHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse as Prometheus text: %v", err)
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		f := fams[name]
		if f == nil {
			return 0, false
		}
	next:
		for _, m := range f.GetMetric() {
			for k, v := range labels {
				if !hasLabel(m, k, v) {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	cidHex := fmt.Sprintf("%x", tn.cid[:])
	tests := []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"dispersy_packets_sent_total", map[string]string{"kind": "dispersy-introduction-request"}, 1},
		{"dispersy_packets_received_total", map[string]string{"kind": "dispersy-introduction-response"}, 1},
		{"dispersy_packets_received_total", map[string]string{"kind": "text"}, 1},
		{"dispersy_packets_dropped_total", map[string]string{"reason": wire.ReasonShort.String()}, 1},
		{"dispersy_packets_dropped_total", map[string]string{"reason": DropQueueFull}, 0},
		{"dispersy_messages_stored_total", map[string]string{"kind": "text"}, 1},
		{"dispersy_messages", map[string]string{"community": cidHex, "type": "text"}, 1},
		{"dispersy_candidates", map[string]string{"community": cidHex, "category": "walk"}, 0},
		{"dispersy_global_time", map[string]string{"community": cidHex}, 2},
		{"dispersy_sync_request_bytes_total", nil, 1},
		{"dispersy_store_commits_total", nil, 1},
	}
	for _, tt := range tests {
		v, ok := value(tt.name, tt.labels)
		if !ok || v < tt.min {
			t.Errorf("%s%v = %v (present %v), want >= %v", tt.name, tt.labels, v, ok, tt.min)
		}
	}
	hz, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hz.Body.Close()
	if hz.StatusCode != http.StatusOK {
		t.Fatalf("/healthz = %d while the node runs", hz.StatusCode)
	}
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k {
			return l.GetValue() == v
		}
	}
	return false
}

// send writes one datagram to a from a fresh loopback socket.
func send(t testing.TB, to netip.AddrPort, pkt []byte) {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
}
