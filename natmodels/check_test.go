package natmodels

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// check verifies the box's internal bookkeeping: slab accounting, every
// entry in exactly the tables it belongs to (maps, or the compact keys of a
// small box), and the per-port flow lists.
func (x *Box) check() error {
	if err := x.checkSmall(); err != nil {
		return err
	}
	if !x.big {
		return x.checkLists()
	}
	used := 0
	isFree := map[int32]bool{}
	for _, i := range x.free {
		if isFree[i] {
			return fmt.Errorf("slot %d twice on the free list", i)
		}
		isFree[i] = true
	}
	if x.b.PerFlow {
		outbound, moved := 0, 0
		for i := range x.fslots {
			f := &x.fslots[i]
			if !f.used {
				if !isFree[int32(i)] {
					return fmt.Errorf("unused flow slot %d not free", i)
				}
				continue
			}
			used++
			if isFree[int32(i)] {
				return fmt.Errorf("used flow slot %d on the free list", i)
			}
			if j, ok := x.tuples[f.tuple()]; !ok || j != int32(i) {
				return fmt.Errorf("flow %d not under its tuple", i)
			}
			if f.unsolicited {
				continue
			}
			outbound++
			j, ok := x.flows[f.key]
			if f.port != f.key.a().p {
				moved++
				if !ok || j != int32(i) {
					return fmt.Errorf("moved flow %d not in flows", i)
				}
			} else if ok {
				return fmt.Errorf("flow %d kept its port but is in flows", i)
			}
		}
		if len(x.tuples) != used || len(x.flows) != moved {
			return fmt.Errorf("%d tuples, %d flows; want %d, %d", len(x.tuples), len(x.flows), used, moved)
		}
		listed := 0
		for port, h := range x.ports {
			prev := none
			for i := h; i != none; i = x.fslots[i].next {
				f := &x.fslots[i]
				if !f.used || f.unsolicited || f.port != port || f.prev != prev {
					return fmt.Errorf("bad flow %d in the list of port %d", i, port)
				}
				prev = i
				if listed++; listed > outbound {
					return fmt.Errorf("flow lists loop")
				}
			}
		}
		if listed != outbound {
			return fmt.Errorf("%d flows listed, want %d", listed, outbound)
		}
	} else {
		moved := 0
		for i := range x.mslots {
			m := &x.mslots[i]
			if !m.used {
				if !isFree[int32(i)] {
					return fmt.Errorf("unused mapping slot %d not free", i)
				}
				continue
			}
			used++
			if j, ok := x.byPort[m.port]; !ok || j != int32(i) {
				return fmt.Errorf("mapping %d not under its port", i)
			}
			j, ok := x.byKey[m.key]
			if m.port != m.key.a().p {
				moved++
				if !ok || j != int32(i) {
					return fmt.Errorf("moved mapping %d not in byKey", i)
				}
			} else if ok {
				return fmt.Errorf("mapping %d kept its port but is in byKey", i)
			}
		}
		if len(x.byPort) != used || len(x.byKey) != moved {
			return fmt.Errorf("%d ports, %d keys; want %d, %d", len(x.byPort), len(x.byKey), used, moved)
		}
	}
	if used != x.used || len(x.free)+used != len(x.mslots)+len(x.fslots) {
		return fmt.Errorf("used %d, counted %d, %d free of %d+%d", x.used, used, len(x.free), len(x.mslots), len(x.fslots))
	}
	return nil
}

