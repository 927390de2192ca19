package natmodels

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"
)

// Small boxes. Most boxes hold a handful of mappings, flows and
// permissions, and hashing a key into a Go map (and missing the cache on the
// map's groups) costs more than scanning a few dozen 64-bit words. So while
// every endpoint a box stores is IPv4 and its slab has at most smallMax
// slots, the box is "small": it keeps no maps at all, only a compact key per
// slab slot (Box.keys, parallel to the slab), and finds entries by a linear
// scan. Likewise its filter permissions stay in two short parallel slices
// (Box.permKeys, Box.permExps) while there are at most smallPerms of them. A
// box that outgrows either limit, or meets a non-IPv4 endpoint, switches to
// maps; a sweep switches it back once it has shrunk to half the limit. The
// representation never changes what a box does: keys are unique in either
// form, and nothing depends on the order of the slices or the maps.
//
// In compact form an IPv4 endpoint ip:port is the 48-bit ip<<16 | port (see
// ep.pack), and a remote endpoint with one of the box's external ports (a
// filter permission or a reply tuple) the 64-bit
// ip<<32 | port<<16 | external port (see portKey.pack).

const (
	// smallMax is the largest slab a small box has (a box switches to maps
	// when it needs more slots); a sweep switches back at smallMax/2 entries.
	// Measured over 20,000 boxes (cache misses dominate, as in a large run),
	// scanning beats the maps even at 60 entries; hot in cache a scan of 64
	// costs about what a map lookup does.
	smallMax = 64
	// smallPerms is the most filter permissions kept in a slice.
	smallPerms = 64
	// flagUnsolicited marks an unsolicited flow in skey.b.
	flagUnsolicited = 1 << 48
)

// skey is the compact key of one slab slot of a small box. The low 16 bits
// of a are always the entry's external port.
//
//   - RFC 4787 mapping: a = inside<<16 | port, b = destination key;
//   - flow: a = remote<<16 | port (the reply tuple), b = inside, plus
//     flagUnsolicited for an unsolicited entry (whose inside is zero);
//   - unused slot: unusedKey, which has port 0 (no port is 0) and a b that no
//     packed endpoint equals.
type skey struct{ a, b uint64 }

var unusedKey = skey{a: 0, b: ^uint64(0)}

// pack returns e as ip<<16 | port, or ok=false if e is not IPv4 (see ep).
func (e ep) pack() (uint64, bool) {
	if e.hi != 0 || e.lo>>32 != 0 {
		return 0, false
	}
	return e.lo<<16 | uint64(e.p), true
}

// pack returns k as remote ip<<32 | remote port<<16 | external port, or
// ok=false if the remote is not IPv4.
func (k portKey) pack() (uint64, bool) {
	if k.hi != 0 || k.lo>>32 != 0 {
		return 0, false
	}
	return k.lo<<32 | (k.ports&0xffff)<<16 | k.ports>>16, true
}

// packAP returns epOf(ap).pack() without building the ep.
func packAP(ap netip.AddrPort) (uint64, bool) {
	if a := ap.Addr(); a.Is4() {
		v := a.As4()
		return uint64(binary.BigEndian.Uint32(v[:]))<<16 | uint64(ap.Port()), true
	}
	return packOther(ap)
}

// packOther is packAP for an address that is not IPv4 (out of line, so
// that packAP inlines).
func packOther(ap netip.AddrPort) (uint64, bool) { return epOf(ap).pack() }

// unpackAP is the inverse of packAP: the endpoint ep.addrPort returns for
// the packed endpoint c.
func unpackAP(c uint64) netip.AddrPort {
	var v [4]byte
	binary.BigEndian.PutUint32(v[:], uint32(c>>16))
	return netip.AddrPortFrom(netip.AddrFrom4(v), uint16(c))
}

// unpackPortKey is the inverse of portKey.pack.
func unpackPortKey(c uint64) portKey {
	return portKey{lo: c >> 32, ports: (c>>16)&0xffff | (c&0xffff)<<16}
}

// pack returns both endpoints of k packed, or ok=false if either is not IPv4.
func (k pairKey) pack() (a, b uint64, ok bool) {
	a, okA := k.a().pack()
	b, okB := k.b().pack()
	return a, b, okA && okB
}

// mapSkey returns the compact key of mapping m, or ok=false if it has none.
func mapSkey(m *mapping) (skey, bool) {
	a, b, ok := m.key.pack()
	return skey{a: a<<16 | uint64(m.port), b: b}, ok
}

// flowSkey returns the compact key of flow f, or ok=false if it has none.
func flowSkey(f *flow) (skey, bool) {
	in, r, ok := f.key.pack()
	k := skey{a: r<<16 | uint64(f.port), b: in}
	if f.unsolicited {
		k.b |= flagUnsolicited
	}
	return k, ok
}

