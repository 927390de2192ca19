package protocol

import (
	"net/netip"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// ip16 is an IP address packed without pointers. A netip.Addr holds a
// pointer (its zone handle), so every table of them is scanned by the
// collector word by word; tables of ip16 are not scanned at all, which
// matters when a simulation holds millions of them. The zone of an IPv6
// address is not kept.
type ip16 struct {
	b    [16]byte
	kind uint8 // 0: invalid, 4: IPv4, 6: IPv6
}

// endpoint is a netip.AddrPort packed like ip16 (20 bytes instead of 32,
// and no pointer).
type endpoint struct {
	ip   ip16
	port uint16
}

func ip16Of(a netip.Addr) ip16 {
	switch {
	case a.Is4():
		return ip16{b: a.As16(), kind: 4}
	case a.Is6():
		return ip16{b: a.As16(), kind: 6}
	}
	return ip16{}
}

func endpointOf(a netip.AddrPort) endpoint {
	return endpoint{ip: ip16Of(a.Addr()), port: a.Port()}
}

func (e endpoint) addrPort() netip.AddrPort {
	switch e.ip.kind {
	case 4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(e.ip.b[12:])), e.port)
	case 6:
		return netip.AddrPortFrom(netip.AddrFrom16(e.ip.b), e.port)
	}
	return netip.AddrPort{}
}

// less orders IPs by kind, then bytes.
func (a ip16) less(b ip16) bool {
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	for i := range a.b {
		if a.b[i] != b.b[i] {
			return a.b[i] < b.b[i]
		}
	}
	return false
}

// unknownEndpoint is wire.Unknown, 0.0.0.0:0.
var unknownEndpoint = endpointOf(wire.Unknown)

// unknown reports what wire.IsUnknown reports of the address: unset, or
// the unspecified address with port 0.
func (e endpoint) unknown() bool {
	switch e.ip.kind {
	case 4:
		return e.port == 0 && [4]byte(e.ip.b[12:]) == [4]byte{}
	case 6:
		return e.port == 0 && e.ip.b == [16]byte{}
	}
	return true
}