// checkSmall verifies the compact representation: a small box has no maps
// and a compact key for every slab slot that matches the slot; a big box
// has no keys; the permissions are in either perms or permKeys/permExps,
// the latter short, compact and without duplicates.
func (x *Box) checkSmall() error {
	if x.perms != nil && x.permKeys != nil {
		return fmt.Errorf("permissions both in a map and slices")
	}
	if len(x.permKeys) > smallPerms || len(x.permExps) != len(x.permKeys) {
		return fmt.Errorf("%d permission keys, %d expiries", len(x.permKeys), len(x.permExps))
	}
	seen := map[uint64]bool{}
	for _, c := range x.permKeys {
		if seen[c] {
			return fmt.Errorf("permission %x twice", c)
		}
		seen[c] = true
		if c2, ok := unpackPortKey(c).pack(); !ok || c2 != c {
			return fmt.Errorf("permission %x does not round-trip", c)
		}
	}
	if len(x.perms)+len(x.permKeys) > x.permPeak {
		return fmt.Errorf("%d permissions above their peak %d", len(x.perms)+len(x.permKeys), x.permPeak)
	}
	n := len(x.mslots) + len(x.fslots)
	if x.big {
		if x.keys != nil {
			return fmt.Errorf("big box has keys")
		}
		if x.byPort == nil && x.tuples == nil {
			return fmt.Errorf("big box has no maps")
		}
		return nil
	}
	if x.byKey != nil || x.byPort != nil || x.flows != nil || x.tuples != nil || x.ports != nil {
		return fmt.Errorf("small box has maps")
	}
	if n > smallMax || len(x.keys) != n {
		return fmt.Errorf("small box: %d keys for %d slots", len(x.keys), n)
	}
	used, free := 0, map[int32]bool{}
	for _, i := range x.free {
		free[i] = true
	}
	for i, k := range x.keys {
		want, ok := unusedKey, true
		if x.b.PerFlow {
			if f := &x.fslots[i]; f.used {
				want, ok = flowSkey(f)
			}
		} else if m := &x.mslots[i]; m.used {
			want, ok = mapSkey(m)
		}
		if !ok {
			return fmt.Errorf("small box: slot %d is not compact", i)
		}
		if k != want {
			return fmt.Errorf("small box: slot %d has key %x, want %x", i, k, want)
		}
		if k != unusedKey {
			used++
			if free[int32(i)] {
				return fmt.Errorf("used slot %d on the free list", i)
			}
		} else if !free[int32(i)] {
			return fmt.Errorf("unused slot %d not free", i)
		}
	}
	if used != x.used || len(x.free)+used != n {
		return fmt.Errorf("used %d, counted %d, %d free of %d", x.used, used, len(x.free), n)
	}
	return nil
}

// checkLists verifies, for a small PerFlow box, that the outbound-created
// flows on each port form one list (the head is the one with no prev) and
// that no two entries share a reply tuple or an outbound flow key.
func (x *Box) checkLists() error {
	if !x.b.PerFlow {
		ports := map[uint16]bool{}
		for i := range x.mslots {
			if m := &x.mslots[i]; m.used {
				if ports[m.port] {
					return fmt.Errorf("two mappings on port %d", m.port)
				}
				ports[m.port] = true
			}
		}
		return nil
	}
	tuples, keys := map[tupleKey]bool{}, map[flowKey]bool{}
	onPort, heads := map[uint16]int{}, map[uint16]int32{}
	for i := range x.fslots {
		f := &x.fslots[i]
		if !f.used {
			continue
		}
		if tuples[f.tuple()] {
			return fmt.Errorf("two entries with the tuple of flow %d", i)
		}
		tuples[f.tuple()] = true
		if f.unsolicited {
			continue
		}
		if keys[f.key] {
			return fmt.Errorf("two flows with the key of flow %d", i)
		}
		keys[f.key] = true
		onPort[f.port]++
		if f.prev == none {
			if _, ok := heads[f.port]; ok {
				return fmt.Errorf("two heads on port %d", f.port)
			}
			heads[f.port] = int32(i)
		}
	}
	for port, h := range heads {
		prev, n := none, 0
		for i := h; i != none; i = x.fslots[i].next {
			f := &x.fslots[i]
			if !f.used || f.unsolicited || f.port != port || f.prev != prev {
				return fmt.Errorf("bad flow %d in the list of port %d", i, port)
			}
			prev = i
			if n++; n > onPort[port] {
				return fmt.Errorf("flow list of port %d loops", port)
			}
		}
		if n != onPort[port] {
			return fmt.Errorf("%d flows listed on port %d, want %d", n, port, onPort[port])
		}
	}
	if len(heads) != len(onPort) {
		return fmt.Errorf("%d lists for %d ports", len(heads), len(onPort))
	}
	return nil
}