// setKey records k as the compact key of slab slot i (which may be one past
// the end of keys).
func (x *Box) setKey(i int32, k skey) {
	if int(i) == len(x.keys) {
		x.keys = append(x.keys, k)
		return
	}
	x.keys[i] = k
}

// slotOfPort returns the slot whose compact key has external port p: the
// RFC 4787 mapping on p (a small box only).
func (x *Box) slotOfPort(p uint16) (int32, bool) {
	for i, k := range x.keys {
		if uint16(k.a) == p {
			return int32(i), true
		}
	}
	return none, false
}

// slotOfA returns the slot whose compact key has a == a: the flow with the
// packed reply tuple a (a small box only).
func (x *Box) slotOfA(a uint64) (int32, bool) {
	for i, k := range x.keys {
		if k.a == a {
			return int32(i), true
		}
	}
	return none, false
}

// findSmallMapping is findMapping for a small box: it scans for the packed
// mapKeyOf(src, dst).
func (x *Box) findSmallMapping(src, dst netip.AddrPort) (int32, bool) {
	in, ok := packAP(src)
	var d uint64
	okD := true
	switch x.b.Mapping {
	case AddressDependent:
		d, okD = packAP(dst)
		d &^= 0xffff
	case AddressPortDependent:
		d, okD = packAP(dst)
	}
	if !ok || !okD {
		return none, false
	}
	for i, s := range x.keys {
		if s.b == d && s.a>>16 == in {
			return int32(i), true
		}
	}
	return none, false
}

// findSmallFlow is findFlow for a small box: it scans for the outbound flow
// from src to dst.
func (x *Box) findSmallFlow(src, dst netip.AddrPort) (int32, bool) {
	in, ok := packAP(src)
	r, okR := packAP(dst)
	if !ok || !okR {
		return none, false
	}
	for i, s := range x.keys {
		if s.b == in && s.a>>16 == r {
			return int32(i), true
		}
	}
	return none, false
}

// smallFlowHead returns the first (newest) outbound-created flow in the list
// of port, or none (a small box only).
func (x *Box) smallFlowHead(port uint16) int32 {
	for i, k := range x.keys {
		if uint16(k.a) == port && k.b>>48 == 0 && x.fslots[i].prev == none {
			return int32(i)
		}
	}
	return none
}

// smallFlowLookup is flowLookup for a small box, in one pass over the keys
// instead of finding the head of the port's list and walking it. Only a tie
// in last activity between flows from different inside endpoints needs the
// list order (the newest wins); then exact is false and the caller walks it.
func (x *Box) smallFlowLookup(now time.Duration, port uint16) (inside netip.AddrPort, ok, exact bool) {
	best, tie := none, false
	for i, k := range x.keys {
		if uint16(k.a) != port || k.b>>48 != 0 {
			continue
		}
		f := &x.fslots[i]
		if now >= x.flowExpiry(f) {
			continue
		}
		switch {
		case best == none || f.last > x.fslots[best].last:
			best, tie = int32(i), false
		case f.last == x.fslots[best].last && k.b != x.keys[best].b:
			tie = true
		}
	}
	if best == none {
		return netip.AddrPort{}, false, true
	}
	if tie {
		return netip.AddrPort{}, false, false
	}
	return unpackAP(x.keys[best].b), true, true
}

// slabCompact reports whether every entry in the slab has a compact key.
func (x *Box) slabCompact() bool {
	if x.b.PerFlow {
		for i := range x.fslots {
			if f := &x.fslots[i]; f.used {
				if _, ok := flowSkey(f); !ok {
					return false
				}
			}
		}
		return true
	}
	for i := range x.mslots {
		if m := &x.mslots[i]; m.used {
			if _, ok := mapSkey(m); !ok {
				return false
			}
		}
	}
	return true
}

// index builds the tables of the slab as it is: compact keys if it fits a
// small box, maps otherwise.
func (x *Box) index() {
	x.keys, x.byKey, x.byPort, x.flows, x.tuples, x.ports = nil, nil, nil, nil, nil, nil
	n := len(x.mslots) + len(x.fslots)
	x.big = n > smallMax || !x.slabCompact()
	if x.big {
		x.buildMaps()
		return
	}
	if n == 0 {
		return
	}
	x.keys = make([]skey, n)
	for i := range x.keys {
		x.keys[i] = unusedKey
		if x.b.PerFlow {
			if f := &x.fslots[i]; f.used {
				x.keys[i], _ = flowSkey(f)
			}
		} else if m := &x.mslots[i]; m.used {
			x.keys[i], _ = mapSkey(m)
		}
	}
}

// grow switches a small box to maps, indexing every entry in the slab.
func (x *Box) grow() {
	x.keys = nil
	x.big = true
	x.buildMaps()
}

