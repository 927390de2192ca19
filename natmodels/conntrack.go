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
// list (prev/next slab indices, head in x.ports), newest first, for Lookup
// and for telling NoMapping from Filtered.

func (x *Box) flowExpiry(f *flow) time.Duration {
	if f.assured && x.b.AssuredTimeout > 0 {
		return f.last + x.b.AssuredTimeout
	}
	return f.last + x.b.Timeout
}

// findFlow returns the outbound-created flow for k. A flow that kept its
// inside port is found by its reply tuple, which every entry has, so flows
// only holds the flows that did not (none at all on a masquerading router
// without collisions).
func (x *Box) findFlow(k flowKey) (int32, bool) {
	if i, ok := x.tuples[portKeyOf(k.b(), k.a().p)]; ok {
		if f := &x.fslots[i]; !f.unsolicited && f.key == k {
			return i, true
		}
	}
	i, ok := x.flows[k]
	return i, ok
}

func (x *Box) flowOut(now time.Duration, src, dst netip.AddrPort) (uint16, bool) {
	r := epOf(dst)
	k := pairOf(epOf(src), r)
	if i, ok := x.findFlow(k); ok {
		f := &x.fslots[i]
		if now < x.flowExpiry(f) {
			f.last = now
			return f.port, true
		}
		x.freeFlow(i)
	}
	port, ok := x.allocPort(now, src.Port(), r)
	if !ok {
		return 0, false
	}
	x.newFlow(now, k, port, false)
	return port, true
}

func (x *Box) flowIn(now time.Duration, src netip.AddrPort, port uint16) (netip.AddrPort, Verdict) {
	r := epOf(src)
	tk := portKeyOf(r, port)
	if i, ok := x.tuples[tk]; ok {
		f := &x.fslots[i]
		if now < x.flowExpiry(f) {
			if !f.unsolicited {
				f.assured = true
				if x.b.RefreshOnInbound {
					f.last = now
				}
				return f.key.a().addrPort(), Pass
			}
			f.last = now // conntrack refreshes an entry on each of its packets
			return netip.AddrPort{}, x.portVerdict(now, port)
		}
		x.freeFlow(i)
	}
	v := x.portVerdict(now, port)
	if x.b.InboundCreatesFlow {
		x.newFlow(now, pairOf(ep{}, r), port, true)
	}
	return netip.AddrPort{}, v
}

// portVerdict is the drop reason for an inbound packet on port that matched
// no live flow: Filtered if some live outbound-created flow uses the port.
func (x *Box) portVerdict(now time.Duration, port uint16) Verdict {
	i, ok := x.ports[port]
	if !ok {
		return NoMapping
	}
	for ; i != none; i = x.fslots[i].next {
		if now < x.flowExpiry(&x.fslots[i]) {
			return Filtered
		}
	}
	return NoMapping
}

func (x *Box) flowLookup(now time.Duration, port uint16) (netip.AddrPort, bool) {
	i, ok := x.ports[port]
	if !ok {
		return netip.AddrPort{}, false
	}
	best := none
	for ; i != none; i = x.fslots[i].next {
		f := &x.fslots[i]
		if now < x.flowExpiry(f) && (best == none || f.last > x.fslots[best].last) {
			best = i
		}
	}
	if best == none {
		return netip.AddrPort{}, false
	}
	return x.fslots[best].key.a().addrPort(), true
}

// tupleFree reports whether no live entry holds the reply tuple tk, freeing a
// dead one that does.
func (x *Box) tupleFree(now time.Duration, tk tupleKey) bool {
	i, ok := x.tuples[tk]
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
	x.fslots[i] = flow{
		key: k, last: now,
		prev: none, next: none, port: port, unsolicited: unsolicited, used: true,
	}
	if x.tuples == nil {
		x.tuples = make(map[tupleKey]int32)
	}
	x.tuples[portKeyOf(k.b(), port)] = i
	if !unsolicited {
		if port != k.a().p {
			if x.flows == nil {
				x.flows = make(map[flowKey]int32)
			}
			x.flows[k] = i
		}
		if x.ports == nil {
			x.ports = make(map[uint16]int32)
		}
		if h, ok := x.ports[port]; ok {
			x.fslots[i].next = h
			x.fslots[h].prev = i
		}
		x.ports[port] = i
	}
	x.armSweep(now)
}

func (x *Box) freeFlow(i int32) {
	f := &x.fslots[i]
	delete(x.tuples, f.tuple())
	if !f.unsolicited {
		if f.port != f.key.a().p {
			delete(x.flows, f.key)
		}
		switch {
		case f.prev != none:
			x.fslots[f.prev].next = f.next
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
	var flows map[flowKey]int32
	tuples := make(map[tupleKey]int32, x.used)
	ports := make(map[uint16]int32)
	for i := range slots {
		f := &slots[i]
		if f.prev != none {
			f.prev = remap[f.prev]
		}
		if f.next != none {
			f.next = remap[f.next]
		}
		tuples[f.tuple()] = int32(i)
		if !f.unsolicited {
			if f.port != f.key.a().p {
				if flows == nil {
					flows = make(map[flowKey]int32)
				}
				flows[f.key] = int32(i)
			}
			if f.prev == none {
				ports[f.port] = int32(i)
			}
		}
	}
	x.fslots, x.flows, x.tuples, x.ports = slots, flows, tuples, ports
}
