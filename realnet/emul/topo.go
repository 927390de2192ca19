package emul

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// topology is the built network of a plan: the namespaces exist, are
// wired and programmed. close deletes every namespace.
type topology struct {
	plan    *topoPlan
	handles map[string]netns.NsHandle // by namespace name
	created []string                  // namespaces in creation order
}

// ns returns the handle of the named namespace.
func (t *topology) ns(name string) netns.NsHandle { return t.handles[name] }

// close kills what runs in the namespaces and deletes them, the
// Internet last; it tries every one and returns every error.
func (t *topology) close() error {
	var errs []error
	for _, h := range t.handles {
		h.Close()
	}
	t.handles = nil
	for i := len(t.created) - 1; i >= 0; i-- {
		if err := deleteNS(t.created[i]); err != nil {
			errs = append(errs, err)
		}
	}
	t.created = nil
	return errors.Join(errs...)
}

// sysctl writes value to /proc/sys/KEY (dots for slashes) in namespace ns.
func sysctl(ns netns.NsHandle, key, value string) error {
	path := filepath.Join("/proc/sys", filepath.FromSlash(dotsToSlashes(key)))
	return inNS(ns, func() error {
		if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
		}
		return nil
	})
}

func dotsToSlashes(k string) string {
	b := []byte(k)
	for i, c := range b {
		if c == '.' {
			b[i] = '/'
		}
	}
	return string(b)
}

// buildTopology creates the plan's namespaces and links and programs the
// NAT routers. On error it removes what it made.
func buildTopology(p *topoPlan) (_ *topology, err error) {
	t := &topology{plan: p, handles: map[string]netns.NsHandle{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.close())
		}
	}()
	for _, name := range p.namespaces() {
		h, err := createNS(name)
		if err != nil {
			return nil, err
		}
		t.handles[name] = h
		t.created = append(t.created, name)
	}
	inet, err := netlink.NewHandleAt(t.ns(p.Inet))
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", p.Inet, err)
	}
	defer inet.Close()
	if err := linkUp(inet, "lo"); err != nil {
		return nil, err
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridgeIf}}
	if err := inet.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("bridge %s: %w", bridgeIf, err)
	}
	if err := inet.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("bridge %s up: %w", bridgeIf, err)
	}
	// bridged IPv4 frames pass this namespace's netfilter hooks, where
	// the delay stage queues them
	if err := sysctl(t.ns(p.Inet), "net.bridge.bridge-nf-call-iptables", "1"); err != nil {
		return nil, err
	}
	for i := range p.Hosts {
		if err := t.buildHost(inet, br, &p.Hosts[i]); err != nil {
			return nil, err
		}
	}
	if err := t.staticNeighbours(); err != nil {
		return nil, err
	}
	return t, nil
}

func linkUp(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("link %s up: %w", name, err)
	}
	return nil
}

func addrUp(h *netlink.Handle, name string, a netip.Addr, bits int) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	ipn := &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, 32)}
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: ipn}); err != nil {
		return fmt.Errorf("address %s on %s: %w", ipn, name, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("link %s up: %w", name, err)
	}
	return nil
}

