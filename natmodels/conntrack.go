package natmodels

import (
	"net/netip"
	"time"
)

// This file is the conntrack model (Behavior.PerFlow true), after Linux
// nf_conntrack + nf_nat masquerade:
//
//   - a flow is (inside endpoint, remote endpoint) with its own timer:
//     Timeout until a reply has passed inbound, AssuredTimeout after (when
//     set); every packet of the flow, either way, restarts the timer (inbound
//     ones only with RefreshOnInbound);
//   - outside, a flow is known by its reply tuple (remote -> public:port);
//     nf_nat only needs that tuple to be unique, so a new flow keeps its inside
//     port unless another live entry holds (remote -> public:port), and two
//     flows from different inside endpoints may share an external port toward
//     different remotes;
//   - an inbound packet passes iff it matches the reply tuple of a live
//     outbound-created flow (APDF);
//   - with InboundCreatesFlow, an inbound packet that matches nothing leaves an
//     unsolicited (UNREPLIED) entry holding its tuple for Timeout, refreshed by
//     every later packet with that tuple; it lets nothing in, but a later
//     outbound flow to that remote cannot keep its port (the conntrack
//     collision of shared/research/emulation-feasibility.md §4).
//
// Outbound-created flows on one external port are chained in a doubly linked
// list (prev/next slab indices, head in x.ports or, in a small box, the
// flow on the port with no prev), newest first, for Lookup and for telling
// NoMapping from Filtered.

func (x *Box) flowExpiry(f *flow) time.Duration {
	if f.assured && x.b.AssuredTimeout > 0 {
		return f.last + x.b.AssuredTimeout
	}
	return f.last + x.b.Timeout
}

// findFlow returns the outbound-created flow for k in a box with maps. A
// flow that kept its inside port is found by its reply tuple, which every
// entry has, so flows only holds the flows that did not (none at all on a
// masquerading router without collisions). A small box scans its keys
// instead (findSmallFlow).
func (x *Box) findFlow(k flowKey) (int32, bool) {
	if i, ok := x.tuples[portKeyOf(k.b(), k.a().p)]; ok {
		if f := &x.fslots[i]; !f.unsolicited && f.key == k {
			return i, true
		}
	}
	i, ok := x.flows[k]
	return i, ok
}

// flowInside returns the inside endpoint of outbound-created flow i.
func (x *Box) flowInside(i int32) netip.AddrPort {
	if !x.big {
		return unpackAP(x.keys[i].b)
	}
	return x.fslots[i].key.a().addrPort()
}

// flowFrom returns the entry, live or not, whose reply tuple is
// (src -> public:port).
func (x *Box) flowFrom(src netip.AddrPort, port uint16) (int32, bool) {
	if !x.big {
		c, ok := packAP(src)
		if !ok {
			return none, false
		}
		return x.slotOfA(c<<16 | uint64(port))
	}
	i, ok := x.tuples[portKeyOf(epOf(src), port)]
	return i, ok
}

// flowOfTuple returns the entry, live or not, whose reply tuple is tk.
func (x *Box) flowOfTuple(tk tupleKey) (int32, bool) {
	if !x.big {
		c, ok := tk.pack()
		if !ok {
			return none, false
		}
		return x.slotOfA(c)
	}
	i, ok := x.tuples[tk]
	return i, ok
}

// flowHead returns the newest outbound-created flow on port, or none.
func (x *Box) flowHead(port uint16) int32 {
	if !x.big {
		return x.smallFlowHead(port)
	}
	if h, ok := x.ports[port]; ok {
		return h
	}
	return none
}

func (x *Box) flowOut(now time.Duration, src, dst netip.AddrPort) (uint16, bool) {
	var i int32
	var found bool
	if x.big {
		k := pairOf(epOf(src), epOf(dst))
		if i, found = x.findFlow(k); !found {
			return x.addFlow(now, k)
		}
	} else if i, found = x.findSmallFlow(src, dst); !found {
		return x.addFlow(now, pairOf(epOf(src), epOf(dst)))
	}
	f := &x.fslots[i]
	if now < x.flowExpiry(f) {
		f.last = now
		return f.port, true
	}
	x.freeFlow(i)
	return x.addFlow(now, pairOf(epOf(src), epOf(dst)))
}

// addFlow makes an outbound-created flow for k on a port from allocPort.
func (x *Box) addFlow(now time.Duration, k flowKey) (uint16, bool) {
	port, ok := x.allocPort(now, k.a().p, k.b())
	if !ok {
		return 0, false
	}
	x.newFlow(now, k, port, false)
	return port, true
}

