package emul

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/dispersy-go/dispersy/natmodels"
)

func TestKernelNATFor(t *testing.T) {
	for _, tc := range []struct {
		profile string
		mode    natMode
		drop    bool
		out     bool // OutboundRefresh
		udp     time.Duration
		stream  time.Duration
		err     bool
	}{
		{profile: natmodels.ProfilePublic, mode: modeNone},
		{profile: natmodels.ProfileFullCone, mode: modeFullCone, drop: true, out: true, udp: 60 * time.Second, stream: 60 * time.Second},
		{profile: natmodels.ProfileRestrictedCone, mode: modeRestricted, drop: true, out: true, udp: 60 * time.Second, stream: 60 * time.Second},
		{profile: natmodels.ProfilePortRestrictedCone, mode: modeMasq, drop: true, out: true, udp: 60 * time.Second, stream: 60 * time.Second},
		{profile: natmodels.ProfileSymmetric, mode: modeRandom, drop: true, out: true, udp: 60 * time.Second, stream: 60 * time.Second},
		{profile: natmodels.ProfileLinuxMasquerade, mode: modeMasq, drop: true, udp: 30 * time.Second, stream: 120 * time.Second},
		{profile: natmodels.ProfileLinuxMasqueradeNoFW, mode: modeMasq, drop: false, udp: 30 * time.Second, stream: 120 * time.Second},
		{profile: natmodels.ProfileCGNAT, err: true},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			p, ok := natmodels.LookupProfile(tc.profile)
			if !ok {
				t.Fatalf("no profile %q", tc.profile)
			}
			k, err := kernelNATFor(p)
			if tc.err {
				if err == nil {
					t.Fatalf("kernelNATFor(%s) = %+v, want an error", tc.profile, k)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Mode != tc.mode || k.InputDrop != tc.drop || k.OutboundRefresh != tc.out || (tc.mode != modeNone && (k.UDPTimeout != tc.udp || k.StreamTimeout != tc.stream)) {
				t.Errorf("kernelNATFor(%s) = %+v, want mode %v drop %v outbound refresh %v timeouts %v/%v", tc.profile, k, tc.mode, tc.drop, tc.out, tc.udp, tc.stream)
			}
		})
	}
}

// udpIn opens a UDP socket at addr inside namespace ns.
func udpIn(t *testing.T, ns netns.NsHandle, addr netip.AddrPort) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := inNS(ns, func() error {
		var err error
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
		return err
	})
	if err != nil {
		t.Fatalf("listen %v: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recvFrom waits up to d for a datagram on c and returns its source.
func recvFrom(c *net.UDPConn, d time.Duration) (netip.AddrPort, bool) {
	buf := make([]byte, 1500)
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), true
}

func send(t *testing.T, c *net.UDPConn, to netip.AddrPort) {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort([]byte("probe"), to); err != nil {
		t.Fatalf("send to %v: %v", to, err)
	}
}

// buildProbeNet builds two public servers and one host behind each of
// profiles (with mapping timeout d if > 0).
func buildProbeNet(t *testing.T, profiles []string, d time.Duration) *topology {
	t.Helper()
	names := append([]string{natmodels.ProfilePublic, natmodels.ProfilePublic}, profiles...)
	nats := make([]kernelNAT, len(names))
	for i, n := range names {
		p, _ := natmodels.LookupProfile(n)
		k, err := kernelNATFor(p.WithTimeout(d))
		if err != nil {
			t.Fatal(err)
		}
		nats[i] = k
	}
	plan, err := newPlan(runID(), 0, names, nats)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := buildTopology(plan)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := topo.close(); err != nil {
			t.Error(err)
		}
	})
	return topo
}