// TestRandomOperations drives boxes with random traffic on a tiny port range
// (collisions, exhaustion, reuse, expiry, sweeps, compaction) and checks the
// bookkeeping and the basic promises after every call.
func TestRandomOperations(t *testing.T) {
	behaviors := map[string]Behavior{}
	for _, name := range ProfileNames() {
		p, _ := LookupProfile(name)
		for i, b := range p.Chain {
			behaviors[fmt.Sprintf("%s/%d", name, i)] = b
		}
	}
	behaviors["ADM-ADF-sequential"] = Behavior{Mapping: AddressDependent, Filtering: AddressDependent, PortAlloc: PortSequential, Timeout: 20 * s}
	behaviors["APDM-ADF-preserve-refresh"] = Behavior{Mapping: AddressPortDependent, Filtering: AddressDependent, PortAlloc: PortPreserve, Timeout: 20 * s, RefreshOnInbound: true}
	behaviors["perflow-sequential"] = Behavior{PerFlow: true, Filtering: AddressPortDependent, PortAlloc: PortSequential, Timeout: 10 * s, InboundCreatesFlow: true}
	configs := []struct {
		name    string
		hi      uint16 // port range 1100..hi
		remotes int    // remote addresses
		burst   bool   // every 2000 steps, 300 new remotes at once
	}{
		{"tiny", 1140, 6, false},
		{"bursts", 1700, 60, true},
	}
	for _, cfg := range configs {
		for _, name := range sortedKeys(behaviors) {
			t.Run(cfg.name+"/"+name, func(t *testing.T) {
				randomOperations(t, behaviors[name], cfg.hi, cfg.remotes, cfg.burst)
			})
		}
	}
}

func randomOperations(t *testing.T, b Behavior, hi uint16, remotes int, burst bool) {
	x, err := newBox(b, pubAddr, newRand(11), 1100, hi)
	if err != nil {
		t.Fatal(err)
	}
	rng := newRand(12)
	span := int(hi) - 1100 + 1
	endpoint := func(ip int, port uint16) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, byte(ip >> 8), byte(ip)}), port)
	}
	inside := func() netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(2 + rng.IntN(4))}), uint16(1100+rng.IntN(6)))
	}
	now := time.Duration(0)
	var failed, compacted, peak, permPeak int
	send := func(step int, src, dst netip.AddrPort) {
		m, ok := x.Outbound(now, src, dst)
		if !ok {
			failed++
			return
		}
		if again, _ := x.Outbound(now, src, dst); again != m {
			t.Fatalf("step %d: repeated send mapped to %v, then %v", step, m, again)
		}
		if got, ok := x.Lookup(now, m); !ok || (!b.PerFlow && got != src) {
			t.Fatalf("step %d: Lookup(%v) = %v %v, want %v", step, m, got, ok, src)
		}
		if got, v := x.Inbound(now, dst, m); v != Pass || got != src {
			t.Fatalf("step %d: reply from %v to %v: %v %v, want %v", step, dst, m, got, v, src)
		}
	}
	for step := range 20000 {
		now += time.Duration(rng.IntN(1500)) * time.Millisecond
		if burst && step%2000 == 1999 {
			for i := range 300 {
				send(step, inside(), endpoint(1000+i, 9000))
			}
		}
		switch op := rng.IntN(10); {
		case op < 6:
			dst := endpoint(rng.IntN(remotes), uint16(7000+rng.IntN(3)))
			if rng.IntN(8) == 0 { // hairpin toward one of our own endpoints
				dst = netip.AddrPortFrom(pubAddr, uint16(1100+rng.IntN(span)))
			}
			send(step, inside(), dst)
		case op < 9:
			src := endpoint(rng.IntN(remotes+2), uint16(7000+rng.IntN(3)))
			got, v := x.Inbound(now, src, netip.AddrPortFrom(pubAddr, uint16(1100+rng.IntN(span))))
			if (v == Pass) != got.IsValid() {
				t.Fatalf("step %d: Inbound = %v %v", step, got, v)
			}
		default:
			if n := x.Len(now); n > x.used {
				t.Fatalf("step %d: Len %d > %d entries", step, n, x.used)
			}
		}
		if err := x.check(); err != nil {
			t.Fatalf("step %d at %v: %v", step, now, err)
		}
		if (x.peak < peak || x.permPeak < permPeak) && x.used > 0 {
			compacted++ // a sweep compacted the slab or the permissions
		}
		peak, permPeak = x.peak, x.permPeak
	}
	t.Logf("%d sends found no port, %d compactions", failed, compacted)
	fullCone := !b.PerFlow && b.Mapping == EndpointIndependent && b.Filtering == EndpointIndependent
	if burst && compacted == 0 && !fullCone { // a full cone holds at most 24 mappings here
		t.Error("bursts never led to a compaction")
	}
}

func sortedKeys(m map[string]Behavior) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
