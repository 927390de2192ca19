package emul

import (
	"fmt"
	"time"

	"github.com/dispersy-go/dispersy/natmodels"
)

// natMode is how a NAT router's namespace translates.
type natMode int

const (
	// modeNone: no NAT, the host sits on the emulated Internet itself.
	modeNone natMode = iota
	// modeMasq: nftables masquerade. Conntrack keeps one flow per
	// (inside endpoint, remote endpoint) and keeps the inside port unless
	// the reply tuple is taken: endpoint-independent mapping,
	// address-and-port-dependent filtering (a port-restricted cone).
	modeMasq
	// modeRandom: masquerade with fully-random ports: every flow gets its
	// own random external port (address-and-port-dependent mapping: a
	// symmetric NAT).
	modeRandom
	// modeFullCone: masquerade, and inbound UDP to an external port that
	// an inside endpoint has sent from within the timeout is DNATed to
	// the host (nftables set of ports, refreshed by outbound packets):
	// endpoint-independent filtering.
	modeFullCone
	// modeRestricted: masquerade, and inbound UDP from an address the
	// host has sent to within the timeout is DNATed to the host (nftables
	// set of addresses, refreshed by outbound packets):
	// address-dependent filtering.
	modeRestricted
)

func (m natMode) String() string {
	switch m {
	case modeNone:
		return "none"
	case modeMasq:
		return "masquerade"
	case modeRandom:
		return "masquerade fully-random"
	case modeFullCone:
		return "masquerade + DNAT by port set (full cone)"
	case modeRestricted:
		return "masquerade + DNAT by address set (restricted cone)"
	}
	return fmt.Sprintf("natMode(%d)", int(m))
}

// kernelNAT is what one NAT router namespace is given.
type kernelNAT struct {
	Mode natMode
	// InputDrop drops new inbound connections to the router itself
	// (`iifname wan0 ct state new drop`), as home routers do: an
	// unsolicited packet then leaves no conntrack entry behind.
	InputDrop bool
	// UDPTimeout and StreamTimeout are the namespace's
	// nf_conntrack_udp_timeout and nf_conntrack_udp_timeout_stream.
	UDPTimeout, StreamTimeout time.Duration
	// SetTimeout is the timeout of the full/restricted cone sets and of
	// the flow set of OutboundRefresh.
	SetTimeout time.Duration
	// OutboundRefresh says only outbound packets keep a hole open, as the
	// preset's Behavior does without RefreshOnInbound. Conntrack refreshes
	// a flow on every packet in either direction, so an inbound packet is
	// then also checked against a set that only outbound packets refresh
	// (the cone modes' own set; a set of flows otherwise) and dropped when
	// its entry has expired.
	OutboundRefresh bool
}

// conntrack sysctls take whole seconds.
func wholeSeconds(d time.Duration) time.Duration {
	s := (d + time.Second - 1) / time.Second
	return max(s, 1) * time.Second
}

// kernelNATFor translates a natmodels profile into kernel rules, or says
// why the kernel cannot express it. It reads the profile's Behavior, not
// its name, so a preset that changes changes what the kernel is given.
func kernelNATFor(p natmodels.Profile) (kernelNAT, error) {
	if len(p.Chain) == 0 {
		return kernelNAT{Mode: modeNone}, nil
	}
	if len(p.Chain) > 1 || p.ShareOuter > 0 {
		return kernelNAT{}, fmt.Errorf("profile %q is a chain of %d NATs (shared by %d): the netns backend builds one NAT router per host", p.Name, len(p.Chain), p.ShareOuter)
	}
	b := p.Chain[0]
	if b.Hairpin {
		return kernelNAT{}, fmt.Errorf("profile %q hairpins, which the kernel presets do not build", p.Name)
	}
	k := kernelNAT{InputDrop: true, UDPTimeout: wholeSeconds(b.Timeout), StreamTimeout: wholeSeconds(b.Timeout), SetTimeout: wholeSeconds(b.Timeout)}
	if b.AssuredTimeout > 0 {
		k.StreamTimeout = wholeSeconds(b.AssuredTimeout)
	}
	if b.PerFlow {
		// conntrack itself: masquerade, refreshed both ways, per flow
		if b.PortAlloc != natmodels.PortPreserve {
			return kernelNAT{}, fmt.Errorf("profile %q: per-flow NAT with %v ports is not a kernel preset (masquerade preserves ports)", p.Name, b.PortAlloc)
		}
		k.Mode = modeMasq
		k.InputDrop = !b.InboundCreatesFlow
		return k, nil
	}
	if b.InboundCreatesFlow || b.AssuredTimeout > 0 {
		return kernelNAT{}, fmt.Errorf("profile %q: conntrack options without PerFlow", p.Name)
	}
	k.OutboundRefresh = !b.RefreshOnInbound
	switch {
	case b.Mapping == natmodels.EndpointIndependent && b.PortAlloc == natmodels.PortPreserve:
		switch b.Filtering {
		case natmodels.EndpointIndependent:
			k.Mode = modeFullCone
		case natmodels.AddressDependent:
			k.Mode = modeRestricted
		default:
			k.Mode = modeMasq
		}
		return k, nil
	case b.Mapping == natmodels.AddressPortDependent && b.PortAlloc == natmodels.PortRandom &&
		b.Filtering == natmodels.AddressPortDependent:
		k.Mode = modeRandom
		return k, nil
	}
	return kernelNAT{}, fmt.Errorf("profile %q (mapping %v, filtering %v, %v ports) has no kernel preset: the kernel presets are masquerade (EIM/APDF, ports kept), fully-random masquerade (APDM/APDF) and masquerade with full- or restricted-cone DNAT (EIM/EIF, EIM/ADF)",
		p.Name, b.Mapping, b.Filtering, b.PortAlloc)
}