// buildMaps makes the maps of every entry in the slab.
func (x *Box) buildMaps() {
	if x.b.PerFlow {
		x.tuples = make(map[tupleKey]int32, x.used)
		x.ports = make(map[uint16]int32)
		for i := range x.fslots {
			f := &x.fslots[i]
			if !f.used {
				continue
			}
			x.tuples[f.tuple()] = int32(i)
			if f.unsolicited {
				continue
			}
			if f.port != f.key.a().p {
				if x.flows == nil {
					x.flows = make(map[flowKey]int32)
				}
				x.flows[f.key] = int32(i)
			}
			if f.prev == none {
				x.ports[f.port] = int32(i)
			}
		}
		return
	}
	x.byPort = make(map[uint16]int32, x.used)
	for i := range x.mslots {
		m := &x.mslots[i]
		if !m.used {
			continue
		}
		x.byPort[m.port] = int32(i)
		if m.port != m.key.a().p {
			if x.byKey == nil {
				x.byKey = make(map[mapKey]int32)
			}
			x.byKey[m.key] = int32(i)
		}
	}
}

// permC returns permKeyOf(port, remote).pack() without building the key.
func (x *Box) permC(port uint16, remote netip.AddrPort) (uint64, bool) {
	r, ok := packAP(remote)
	if x.b.Filtering == AddressDependent {
		r &^= 0xffff
	}
	return r<<16 | uint64(port), ok
}

// findPerm returns the expiry of the permission for remote on port and, in
// a small box, its index in permKeys (-1 with maps).
func (x *Box) findPerm(port uint16, remote netip.AddrPort) (e time.Duration, j int, ok bool) {
	if x.perms != nil {
		e, ok = x.perms[x.permKeyOf(port, remote)]
		return e, -1, ok
	}
	c, ok := x.permC(port, remote)
	if !ok {
		return 0, -1, false
	}
	if j := x.smallPerm(c); j >= 0 {
		return x.permExps[j], j, true
	}
	return 0, -1, false
}

// smallPerm returns the index of packed permission c in permKeys, or -1.
func (x *Box) smallPerm(c uint64) int {
	for j, k := range x.permKeys {
		if k == c {
			return j
		}
	}
	return -1
}

// setPerm creates or refreshes the permission for remote on port, with
// expiry e.
func (x *Box) setPerm(port uint16, remote netip.AddrPort, e time.Duration) {
	if x.perms == nil {
		if c, ok := x.permC(port, remote); ok {
			if j := x.smallPerm(c); j >= 0 {
				x.permExps[j] = e
				return
			}
			if len(x.permKeys) < smallPerms {
				x.permKeys = append(x.permKeys, c)
				x.permExps = append(x.permExps, e)
				x.permPeak = max(x.permPeak, len(x.permKeys))
				return
			}
		}
		x.perms = make(map[permKey]time.Duration, len(x.permKeys)+1)
		for j, c := range x.permKeys {
			x.perms[unpackPortKey(c)] = x.permExps[j]
		}
		x.permKeys, x.permExps = nil, nil
	}
	x.perms[x.permKeyOf(port, remote)] = e
	x.permPeak = max(x.permPeak, len(x.perms))
}

// sweepPerms frees the dead permissions, then gives memory back: a map that
// has shrunk to half of smallPerms becomes slices again (sorted, so that the
// box's state does not depend on map order), one that is mostly empty is
// rebuilt.
func (x *Box) sweepPerms(now time.Duration) {
	if x.perms == nil {
		j := 0
		for i, e := range x.permExps {
			if now < e {
				x.permKeys[j], x.permExps[j] = x.permKeys[i], e
				j++
			}
		}
		x.permKeys, x.permExps = x.permKeys[:j], x.permExps[:j]
		return
	}
	for k, e := range x.perms {
		if now >= e {
			delete(x.perms, k)
		}
	}
	if len(x.perms) <= smallPerms/2 {
		keys := make([]uint64, 0, len(x.perms))
		compact := true
		for k := range x.perms {
			c, ok := k.pack()
			if !ok {
				compact = false
				break
			}
			keys = append(keys, c)
		}
		if compact {
			slices.Sort(keys)
			exps := make([]time.Duration, len(keys))
			for j, c := range keys {
				exps[j] = x.perms[unpackPortKey(c)]
			}
			x.perms, x.permKeys, x.permExps, x.permPeak = nil, keys, exps, len(keys)
			return
		}
	}
	if x.permPeak > compactMin && len(x.perms)*4 < x.permPeak {
		perms := make(map[permKey]time.Duration, len(x.perms))
		for k, e := range x.perms {
			perms[k] = e
		}
		x.perms, x.permPeak = perms, len(perms)
	}
}