// buildHost wires one host (and its router): uplink veth to the bridge,
// LAN veth, addresses, routes, sysctls, NAT rules.
func (t *topology) buildHost(inet *netlink.Handle, br *netlink.Bridge, h *hostSpec) error {
	uplinkNS, uplinkIf := h.HostNS, hostIf
	if h.natted() {
		uplinkNS, uplinkIf = h.NATNS, wanIf
	}
	port := "p" + strconv.Itoa(h.Index)
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: port, MasterIndex: br.Index, HardwareAddr: mac(macPort, h.Index)},
		PeerName:  uplinkIf, PeerHardwareAddr: mac(macUplink, h.Index),
		PeerNamespace: netlink.NsFd(int(t.ns(uplinkNS))),
	}
	if err := inet.LinkAdd(veth); err != nil {
		return fmt.Errorf("host %d: veth %s-%s: %w", h.Index, port, uplinkIf, err)
	}
	if err := linkUp(inet, port); err != nil {
		return fmt.Errorf("host %d: %w", h.Index, err)
	}
	up, err := netlink.NewHandleAt(t.ns(uplinkNS))
	if err != nil {
		return fmt.Errorf("host %d: netlink in %s: %w", h.Index, uplinkNS, err)
	}
	defer up.Close()
	if err := linkUp(up, "lo"); err != nil {
		return err
	}
	// a /32 and an on-link route to the rest of the emulated Internet: a
	// host on the Internet has no neighbours on its own subnet, so a peer
	// that reads its subnets from its interface (Dispersy's LAN test)
	// sees every other host as remote, as the simulator's hosts do
	if err := addrUp(up, uplinkIf, h.Public, 32); err != nil {
		return fmt.Errorf("host %d: %w", h.Index, err)
	}
	ul, err := up.LinkByName(uplinkIf)
	if err != nil {
		return err
	}
	internet := &net.IPNet{IP: net.IPv4(100, 64, 0, 0).To4(), Mask: net.CIDRMask(internetBits, 32)}
	if err := up.RouteAdd(&netlink.Route{LinkIndex: ul.Attrs().Index, Dst: internet, Scope: netlink.SCOPE_LINK}); err != nil {
		return fmt.Errorf("host %d: route %s: %w", h.Index, internet, err)
	}
	if !h.natted() {
		return nil
	}
	nat := t.ns(h.NATNS)
	lan := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: lanIf, HardwareAddr: mac(macLAN, h.Index)},
		PeerName:  hostIf, PeerHardwareAddr: mac(macHost, h.Index),
		PeerNamespace: netlink.NsFd(int(t.ns(h.HostNS))),
	}
	if err := up.LinkAdd(lan); err != nil {
		return fmt.Errorf("host %d: veth %s-%s: %w", h.Index, lanIf, hostIf, err)
	}
	if err := addrUp(up, lanIf, h.Gateway, 24); err != nil {
		return fmt.Errorf("host %d: %w", h.Index, err)
	}
	hn, err := netlink.NewHandleAt(t.ns(h.HostNS))
	if err != nil {
		return fmt.Errorf("host %d: netlink in %s: %w", h.Index, h.HostNS, err)
	}
	defer hn.Close()
	if err := linkUp(hn, "lo"); err != nil {
		return err
	}
	if err := addrUp(hn, hostIf, h.LAN, 24); err != nil {
		return fmt.Errorf("host %d: %w", h.Index, err)
	}
	eth, err := hn.LinkByName(hostIf)
	if err != nil {
		return err
	}
	if err := hn.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: h.Gateway.AsSlice()}); err != nil {
		return fmt.Errorf("host %d: default route via %s: %w", h.Index, h.Gateway, err)
	}
	if err := sysctl(nat, "net.ipv4.ip_forward", "1"); err != nil {
		return fmt.Errorf("host %d: %w", h.Index, err)
	}
	for key, d := range map[string]time.Duration{
		"net.netfilter.nf_conntrack_udp_timeout":        h.NAT.UDPTimeout,
		"net.netfilter.nf_conntrack_udp_timeout_stream": h.NAT.StreamTimeout,
	} {
		if err := sysctl(nat, key, strconv.Itoa(int(d/time.Second))); err != nil {
			return fmt.Errorf("host %d: %w", h.Index, err)
		}
	}
	if err := installNAT(nat, h.NAT, h.LAN); err != nil {
		return fmt.Errorf("host %d (%s): %w", h.Index, h.Profile, err)
	}
	return nil
}

// staticNeighbours fills every neighbour table with permanent entries:
// each uplink knows every other uplink's MAC, each LAN its two ends. No
// ARP is sent, and permanent entries are exempt from the neighbour table
// limit (gc_thresh3, 1,024 by default), which every namespace shares with
// the host: n uplinks that all talk to each other would need n² dynamic
// entries, more than that limit from about 32 hosts on.
func (t *topology) staticNeighbours() error {
	hosts := t.plan.Hosts
	for _, h := range hosts {
		uplinkNS, uplinkIf := h.HostNS, hostIf
		if h.natted() {
			uplinkNS, uplinkIf = h.NATNS, wanIf
		}
		nl, err := netlink.NewHandleAt(t.ns(uplinkNS))
		if err != nil {
			return err
		}
		l, err := nl.LinkByName(uplinkIf)
		if err != nil {
			nl.Close()
			return err
		}
		for _, o := range hosts {
			if o.Index == h.Index {
				continue
			}
			n := &netlink.Neigh{LinkIndex: l.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
				IP: o.Public.AsSlice(), HardwareAddr: mac(macUplink, o.Index)}
			if err := nl.NeighSet(n); err != nil {
				nl.Close()
				return fmt.Errorf("neighbour %s on %s: %w", o.Public, uplinkNS, err)
			}
		}
		if h.natted() {
			lan, err := nl.LinkByName(lanIf)
			if err == nil {
				err = nl.NeighSet(&netlink.Neigh{LinkIndex: lan.Attrs().Index, Family: netlink.FAMILY_V4,
					State: netlink.NUD_PERMANENT, IP: h.LAN.AsSlice(), HardwareAddr: mac(macHost, h.Index)})
			}
			nl.Close()
			if err != nil {
				return fmt.Errorf("neighbour %s on %s: %w", h.LAN, h.NATNS, err)
			}
			hn, err := netlink.NewHandleAt(t.ns(h.HostNS))
			if err != nil {
				return err
			}
			eth, err := hn.LinkByName(hostIf)
			if err == nil {
				err = hn.NeighSet(&netlink.Neigh{LinkIndex: eth.Attrs().Index, Family: netlink.FAMILY_V4,
					State: netlink.NUD_PERMANENT, IP: h.Gateway.AsSlice(), HardwareAddr: mac(macLAN, h.Index)})
			}
			hn.Close()
			if err != nil {
				return fmt.Errorf("neighbour %s on %s: %w", h.Gateway, h.HostNS, err)
			}
			continue
		}
		nl.Close()
	}
	return nil
}