// TestKernelNATBehaviour probes every kernel-expressible preset the way
// RFC 5780 does (mapping seen from two ports and two addresses; filtering
// by answers from another port and another address) and checks that the
// kernel does what the preset's natmodels Behavior says.
func TestKernelNATBehaviour(t *testing.T) {
	needKernel(t)
	profiles := []string{natmodels.ProfileFullCone, natmodels.ProfileRestrictedCone, natmodels.ProfilePortRestrictedCone,
		natmodels.ProfileSymmetric, natmodels.ProfileLinuxMasquerade, natmodels.ProfileLinuxMasqueradeNoFW}
	topo := buildProbeNet(t, profiles, 0)
	hs := topo.plan.Hosts
	s1, s2 := hs[0], hs[1]
	s1a := udpIn(t, topo.ns(s1.HostNS), netip.AddrPortFrom(s1.Public, 3478))
	s1b := udpIn(t, topo.ns(s1.HostNS), netip.AddrPortFrom(s1.Public, 3479))
	s2a := udpIn(t, topo.ns(s2.HostNS), netip.AddrPortFrom(s2.Public, 3478))
	for i, name := range profiles {
		h := hs[2+i]
		t.Run(name, func(t *testing.T) {
			prof, _ := natmodels.LookupProfile(name)
			b := prof.Chain[0]
			// mapping
			m := udpIn(t, topo.ns(h.HostNS), netip.AddrPortFrom(h.LAN, 40000))
			var seen []netip.AddrPort
			for _, srv := range []*net.UDPConn{s1a, s1b, s2a} {
				send(t, m, srv.LocalAddr().(*net.UDPAddr).AddrPort())
				from, ok := recvFrom(srv, time.Second)
				if !ok {
					t.Fatalf("server %v heard nothing from %v", srv.LocalAddr(), h.LAN)
				}
				if from.Addr() != h.Public {
					t.Fatalf("server saw %v, want the router's address %v", from, h.Public)
				}
				seen = append(seen, from)
			}
			mapping := natmodels.AddressPortDependent
			switch {
			case seen[0] == seen[1] && seen[0] == seen[2]:
				mapping = natmodels.EndpointIndependent
			case seen[0] == seen[1]:
				mapping = natmodels.AddressDependent
			}
			if mapping != b.Mapping {
				t.Errorf("mapping %v (seen %v), the preset says %v", mapping, seen, b.Mapping)
			}
			if kept := seen[0].Port() == 40000; kept != (b.PortAlloc == natmodels.PortPreserve) {
				t.Errorf("port kept = %v (seen %v), the preset allocates %v", kept, seen[0], b.PortAlloc)
			}
			// filtering, on a fresh socket that has only sent to s1a
			f := udpIn(t, topo.ns(h.HostNS), netip.AddrPortFrom(h.LAN, 40001))
			send(t, f, s1a.LocalAddr().(*net.UDPAddr).AddrPort())
			mapped, ok := recvFrom(s1a, time.Second)
			if !ok {
				t.Fatal("s1 heard nothing from the filtering socket")
			}
			send(t, s1a, mapped)
			if _, ok := recvFrom(f, time.Second); !ok {
				t.Fatal("the answer from the contacted endpoint did not pass")
			}
			send(t, s1b, mapped)
			_, otherPort := recvFrom(f, 300*time.Millisecond)
			send(t, s2a, mapped)
			_, otherAddr := recvFrom(f, 300*time.Millisecond)
			filtering := natmodels.AddressPortDependent
			switch {
			case otherAddr:
				filtering = natmodels.EndpointIndependent
			case otherPort:
				filtering = natmodels.AddressDependent
			}
			if filtering != b.Filtering {
				t.Errorf("filtering %v (other port passed %v, other address %v), the preset says %v", filtering, otherPort, otherAddr, b.Filtering)
			}
		})
	}
}

// TestKernelNATExpiry checks that a short mapping timeout closes an idle
// hole in the kernel: an answer within the timeout passes, one after it
// does not.
func TestKernelNATExpiry(t *testing.T) {
	needKernel(t)
	profiles := []string{natmodels.ProfilePortRestrictedCone, natmodels.ProfileFullCone}
	topo := buildProbeNet(t, profiles, 2*time.Second)
	hs := topo.plan.Hosts
	srv := udpIn(t, topo.ns(hs[0].HostNS), netip.AddrPortFrom(hs[0].Public, 3478))
	for i, name := range profiles {
		h := hs[2+i]
		t.Run(name, func(t *testing.T) {
			c := udpIn(t, topo.ns(h.HostNS), netip.AddrPortFrom(h.LAN, 40000))
			send(t, c, srv.LocalAddr().(*net.UDPAddr).AddrPort())
			mapped, ok := recvFrom(srv, time.Second)
			if !ok {
				t.Fatal("server heard nothing")
			}
			time.Sleep(time.Second)
			send(t, srv, mapped)
			if _, ok := recvFrom(c, time.Second); !ok {
				t.Fatal("an answer 1 s after the last packet (timeout 2 s) did not pass")
			}
			time.Sleep(3500 * time.Millisecond)
			send(t, srv, mapped)
			if from, ok := recvFrom(c, 500*time.Millisecond); ok {
				t.Fatalf("an answer 3.5 s after the last packet passed (from %v): the hole did not expire", from)
			}
		})
	}
}

