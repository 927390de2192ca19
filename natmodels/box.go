package natmodels

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"
)

// The external port range from which a Box draws ports that it does not
// preserve: every unprivileged port, as Linux masquerade does for a source
// port >= 1024. PortPreserve keeps an inside port only inside this range.
const (
	DefaultPortLow  = 1024
	DefaultPortHigh = 65535
)

const (
	// never is a time no run reaches: the sweep deadline of an empty box.
	never = time.Duration(math.MaxInt64)
	// randomTries is how many uniform draws randomPort makes before it falls
	// back to a scan from a random start (only a nearly full range gets there).
	randomTries = 32
	// compactMin is the slab length below which a sweep never compacts.
	compactMin = 64
	// none marks the end of a flow list.
	none = int32(-1)
)

// ep is an endpoint in integers: the address as two 64-bit halves and the
// port. An IPv4 address a.b.c.d is kept as ::a.b.c.d (hi 0, lo < 2^32), any
// other address in its 16-byte form, so IPv4 and IPv4-mapped IPv6 addresses
// stay apart and an endpoint can be rebuilt from it. Zones are dropped, and
// IPv6 addresses in ::/96 (the unspecified address and the deprecated
// IPv4-compatible ones) come back as IPv4; none of them is routable.
// (Integers, not a [16]byte: building a byte array per packet cost more
// than the map lookup it keys.)
type ep struct {
	hi, lo uint64
	p      uint16
}

func epOf(ap netip.AddrPort) ep {
	a := ap.Addr()
	if a.Is4() {
		v := a.As4()
		return ep{lo: uint64(binary.BigEndian.Uint32(v[:])), p: ap.Port()}
	}
	b := a.As16()
	return ep{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:]), p: ap.Port()}
}

// addrPort rebuilds the endpoint e was made from (see ep).
func (e ep) addrPort() netip.AddrPort {
	if e.hi == 0 && e.lo>>32 == 0 {
		var v [4]byte
		binary.BigEndian.PutUint32(v[:], uint32(e.lo))
		return netip.AddrPortFrom(netip.AddrFrom4(v), e.p)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], e.hi)
	binary.BigEndian.PutUint64(b[8:], e.lo)
	return netip.AddrPortFrom(netip.AddrFrom16(b), e.p)
}

// pairKey is two endpoints a and b as a padding-free map key (hashed as one
// block of memory).
type pairKey struct {
	aHi, aLo, bHi, bLo uint64
	ports              uint64 // a.p | b.p<<16
}

func pairOf(a, b ep) pairKey {
	return pairKey{aHi: a.hi, aLo: a.lo, bHi: b.hi, bLo: b.lo, ports: uint64(a.p) | uint64(b.p)<<16}
}

func (k pairKey) a() ep { return ep{hi: k.aHi, lo: k.aLo, p: uint16(k.ports)} }
func (k pairKey) b() ep { return ep{hi: k.bHi, lo: k.bLo, p: uint16(k.ports >> 16)} }

// portKey is a remote endpoint and one of the box's external ports as a
// padding-free map key.
type portKey struct {
	hi, lo uint64
	ports  uint64 // remote port | external port<<16
}

func portKeyOf(r ep, port uint16) portKey {
	return portKey{hi: r.hi, lo: r.lo, ports: uint64(r.p) | uint64(port)<<16}
}

// Box is one NAT box: its mapping table, filter state and port allocator.
//
// A Box is pure and single-threaded: it is not safe for concurrent use, it
// never reads a clock (time is the now argument: virtual time since the run's
// start, which must never go backwards between calls) and its only source of
// randomness is the *rand.Rand given to NewBox. The same Behavior, address,
// seed and sequence of calls always give the same results.
//
// State expires lazily: a call that meets a dead mapping or flow frees it,
// and Outbound and Inbound sweep the whole box at most once per Timeout of
// virtual time (when now reaches the sweep deadline), so dead state is freed
// within about one Timeout of its death on any box that is still used. A box
// that no longer holds anything drops its tables; an empty box costs only the
// Box struct itself (a few hundred bytes). A box with few entries keeps no
// maps: it finds them by scanning short slices of packed IPv4 keys, and
// switches to maps only when it grows (or meets an IPv6 endpoint).
//
// Two models share the type. Without Behavior.PerFlow it is an RFC 4787 NAT:
// a mapping per (inside endpoint, destination key), one mapping per external
// port, and filter permissions per (mapping, remote key). With PerFlow it is
// Linux conntrack + nf_nat: a flow per (inside endpoint, remote endpoint)
// with its own timer, identified on the outside by its reply tuple
// (remote -> public:port); an external port can carry several flows as long
// as their reply tuples differ.
type Box struct {
	b      Behavior
	public netip.Addr
	pub    ep // public as an ep, port 0
	r      *rand.Rand

	lo, hi  uint16 // external port range, inclusive
	seqNext uint16 // PortSequential: first port to try next
	seqSet  bool   // seqNext has been drawn
	sweepAt time.Duration

	used int     // slab entries in use (mslots or fslots)
	peak int     // largest used since the tables were made or compacted
	free []int32 // free slab indices, a stack

	// big says the slab is indexed by the maps below; otherwise (a small
	// box, see small.go) by keys, which is parallel to the slab.
	big  bool
	keys []skey

	// RFC 4787 model (PerFlow false).
	mslots   []mapping
	byKey    map[mapKey]int32          // mappings whose port is not their inside port
	byPort   map[uint16]int32          // every mapping, by external port
	perms    map[permKey]time.Duration // expiry of a filter permission; nil while permKeys holds them
	permKeys []uint64                  // a small box's permissions, packed (see small.go)
	permExps []time.Duration           // their expiries
	permPeak int                       // largest number of permissions since perms was made

	// Conntrack model (PerFlow true).
	fslots []flow
	flows  map[flowKey]int32  // outbound-created flows whose port is not their inside port
	tuples map[tupleKey]int32 // every flow by reply tuple (remote, port)
	ports  map[uint16]int32   // head of the list of outbound-created flows on a port
}

