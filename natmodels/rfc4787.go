package natmodels

import (
	"net/netip"
	"time"
)

// This file is the RFC 4787 model (Behavior.PerFlow false): mappings keyed by
// inside endpoint and destination key, one mapping per external port, and
// filter permissions keyed by (external port, remote key).
//
// When the mapping depends on at least what the filter does (ADF with ADM or
// APDM, APDF with APDM), a mapping only ever sends to one filter key, the
// one in its own key, and has exactly one permission with its own lifetime;
// such a box keeps no permission table and compares with the mapping key.
//
// A permission is refreshed whenever its mapping is (outbound to that remote,
// or an inbound packet from it that passes with RefreshOnInbound), so it never
// outlives its mapping: when a port passes to a new mapping, every permission
// left from the old one is already dead and cannot let anyone in.

func (x *Box) mapKeyOf(src, dst netip.AddrPort) mapKey {
	var d ep
	switch x.b.Mapping {
	case AddressDependent:
		d = epOf(dst)
		d.p = 0
	case AddressPortDependent:
		d = epOf(dst)
	}
	return pairOf(epOf(src), d)
}

// permKeyOf returns the permission key for remote on port; it must not be
// called with EndpointIndependent filtering, which keeps no permissions.
func (x *Box) permKeyOf(port uint16, remote netip.AddrPort) permKey {
	r := epOf(remote)
	if x.b.Filtering == AddressDependent {
		r.p = 0
	}
	return portKeyOf(r, port)
}

// findMapping returns the mapping for k in a box with maps. A mapping that
// kept its inside port is found through byPort, which every mapping is in,
// so byKey only holds the mappings that did not (none at all on a
// port-preserving box with one host per port). A small box scans its keys
// instead (findSmallMapping).
func (x *Box) findMapping(k mapKey) (int32, bool) {
	if i, ok := x.byPort[k.a().p]; ok && x.mslots[i].key == k {
		return i, true
	}
	i, ok := x.byKey[k]
	return i, ok
}

// mapOfPort returns the mapping on external port p, live or not.
func (x *Box) mapOfPort(p uint16) (int32, bool) {
	if !x.big {
		return x.slotOfPort(p)
	}
	i, ok := x.byPort[p]
	return i, ok
}

// mapInside returns the inside endpoint of mapping i.
func (x *Box) mapInside(i int32) netip.AddrPort {
	if !x.big {
		return unpackAP(x.keys[i].a >> 16)
	}
	return x.mslots[i].key.a().addrPort()
}

// sentTo reports whether the destination key of mapping i, whose mapping
// depends on at least what the filter does, lets src in.
func (x *Box) sentTo(i int32, src netip.AddrPort) bool {
	if !x.big {
		r, ok := packAP(src)
		own := x.keys[i].b
		if x.b.Filtering == AddressDependent {
			r, own = r&^0xffff, own&^0xffff
		}
		return ok && r == own
	}
	r, own := epOf(src), x.mslots[i].key.b()
	if x.b.Filtering == AddressDependent {
		r.p, own.p = 0, 0
	}
	return r == own
}

func (x *Box) mapOut(now time.Duration, src, dst netip.AddrPort) (uint16, bool) {
	var i int32
	var ok bool
	if x.big {
		i, ok = x.bigMapOut(now, src, dst)
	} else {
		i, ok = x.smallMapOut(now, src, dst)
	}
	if !ok {
		return 0, false
	}
	m := &x.mslots[i]
	m.expiry = now + x.b.Timeout
	if x.b.Filtering != EndpointIndependent && x.b.Filtering > x.b.Mapping {
		x.setPerm(m.port, dst, m.expiry)
	}
	return m.port, true
}

// bigMapOut returns the live mapping for src and dst in a box with maps,
// making one if there is none (ok=false: no port is free).
func (x *Box) bigMapOut(now time.Duration, src, dst netip.AddrPort) (int32, bool) {
	k := x.mapKeyOf(src, dst)
	i, found := x.findMapping(k)
	if found {
		if now < x.mslots[i].expiry {
			return i, true
		}
		x.freeMapping(i)
	}
	return x.addMapping(now, k)
}

