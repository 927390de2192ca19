// Package natmodels holds NAT behaviour as pure logic: RFC 4787 mapping and
// filtering, port allocation, per-mapping idle timeouts, hairpinning, chains
// of NATs, and named presets. It knows nothing of any event loop: the
// simulator asks a Box "this packet leaves (or arrives): translate or drop?"
// and passes the current virtual time in.
//
// Driver contract (what the simulator does with a Box):
//
//  1. A packet from an inside endpoint src to dst crosses a box with
//     mapped, ok := box.Outbound(now, src, dst); !ok means no external port
//     was free and the packet is dropped. The packet continues with source
//     mapped. For a chain (Profile.Chain, inner to outer) repeat outwards,
//     each box seeing the previous box's mapped source.
//  2. A packet from src arriving at one of a box's external endpoints dst is
//     passed to inside, v := box.Inbound(now, src, dst); it continues to
//     inside if v == Pass, else it is dropped (v says why). For a chain
//     repeat inwards; src is unchanged, only the destination is translated.
//  3. Hairpinning: if dst of an outbound packet is on box.Public() itself,
//     the packet does not leave. If box.Behavior().Hairpin, call
//     box.Inbound(now, mapped, dst) with the source Outbound returned and
//     continue inwards; otherwise drop it.
//  4. now is virtual time since the start of the run and never decreases
//     from one call to the next on the same box. Boxes never read a clock,
//     start goroutines or share state; each owns the *rand.Rand it is given
//     (one stream per box), so results depend only on the seed and the calls.
//  5. Box.Lookup and Box.Len are for measurement and change nothing.
package natmodels

import "time"

// Dependency says what a NAT's mapping or filtering depends on (RFC 4787 §4.1, §5).
type Dependency int

// The three RFC 4787 classes, for mapping and filtering alike.
const (
	EndpointIndependent  Dependency = iota // EIM / EIF
	AddressDependent                       // ADM / ADF
	AddressPortDependent                   // APDM / APDF
)

// PortAlloc is how a NAT picks the external port of a new mapping (RFC 4787 §4.2.1).
type PortAlloc int

// Port allocation strategies.
const (
	PortPreserve   PortAlloc = iota // keep the internal port when free, else pick randomly
	PortSequential                  // next free port after the last one handed out
	PortRandom                      // uniformly random free port
)

// Verdict is why an inbound packet was (not) let through.
type Verdict int

// Inbound verdicts.
const (
	Pass      Verdict = iota // translated and delivered inside
	NoMapping                // no live mapping for the destination port
	Filtered                 // a mapping exists but its filter refuses the source
)

// Behavior is the complete description of one NAT box.
type Behavior struct {
	// Mapping is what a mapping's external port depends on besides the
	// inside endpoint. A PerFlow box ignores it (its mapping behaviour
	// emerges from PortAlloc); the presets then set what is measured.
	Mapping Dependency
	// Filtering is who may send in through a live mapping: anyone (EIF),
	// addresses the mapping has sent to (ADF), or endpoints it has sent to
	// (APDF). PerFlow needs AddressPortDependent.
	Filtering Dependency
	// PortAlloc is how a new mapping's external port is chosen.
	PortAlloc PortAlloc
	// Timeout is the idle timeout of a mapping (and of the filter state that
	// goes with it), refreshed by outbound traffic. Zero means the default of
	// the preset the Behavior came from; it must be > 0 once in a Box.
	Timeout time.Duration
	// RefreshOnInbound also refreshes a mapping on inbound traffic that passes.
	RefreshOnInbound bool
	// Hairpin lets a packet from inside addressed to one of this box's own
	// external endpoints loop back in (RFC 4787 REQ-9).
	Hairpin bool
	// AssuredTimeout, when > 0, is the timeout of flow state once traffic has
	// been seen in both directions (Linux conntrack's udp_timeout_stream);
	// Timeout then applies only to flows that never saw a reply.
	AssuredTimeout time.Duration
	// PerFlow keeps state per (internal endpoint, remote endpoint) flow, each
	// flow with its own timer, as Linux conntrack does; mapping behaviour then
	// emerges from port preservation.
	PerFlow bool
	// InboundCreatesFlow: an unsolicited inbound packet creates a flow entry
	// (an UNREPLIED conntrack entry) that holds its reply tuple for Timeout,
	// so a later outbound flow to that remote cannot keep its port (the
	// conntrack collision measured in shared research). False when the router
	// drops new inbound traffic before conntrack confirms it.
	InboundCreatesFlow bool
}