// mapKey identifies an RFC 4787 mapping: a is the inside endpoint, b the
// part of the destination the mapping depends on (zero for EIM, the address
// for ADM, address and port for APDM).
type mapKey = pairKey

// permKey is a filter permission: the part of the remote the filter depends
// on (address for ADF, address and port for APDF) and the mapping's
// external port.
type permKey = portKey

// mapping is an RFC 4787 mapping; its inside endpoint is key.a().
type mapping struct {
	key    mapKey
	expiry time.Duration
	port   uint16
	used   bool
}

// flowKey identifies a conntrack flow: a is the inside endpoint, b the remote.
type flowKey = pairKey

// tupleKey is a flow's reply tuple: remote -> public:port.
type tupleKey = portKey

// flow is a conntrack entry: key (inside, remote) (inside zero for an
// unsolicited entry) and external port.
type flow struct {
	key         flowKey
	last        time.Duration // last packet that refreshed the flow
	prev, next  int32         // list of outbound-created flows on port
	port        uint16
	assured     bool // a reply has passed inbound
	unsolicited bool // created by an inbound packet (InboundCreatesFlow)
	used        bool // the slab entry is in use
}

// tuple returns the flow's reply tuple.
func (f *flow) tuple() tupleKey { return portKeyOf(f.key.b(), f.port) }

// NewBox returns an empty NAT box with Behavior b and public address public.
// All its random choices (external ports) are drawn from r, which the box
// keeps and must be the only one to use. It fails if b does not validate
// (see Behavior.Validate), public is not a valid address, or r is nil.
func NewBox(b Behavior, public netip.Addr, r *rand.Rand) (*Box, error) {
	return newBox(b, public, r, DefaultPortLow, DefaultPortHigh)
}

// newBox is NewBox with an explicit external port range [lo, hi] (tests use
// tiny ranges to exhaust them).
func newBox(b Behavior, public netip.Addr, r *rand.Rand, lo, hi uint16) (*Box, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	switch {
	case !public.IsValid():
		return nil, errors.New("natmodels: NewBox: public address is not valid")
	case r == nil:
		return nil, errors.New("natmodels: NewBox: rand is nil")
	case lo == 0 || lo > hi:
		return nil, errors.New("natmodels: NewBox: bad port range")
	}
	return &Box{b: b, public: public, pub: epOf(netip.AddrPortFrom(public, 0)), r: r, lo: lo, hi: hi, sweepAt: never}, nil
}

// Public returns the box's public (external) address.
func (x *Box) Public() netip.Addr { return x.public }

// Behavior returns the behaviour the box was built with. The simulator reads
// Hairpin from it to decide whether to loop a packet back (see Outbound).
func (x *Box) Behavior() Behavior { return x.b }