// smallMapOut is bigMapOut for a small box, which needs the full key only
// for a new mapping.
func (x *Box) smallMapOut(now time.Duration, src, dst netip.AddrPort) (int32, bool) {
	i, found := x.findSmallMapping(src, dst)
	if found {
		if now < x.mslots[i].expiry {
			return i, true
		}
		x.freeMapping(i)
	}
	return x.addMapping(now, x.mapKeyOf(src, dst))
}

// addMapping makes a mapping for k on a port from allocPort.
func (x *Box) addMapping(now time.Duration, k mapKey) (int32, bool) {
	port, ok := x.allocPort(now, k.a().p, ep{})
	if !ok {
		return 0, false
	}
	return x.newMapping(now, k, port), true
}

func (x *Box) mapIn(now time.Duration, src netip.AddrPort, port uint16) (netip.AddrPort, Verdict) {
	i, ok := x.mapOfPort(port)
	if !ok {
		return netip.AddrPort{}, NoMapping
	}
	m := &x.mslots[i]
	if now >= m.expiry {
		x.freeMapping(i)
		return netip.AddrPort{}, NoMapping
	}
	switch {
	case x.b.Filtering == EndpointIndependent:
	case x.b.Filtering <= x.b.Mapping:
		if !x.sentTo(i, src) {
			return netip.AddrPort{}, Filtered
		}
	default:
		e, j, ok := x.findPerm(port, src)
		if !ok || now >= e {
			return netip.AddrPort{}, Filtered
		}
		if x.b.RefreshOnInbound {
			if j >= 0 {
				x.permExps[j] = now + x.b.Timeout
			} else {
				x.perms[x.permKeyOf(port, src)] = now + x.b.Timeout
			}
		}
	}
	if x.b.RefreshOnInbound {
		m.expiry = now + x.b.Timeout
	}
	return x.mapInside(i), Pass
}

// mapPortFree reports whether no live mapping holds port, freeing a dead one
// that does.
func (x *Box) mapPortFree(now time.Duration, port uint16) bool {
	i, ok := x.mapOfPort(port)
	if !ok {
		return true
	}
	if now < x.mslots[i].expiry {
		return false
	}
	x.freeMapping(i)
	return true
}

func (x *Box) newMapping(now time.Duration, k mapKey, port uint16) int32 {
	i, ok := x.takeSlot()
	if !ok {
		i = int32(len(x.mslots))
		x.mslots = append(x.mslots, mapping{})
	}
	m := &x.mslots[i]
	*m = mapping{key: k, expiry: now + x.b.Timeout, port: port, used: true}
	x.armSweep(now)
	if !x.big {
		if sk, ok := mapSkey(m); ok && len(x.mslots) <= smallMax {
			x.setKey(i, sk)
		} else {
			x.grow() // indexes m too
		}
		return i
	}
	x.byPort[port] = i
	if port != k.a().p {
		if x.byKey == nil {
			x.byKey = make(map[mapKey]int32)
		}
		x.byKey[k] = i
	}
	return i
}

func (x *Box) freeMapping(i int32) {
	m := &x.mslots[i]
	if !x.big {
		x.keys[i] = unusedKey
	} else {
		if m.port != m.key.a().p {
			delete(x.byKey, m.key)
		}
		if j, ok := x.byPort[m.port]; ok && j == i {
			delete(x.byPort, m.port)
		}
	}
	*m = mapping{}
	x.release(i)
}

// compactMappings drops the unused slots of the slab (compact then indexes it).
func (x *Box) compactMappings() {
	slots := make([]mapping, 0, x.used)
	for _, m := range x.mslots {
		if m.used {
			slots = append(slots, m)
		}
	}
	x.mslots = slots
}
