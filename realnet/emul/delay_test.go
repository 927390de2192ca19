package emul

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/natmodels"
	"github.com/dispersy-go/dispersy/simnet"
)

// TestDelayStage checks the userspace wire: a 25 ms one-way delay shows
// as a ~50 ms round trip through a NAT, and 20 % loss drops about a fifth
// of the packets.
func TestDelayStage(t *testing.T) {
	needKernel(t)
	topo := buildProbeNet(t, []string{natmodels.ProfilePortRestrictedCone}, 0)
	if err := installDelayQueue(topo.ns(topo.plan.Inet), delayQueue); err != nil {
		t.Fatal(err)
	}
	d, err := startDelay(topo.ns(topo.plan.Inet), simnet.ConstantLatency{D: 25 * time.Millisecond}, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	hs := topo.plan.Hosts
	srv := udpIn(t, topo.ns(hs[0].HostNS), netip.AddrPortFrom(hs[0].Public, 3478))
	c := udpIn(t, topo.ns(hs[2].HostNS), netip.AddrPortFrom(hs[2].LAN, 40000))
	var rtts []time.Duration
	for range 20 {
		t0 := time.Now()
		send(t, c, srv.LocalAddr().(*net.UDPAddr).AddrPort())
		from, ok := recvFrom(srv, time.Second)
		if !ok {
			t.Fatal("lost without loss")
		}
		send(t, srv, from)
		if _, ok := recvFrom(c, time.Second); !ok {
			t.Fatal("answer lost without loss")
		}
		rtts = append(rtts, time.Since(t0))
	}
	slices.Sort(rtts)
	if p50 := rtts[len(rtts)/2]; p50 < 50*time.Millisecond || p50 > 70*time.Millisecond {
		t.Errorf("round trip p50 %v with 25 ms each way (all: %v)", p50, rtts)
	}
	d.close()

	d, err = startDelay(topo.ns(topo.plan.Inet), simnet.ConstantLatency{}, 0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	const n = 400
	got := 0
	dst := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	for range n {
		send(t, c, dst)
		if _, ok := recvFrom(srv, 30*time.Millisecond); ok {
			got++
		}
	}
	if lost := n - got; lost < 50 || lost > 110 { // 80 expected, sigma 8
		t.Errorf("%d of %d lost at 20 %% loss", lost, n)
	}
	if _, _, dropped, _ := d.stats(); dropped != int64(n-got) {
		t.Errorf("stage counted %d drops, %d were lost", dropped, n-got)
	}
}
