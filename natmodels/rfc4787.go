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

// findMapping returns the mapping for k. A mapping that kept its inside
// port is found through byPort, which every mapping is in, so byKey only
// holds the mappings that did not (none at all on a port-preserving box
// with one host per port).
func (x *Box) findMapping(k mapKey) (int32, bool) {
	if i, ok := x.byPort[k.a().p]; ok && x.mslots[i].key == k {
		return i, true
	}
	i, ok := x.byKey[k]
	return i, ok
}

func (x *Box) mapOut(now time.Duration, src, dst netip.AddrPort) (uint16, bool) {
	k := x.mapKeyOf(src, dst)
	i, found := x.findMapping(k)
	if found && now >= x.mslots[i].expiry {
		x.freeMapping(i)
		found = false
	}
	if !found {
		port, ok := x.allocPort(now, src.Port(), ep{})
		if !ok {
			return 0, false
		}
		i = x.newMapping(now, k, port)
	}
	m := &x.mslots[i]
	m.expiry = now + x.b.Timeout
	if x.b.Filtering != EndpointIndependent && x.b.Filtering > x.b.Mapping {
		if x.perms == nil {
			x.perms = make(map[permKey]time.Duration)
		}
		x.perms[x.permKeyOf(m.port, dst)] = m.expiry
		if len(x.perms) > x.permPeak {
			x.permPeak = len(x.perms)
		}
	}
	return m.port, true
}

func (x *Box) mapIn(now time.Duration, src netip.AddrPort, port uint16) (netip.AddrPort, Verdict) {
	i, ok := x.byPort[port]
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
		r, own := epOf(src), m.key.b()
		if x.b.Filtering == AddressDependent {
			r.p, own.p = 0, 0
		}
		if r != own {
			return netip.AddrPort{}, Filtered
		}
	default:
		pk := x.permKeyOf(port, src)
		if e, ok := x.perms[pk]; !ok || now >= e {
			return netip.AddrPort{}, Filtered
		}
		if x.b.RefreshOnInbound {
			x.perms[pk] = now + x.b.Timeout
		}
	}
	if x.b.RefreshOnInbound {
		m.expiry = now + x.b.Timeout
	}
	return m.key.a().addrPort(), Pass
}

// mapPortFree reports whether no live mapping holds port, freeing a dead one
// that does.
func (x *Box) mapPortFree(now time.Duration, port uint16) bool {
	i, ok := x.byPort[port]
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
	x.mslots[i] = mapping{key: k, expiry: now + x.b.Timeout, port: port, used: true}
	if x.byPort == nil {
		x.byPort = make(map[uint16]int32)
	}
	x.byPort[port] = i
	if port != k.a().p {
		if x.byKey == nil {
			x.byKey = make(map[mapKey]int32)
		}
		x.byKey[k] = i
	}
	x.armSweep(now)
	return i
}

func (x *Box) freeMapping(i int32) {
	m := &x.mslots[i]
	if m.port != m.key.a().p {
		delete(x.byKey, m.key)
	}
	if j, ok := x.byPort[m.port]; ok && j == i {
		delete(x.byPort, m.port)
	}
	*m = mapping{}
	x.release(i)
}

func (x *Box) compactMappings() {
	slots := make([]mapping, 0, x.used)
	var byKey map[mapKey]int32
	byPort := make(map[uint16]int32, x.used)
	for _, m := range x.mslots {
		if !m.used {
			continue
		}
		i := int32(len(slots))
		slots = append(slots, m)
		byPort[m.port] = i
		if m.port != m.key.a().p {
			if byKey == nil {
				byKey = make(map[mapKey]int32)
			}
			byKey[m.key] = i
		}
	}
	x.mslots, x.byKey, x.byPort = slots, byKey, byPort
}
