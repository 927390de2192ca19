package natmodels

import (
	"errors"
	"fmt"
	"time"
)

// Profile is a named kind of network attachment: the chain of NAT boxes
// between a host and the public Internet.
type Profile struct {
	// Name is the preset name (see ProfileNames).
	Name string
	// Chain lists the NAT boxes from the host outwards (inner to outer);
	// empty means a public host with no NAT.
	Chain []Behavior
	// ShareOuter > 0 means the outermost box of the chain is shared by up to
	// this many hosts (a carrier-grade NAT), each with its own inner boxes;
	// 0 means every host gets its own chain.
	ShareOuter int
}

// The canonical profile names, in canonical order (see ProfileNames).
const (
	ProfilePublic              = "public"
	ProfileFullCone            = "full-cone"
	ProfileRestrictedCone      = "restricted-cone"
	ProfilePortRestrictedCone  = "port-restricted-cone"
	ProfileSymmetric           = "symmetric"
	ProfileCGNAT               = "cgnat"
	ProfileLinuxMasquerade     = "linux-masquerade"
	ProfileLinuxMasqueradeNoFW = "linux-masquerade-nofw"
)

// ErrUnknownProfile is wrapped by errors about a profile name that is not a
// preset.
var ErrUnknownProfile = errors.New("natmodels: unknown profile")

// presets builds the preset table afresh on every call, so no caller can
// change what another one sees. Sources of each value are in the comments.
func presets() []Profile {
	// The four classic cones and symmetric NAT: RFC 3489 §5 names, in
	// RFC 4787 §4.1/§5 terms (mapping/filtering), measured on Linux with the
	// nft rules of shared/research/emulation-feasibility.md §3 (fullcone,
	// restricted, masq, random-fully). Timeout 60 s is the project's default
	// for a consumer NAT (RFC 4787 REQ-5 asks for >= 2 min; home routers
	// commonly use less); inbound traffic does not refresh (RFC 4787 §4.3
	// only requires outbound refresh) and they do not hairpin.
	cone := func(f Dependency) Behavior {
		return Behavior{Mapping: EndpointIndependent, Filtering: f, PortAlloc: PortPreserve, Timeout: 60 * time.Second}
	}
	// Linux nftables "masquerade" as measured in emulation-feasibility.md
	// §3-§4: conntrack flows, port kept unless the reply tuple is taken
	// (so EIM and APDF in RFC 5780 probes), nf_conntrack_udp_timeout 30 s
	// for unreplied flows, nf_conntrack_udp_timeout_stream 120 s once
	// replied, every packet in either direction refreshes its flow, no
	// hairpin rules.
	masq := Behavior{
		Mapping: EndpointIndependent, Filtering: AddressPortDependent, PortAlloc: PortPreserve,
		Timeout: 30 * time.Second, AssuredTimeout: 120 * time.Second,
		RefreshOnInbound: true, PerFlow: true,
	}
	nofw := masq
	nofw.InboundCreatesFlow = true
	return []Profile{
		// public: a host with a public address and no NAT or firewall.
		{Name: ProfilePublic},
		// full-cone: EIM, EIF, port preserving (nft "fullcone" mode).
		{Name: ProfileFullCone, Chain: []Behavior{cone(EndpointIndependent)}},
		// restricted-cone: EIM, ADF, port preserving (nft "restricted").
		{Name: ProfileRestrictedCone, Chain: []Behavior{cone(AddressDependent)}},
		// port-restricted-cone: EIM, APDF, port preserving (nft "masq",
		// most home routers).
		{Name: ProfilePortRestrictedCone, Chain: []Behavior{cone(AddressPortDependent)}},
		// symmetric: APDM, APDF, random ports (iptables MASQUERADE
		// --random-fully).
		{Name: ProfileSymmetric, Chain: []Behavior{{
			Mapping: AddressPortDependent, Filtering: AddressPortDependent,
			PortAlloc: PortRandom, Timeout: 60 * time.Second,
		}}},
		// cgnat: a port-restricted-cone home NAT behind a carrier-grade NAT
		// shared by up to 64 subscribers (NAT444). The CGN follows RFC 6888
		// REQ-1, i.e. RFC 4787: EIM (REQ-1), a mapping timeout of at least
		// 2 min (REQ-5) and hairpinning (REQ-9); it filters per address and
		// port, and picks random ports (RFC 6056 port randomisation).
		{Name: ProfileCGNAT, Chain: []Behavior{
			cone(AddressPortDependent),
			{
				Mapping: EndpointIndependent, Filtering: AddressPortDependent,
				PortAlloc: PortRandom, Timeout: 120 * time.Second, Hairpin: true,
			},
		}, ShareOuter: 64},
		// linux-masquerade: a Linux home router with masquerade and the
		// usual WAN input drop ("iifname wan0 ct state new drop"), so an
		// unsolicited packet never reaches conntrack confirmation and leaves
		// no state: the default home-router model (§4, "router firewall").
		{Name: ProfileLinuxMasquerade, Chain: []Behavior{masq}},
		// linux-masquerade-nofw: the same router without the WAN input
		// drop: an unsolicited packet leaves an UNREPLIED entry that makes a
		// later flow to its sender lose its port (the conntrack collision of
		// §4, which failed masq x masq punching 60-100 % of the time).
		{Name: ProfileLinuxMasqueradeNoFW, Chain: []Behavior{nofw}},
	}
}