// Outbound translates a packet leaving the inside from src to dst and
// returns its new source, public:port. It creates or refreshes the mapping
// (or flow) and the filter permission for dst. ok is false only when no
// external port is free for a new mapping; the packet is then dropped.
//
// Hairpinning is the caller's job: when dst.Addr() is x.Public(), the caller
// drops the packet unless x.Behavior().Hairpin, and otherwise delivers it by
// calling x.Inbound(now, mapped, dst) with the mapped source this call
// returned. The box does not route; the only thing it does differently for
// its own address is that a PerFlow box never gives a hairpinned flow the
// very port it is addressed to (that reply tuple would be the flow's own).
func (x *Box) Outbound(now time.Duration, src, dst netip.AddrPort) (mapped netip.AddrPort, ok bool) {
	if now >= x.sweepAt {
		x.sweep(now)
	}
	var port uint16
	if x.b.PerFlow {
		port, ok = x.flowOut(now, src, dst)
	} else {
		port, ok = x.mapOut(now, src, dst)
	}
	if !ok {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(x.public, port), true
}

// Inbound handles a packet from outside src arriving at dst, one of this
// box's external endpoints. It returns the inside endpoint to deliver to and
// Pass, or the reason for the drop: NoMapping when no live mapping (or flow)
// holds dst's port or dst is not on x.Public(), Filtered when one does but
// its filter refuses src. A passing packet refreshes the mapping and the
// permission for src only if Behavior.RefreshOnInbound. src may be one of
// the box's own external endpoints (hairpinning).
//
// PerFlow boxes also mark a flow assured when a reply passes, and with
// InboundCreatesFlow a dropped packet leaves an unreplied flow entry for its
// reply tuple (src -> dst) that lives for Timeout and is refreshed by every
// later packet with the same tuple, as conntrack does.
func (x *Box) Inbound(now time.Duration, src, dst netip.AddrPort) (inside netip.AddrPort, v Verdict) {
	if now >= x.sweepAt {
		x.sweep(now)
	}
	if dst.Addr() != x.public {
		return netip.AddrPort{}, NoMapping
	}
	if x.b.PerFlow {
		return x.flowIn(now, src, dst.Port())
	}
	return x.mapIn(now, src, dst.Port())
}

// Lookup returns the inside endpoint behind the external endpoint public if a
// live mapping holds it, without changing any state (for measurement). For a
// PerFlow box whose port carries flows from several inside endpoints it
// returns the one with the most recent activity (the newest on a tie).
func (x *Box) Lookup(now time.Duration, public netip.AddrPort) (netip.AddrPort, bool) {
	if public.Addr() != x.public {
		return netip.AddrPort{}, false
	}
	if x.b.PerFlow {
		return x.flowLookup(now, public.Port())
	}
	i, ok := x.mapOfPort(public.Port())
	if !ok || now >= x.mslots[i].expiry {
		return netip.AddrPort{}, false
	}
	return x.mapInside(i), true
}

// Len returns the number of live mappings at now: RFC 4787 mappings, or for
// a PerFlow box the live flows created by outbound traffic (unsolicited
// entries are not mappings). It changes nothing and costs O(state).
func (x *Box) Len(now time.Duration) int {
	n := 0
	if x.b.PerFlow {
		for i := range x.fslots {
			f := &x.fslots[i]
			if f.used && !f.unsolicited && now < x.flowExpiry(f) {
				n++
			}
		}
		return n
	}
	for i := range x.mslots {
		if m := &x.mslots[i]; m.used && now < m.expiry {
			n++
		}
	}
	return n
}

// sweep frees every dead mapping, flow and permission, drops the tables when
// the box is empty, compacts them when they are mostly empty, and sets the
// next sweep one Timeout later. Slabs are walked by index and maps are only
// deleted from, so the result does not depend on map iteration order.
func (x *Box) sweep(now time.Duration) {
	if x.b.PerFlow {
		for i := range x.fslots {
			if f := &x.fslots[i]; f.used && now >= x.flowExpiry(f) {
				x.freeFlow(int32(i))
			}
		}
	} else {
		for i := range x.mslots {
			if m := &x.mslots[i]; m.used && now >= m.expiry {
				x.freeMapping(int32(i))
			}
		}
		x.sweepPerms(now)
	}
	if x.used == 0 {
		x.reset()
		return
	}
	if (x.peak > compactMin && x.used*4 < x.peak) || (x.big && x.used <= smallMax/2 && x.slabCompact()) {
		x.compact()
	}
	x.sweepAt = now + x.b.Timeout
}

// Reset forgets every mapping, flow and filter permission at once, as a box
// that is switched off and on again does: afterwards every inbound packet
// finds no mapping until the inside sends again. The port allocator's random
// stream and sequential position carry on, so a reset box stays
// deterministic.
func (x *Box) Reset() { x.reset() }

// reset drops every table; the sequential allocator keeps its position.
func (x *Box) reset() {
	x.used, x.peak, x.permPeak = 0, 0, 0
	x.free = nil
	x.big, x.keys = false, nil
	x.mslots, x.byKey, x.byPort = nil, nil, nil
	x.perms, x.permKeys, x.permExps = nil, nil, nil
	x.fslots, x.flows, x.tuples, x.ports = nil, nil, nil, nil
	x.sweepAt = never
}

// armSweep schedules the first sweep when an empty box gets its first entry.
func (x *Box) armSweep(now time.Duration) {
	if x.sweepAt == never {
		x.sweepAt = now + x.b.Timeout
	}
}

// takeSlot counts a new entry and returns a free slab index from the free
// list, or ok=false when the caller must append to its slab.
func (x *Box) takeSlot() (i int32, ok bool) {
	x.used++
	if x.used > x.peak {
		x.peak = x.used
	}
	if n := len(x.free); n > 0 {
		i = x.free[n-1]
		x.free = x.free[:n-1]
		return i, true
	}
	return 0, false
}

func (x *Box) release(i int32) {
	x.used--
	x.free = append(x.free, i)
}

// compact rebuilds the slab with only the entries in use, in slab order,
// and its tables (compact keys if it now fits a small box, see small.go), so
// that a box that once held many mappings gives the memory back.
func (x *Box) compact() {
	if x.b.PerFlow {
		x.compactFlows()
	} else {
		x.compactMappings()
	}
	x.free = nil
	x.peak = x.used
	x.index()
}