// TestKernelConntrackCollision: an unsolicited packet that reaches a
// router before its host has sent anything makes a router without the WAN
// input drop move the host's next flow to that sender onto another port
// (the conntrack collision), and the simulator's linux-masquerade-nofw
// preset does the same; with the drop (linux-masquerade) both keep the
// port.
func TestKernelConntrackCollision(t *testing.T) {
	needKernel(t)
	profiles := []string{natmodels.ProfileLinuxMasquerade, natmodels.ProfileLinuxMasqueradeNoFW}
	topo := buildProbeNet(t, profiles, 0)
	hs := topo.plan.Hosts
	srv := udpIn(t, topo.ns(hs[0].HostNS), netip.AddrPortFrom(hs[0].Public, 3478))
	for i, name := range profiles {
		h := hs[2+i]
		t.Run(name, func(t *testing.T) {
			c := udpIn(t, topo.ns(h.HostNS), netip.AddrPortFrom(h.LAN, 40000))
			send(t, srv, netip.AddrPortFrom(h.Public, 40000)) // the early punch
			if _, ok := recvFrom(c, 200*time.Millisecond); ok {
				t.Fatal("an unsolicited packet reached the host")
			}
			send(t, c, srv.LocalAddr().(*net.UDPAddr).AddrPort())
			from, ok := recvFrom(srv, time.Second)
			if !ok {
				t.Fatal("the host's packet did not arrive")
			}
			kernelKept := from.Port() == 40000

			prof, _ := natmodels.LookupProfile(name)
			box, err := natmodels.NewBox(prof.Chain[0], h.Public, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			remote := netip.AddrPortFrom(hs[0].Public, 3478)
			box.Inbound(time.Second, remote, netip.AddrPortFrom(h.Public, 40000))
			mapped, ok := box.Outbound(time.Second+100*time.Millisecond, netip.AddrPortFrom(h.LAN, 40000), remote)
			if !ok {
				t.Fatal("the model found no port")
			}
			modelKept := mapped.Port() == 40000
			if kernelKept != modelKept || kernelKept != (name == natmodels.ProfileLinuxMasquerade) {
				t.Errorf("port kept: kernel %v (%v), model %v (%v)", kernelKept, from, modelKept, mapped)
			}
		})
	}
}

// TestKernelNATInboundRefresh: inbound traffic alone keeps a conntrack flow
// alive, but a preset whose Behavior does not refresh on inbound must close
// its hole one timeout after the last outbound packet, however much the
// remote keeps sending. The kernel's verdict on each answer must be the
// natmodels box's for the same packets.
func TestKernelNATInboundRefresh(t *testing.T) {
	needKernel(t)
	profiles := []string{natmodels.ProfileFullCone, natmodels.ProfileRestrictedCone, natmodels.ProfilePortRestrictedCone,
		natmodels.ProfileSymmetric, natmodels.ProfileLinuxMasquerade}
	const timeout = 2 * time.Second
	// answers at these times after the only outbound packet: the first
	// within the timeout, the second past it but within a timeout of the
	// first
	answers := []time.Duration{1200 * time.Millisecond, 2600 * time.Millisecond}
	topo := buildProbeNet(t, profiles, timeout)
	hs := topo.plan.Hosts
	srv := udpIn(t, topo.ns(hs[0].HostNS), netip.AddrPortFrom(hs[0].Public, 3478))
	srvAddr := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	for i, name := range profiles {
		h := hs[2+i]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			prof, _ := natmodels.LookupProfile(name)
			box, err := natmodels.NewBox(prof.WithTimeout(timeout).Chain[0], h.Public, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			inside := netip.AddrPortFrom(h.LAN, 40000)
			c := udpIn(t, topo.ns(h.HostNS), inside)
			start := time.Now()
			send(t, c, srvAddr)
			mapped, ok := recvFrom(srv, time.Second)
			if !ok {
				t.Fatal("server heard nothing")
			}
			modelMapped, _ := box.Outbound(0, inside, srvAddr)
			for _, at := range answers {
				time.Sleep(time.Until(start.Add(at)))
				send(t, srv, mapped)
				_, kernel := recvFrom(c, 300*time.Millisecond)
				_, v := box.Inbound(at, srvAddr, modelMapped)
				if kernel != (v == natmodels.Pass) {
					t.Errorf("answer %v after the only outbound packet (timeout %v): kernel passed = %v, model %v", at, timeout, kernel, v)
				}
			}
		})
	}
}