// LookupProfile returns the preset called name (a deep copy, free to
// change), or ok=false if there is none.
func LookupProfile(name string) (Profile, bool) {
	for _, p := range presets() {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// ProfileNames returns the preset names in canonical order: public,
// full-cone, restricted-cone, port-restricted-cone, symmetric, cgnat,
// linux-masquerade, linux-masquerade-nofw. The slice is the caller's.
func ProfileNames() []string {
	ps := presets()
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

// Rank returns the position of name in the canonical order of
// ProfileNames, for ordering pairs of profiles (such as the cells of a
// NAT-pair matrix), or -1 if name is not a preset.
func Rank(name string) int {
	switch name { // a switch, not a table: Rank is used in sort comparators
	case ProfilePublic:
		return 0
	case ProfileFullCone:
		return 1
	case ProfileRestrictedCone:
		return 2
	case ProfilePortRestrictedCone:
		return 3
	case ProfileSymmetric:
		return 4
	case ProfileCGNAT:
		return 5
	case ProfileLinuxMasquerade:
		return 6
	case ProfileLinuxMasqueradeNoFW:
		return 7
	}
	return -1
}

// WithTimeout returns a copy of p (with its own Chain) in which every box's
// Timeout is d: the scenario's mapping timeout. A PerFlow box whose
// AssuredTimeout is shorter than d gets AssuredTimeout d too, so that an
// answered flow never expires sooner than an unanswered one. d <= 0 leaves
// the timeouts as they are (the presets' defaults).
func (p Profile) WithTimeout(d time.Duration) Profile {
	q := p
	q.Chain = append([]Behavior(nil), p.Chain...)
	if d <= 0 {
		return q
	}
	for i := range q.Chain {
		b := &q.Chain[i]
		b.Timeout = d
		if b.AssuredTimeout > 0 && b.AssuredTimeout < d {
			b.AssuredTimeout = d
		}
	}
	return q
}

// Validate reports whether every box of p's chain validates and ShareOuter
// makes sense (>= 0, and > 0 only with at least one box).
func (p Profile) Validate() error {
	if p.ShareOuter < 0 {
		return fmt.Errorf("natmodels: profile %q: ShareOuter is %d, must be >= 0", p.Name, p.ShareOuter)
	}
	if p.ShareOuter > 0 && len(p.Chain) == 0 {
		return fmt.Errorf("natmodels: profile %q: ShareOuter is %d but the chain has no box to share", p.Name, p.ShareOuter)
	}
	for i, b := range p.Chain {
		if err := b.Validate(); err != nil {
			return fmt.Errorf("natmodels: profile %q: box %d: %w", p.Name, i, err)
		}
	}
	return nil
}
