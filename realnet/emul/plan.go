package emul

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Ports the peers and trackers listen on (each in its own namespace).
const (
	peerPort    = 7759
	trackerPort = 6421
)

// MaxAttachments is how many hosts and NAT routers the Internet bridge
// holds: a Linux bridge refuses its 1,024th port ("Exchange full").
const MaxAttachments = 1023

// hostSpec is one emulated host: a tracker or a peer, alone in its
// namespace, on the Internet or behind its own NAT router.
type hostSpec struct {
	// Index is the node's index as in the simulator: trackers first.
	Index   int
	Tracker bool
	// Profile is the natmodels preset the host is behind.
	Profile string
	NAT     kernelNAT
	// Public is the host's address on the emulated Internet (its own, or
	// its router's WAN address); LAN is the host's own address (Public
	// when it has no NAT) and Gateway its router's LAN address.
	Public, LAN, Gateway netip.Addr
	Port                 uint16
	// HostNS and NATNS name the host's and its router's namespaces
	// (NATNS empty without NAT).
	HostNS, NATNS string
}

// natted reports whether h is behind a NAT router.
func (h *hostSpec) natted() bool { return h.NAT.Mode != modeNone }

// Addr is where the host's node listens.
func (h *hostSpec) Addr() netip.AddrPort { return netip.AddrPortFrom(h.LAN, h.Port) }

// topoPlan is the whole emulated network of one run, computed before
// anything is created.
type topoPlan struct {
	ID    string // the run's "PID-START-SEQ"
	Inet  string // the Internet namespace
	Hosts []hostSpec
}

// nsName returns the namespace name of role in run id.
func nsName(id, role string) string { return namePrefix + id + "-" + role }

// publicAddr is attachment i's address on the emulated Internet,
// 100.64.0.0/10 (RFC 6598 shared address space, never routed here).
func publicAddr(i int) netip.Addr {
	v := uint32(100)<<24 | uint32(64)<<16 | uint32(i+2)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// lanAddrs are NAT router i's LAN address and its host's, in 10.0.0.0/8:
// 10.(i/256).(i%256).1 and .2, so every host's LAN address is unique.
func lanAddrs(i int) (router, host netip.Addr) {
	return netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}), netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 2})
}

// internetPrefix is the emulated Internet's subnet.
const internetBits = 10

// mac returns a locally administered MAC address for interface kind k of
// attachment i (no two interfaces of a run share one).
func mac(k byte, i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0xd9, k, byte(i >> 16), byte(i >> 8), byte(i)}
}

// MAC kinds.
const (
	macUplink byte = 1 // a host's eth0 on the Internet, or a router's wan0
	macPort   byte = 2 // the bridge port of the uplink
	macLAN    byte = 3 // a router's lan0
	macHost   byte = 4 // a NATed host's eth0
)

// newPlan lays out hosts: profiles[i] and nats[i] are host i's (trackers
// first).
func newPlan(id string, trackers int, profiles []string, nats []kernelNAT) (*topoPlan, error) {
	if len(profiles) > MaxAttachments {
		return nil, fmt.Errorf("%d hosts: one Internet bridge holds at most %d ports", len(profiles), MaxAttachments)
	}
	if len(profiles) > 1<<16 {
		return nil, fmt.Errorf("%d hosts: 10.0.0.0/8 holds 65,536 LANs", len(profiles))
	}
	p := &topoPlan{ID: id, Inet: nsName(id, "inet")}
	for i, prof := range profiles {
		h := hostSpec{Index: i, Tracker: i < trackers, Profile: prof, NAT: nats[i], Public: publicAddr(i), Port: peerPort}
		role := "h"
		if h.Tracker {
			role, h.Port = "t", trackerPort
		}
		h.HostNS = nsName(id, role+strconv.Itoa(i))
		if h.natted() {
			h.NATNS = nsName(id, "n"+strconv.Itoa(i))
			h.Gateway, h.LAN = lanAddrs(i)
		} else {
			h.LAN = h.Public
		}
		p.Hosts = append(p.Hosts, h)
	}
	return p, nil
}

// namespaces returns every namespace of the plan, the Internet first.
func (p *topoPlan) namespaces() []string {
	out := []string{p.Inet}
	for _, h := range p.Hosts {
		if h.NATNS != "" {
			out = append(out, h.NATNS)
		}
		out = append(out, h.HostNS)
	}
	return out
}

// owner maps every address of the plan (public, router WAN, LAN) to the
// host it stands for.
func (p *topoPlan) owner() map[netip.Addr]int {
	m := make(map[netip.Addr]int, 2*len(p.Hosts))
	for i, h := range p.Hosts {
		m[h.Public] = i
		m[h.LAN] = i
	}
	return m
}