func (x *Box) flowIn(now time.Duration, src netip.AddrPort, port uint16) (netip.AddrPort, Verdict) {
	if i, ok := x.flowFrom(src, port); ok {
		f := &x.fslots[i]
		if now < x.flowExpiry(f) {
			if !f.unsolicited {
				f.assured = true
				if x.b.RefreshOnInbound {
					f.last = now
				}
				return x.flowInside(i), Pass
			}
			f.last = now // conntrack refreshes an entry on each of its packets
			return netip.AddrPort{}, x.portVerdict(now, port)
		}
		x.freeFlow(i)
	}
	v := x.portVerdict(now, port)
	if x.b.InboundCreatesFlow {
		x.newFlow(now, pairOf(ep{}, epOf(src)), port, true)
	}
	return netip.AddrPort{}, v
}

// portVerdict is the drop reason for an inbound packet on port that matched
// no live flow: Filtered if some live outbound-created flow uses the port.
func (x *Box) portVerdict(now time.Duration, port uint16) Verdict {
	if !x.big {
		for i, k := range x.keys {
			if uint16(k.a) == port && k.b>>48 == 0 && now < x.flowExpiry(&x.fslots[i]) {
				return Filtered
			}
		}
		return NoMapping
	}
	for i := x.flowHead(port); i != none; i = x.fslots[i].next {
		if now < x.flowExpiry(&x.fslots[i]) {
			return Filtered
		}
	}
	return NoMapping
}

func (x *Box) flowLookup(now time.Duration, port uint16) (netip.AddrPort, bool) {
	if !x.big {
		if inside, ok, exact := x.smallFlowLookup(now, port); exact {
			return inside, ok
		}
	}
	best := none
	for i := x.flowHead(port); i != none; i = x.fslots[i].next {
		f := &x.fslots[i]
		if now < x.flowExpiry(f) && (best == none || f.last > x.fslots[best].last) {
			best = i
		}
	}
	if best == none {
		return netip.AddrPort{}, false
	}
	return x.flowInside(best), true
}

// tupleFree reports whether no live entry holds the reply tuple tk, freeing a
// dead one that does.
func (x *Box) tupleFree(now time.Duration, tk tupleKey) bool {
	i, ok := x.flowOfTuple(tk)
	if !ok {
		return true
	}
	if now < x.flowExpiry(&x.fslots[i]) {
		return false
	}
	x.freeFlow(i)
	return true
}

// newFlow adds a flow for k on port: an outbound-created one for k.a(), or
// (unsolicited) an entry that only holds the reply tuple (k.b() -> port).
func (x *Box) newFlow(now time.Duration, k flowKey, port uint16, unsolicited bool) {
	i, ok := x.takeSlot()
	if !ok {
		i = int32(len(x.fslots))
		x.fslots = append(x.fslots, flow{})
	}
	f := &x.fslots[i]
	*f = flow{
		key: k, last: now,
		prev: none, next: none, port: port, unsolicited: unsolicited, used: true,
	}
	x.armSweep(now)
	if !unsolicited {
		if h := x.flowHead(port); h != none {
			f.next = h
			x.fslots[h].prev = i
		}
	}
	if !x.big {
		if sk, ok := flowSkey(f); ok && len(x.fslots) <= smallMax {
			x.setKey(i, sk)
		} else {
			x.grow() // indexes f too
		}
		return
	}
	x.tuples[f.tuple()] = i
	if !unsolicited {
		if port != k.a().p {
			if x.flows == nil {
				x.flows = make(map[flowKey]int32)
			}
			x.flows[k] = i
		}
		x.ports[port] = i
	}
}

func (x *Box) freeFlow(i int32) {
	f := &x.fslots[i]
	if x.big {
		delete(x.tuples, f.tuple())
		if !f.unsolicited && f.port != f.key.a().p {
			delete(x.flows, f.key)
		}
	} else {
		x.keys[i] = unusedKey
	}
	if !f.unsolicited {
		switch {
		case f.prev != none:
			x.fslots[f.prev].next = f.next
		case !x.big: // the next flow, if any, becomes the head
		case f.next != none:
			x.ports[f.port] = f.next
		default:
			delete(x.ports, f.port)
		}
		if f.next != none {
			x.fslots[f.next].prev = f.prev
		}
	}
	*f = flow{}
	x.release(i)
}

// compactFlows drops the unused slots of the slab (compact then indexes it).
func (x *Box) compactFlows() {
	remap := make([]int32, len(x.fslots))
	slots := make([]flow, 0, x.used)
	for i, f := range x.fslots {
		remap[i] = none
		if f.used {
			remap[i] = int32(len(slots))
			slots = append(slots, f)
		}
	}
	for i := range slots {
		f := &slots[i]
		if f.prev != none {
			f.prev = remap[f.prev]
		}
		if f.next != none {
			f.next = remap[f.next]
		}
	}
	x.fslots = slots
}
