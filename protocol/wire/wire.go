// Package wire encodes and decodes Dispersy packets: the 23-byte prefix
// (dispersy version, community version, community id, message type), the
// authentication, distribution and payload sections, and the trailing
// signature, in Dispersy's big-endian layout (see shared/spec, §3).
//
// Members travel as their full public key ("bin" encoding: a 2-byte length
// and the key), as Dispersy communities of version 2 and later do, so a packet
// from a never-seen member can be verified at once.
//
// Decoding never panics and never allocates: a Packet is filled in place and
// its byte slices alias the decoded buffer, so they are valid only as long as
// that buffer is. Every rejection is an *Error carrying a Reason, so callers
// can count drops by reason.
package wire

import (
	"encoding/binary"
	"net/netip"
)

// DispersyVersion is the only dispersy version byte Dispersy implemented.
const DispersyVersion = 0x00

// CommunityVersion is the community version byte this implementation writes:
// 2 and above means members are encoded as full keys.
const CommunityVersion = 0x02

// PrefixLen is the length of the conversion prefix (versions and cid).
const PrefixLen = 22

// MinPacketLen is the shortest decodable packet: prefix plus message type.
const MinPacketLen = PrefixLen + 1

// CIDLen is the length of a community id (SHA-1 of its master key).
const CIDLen = 20

// MaxKeyLen bounds a member key's length on the wire.
const MaxKeyLen = 1024

// CID identifies a community.
type CID [CIDLen]byte

// Type is a message type byte.
type Type byte

// Dispersy's own message type bytes (shared/spec §3.9).
const (
	TypeMissingSequence      Type = 254
	TypeMissingProof         Type = 253
	TypeSignatureRequest     Type = 252
	TypeSignatureResponse    Type = 251
	TypePunctureRequest      Type = 250
	TypePuncture             Type = 249
	TypeIdentity             Type = 248
	TypeMissingIdentity      Type = 247
	TypeIntroductionRequest  Type = 246
	TypeIntroductionResponse Type = 245
	TypeDestroyCommunity     Type = 244
	TypeAuthorize            Type = 243
	TypeRevoke               Type = 242
	TypeMissingMessage       Type = 239
	TypeUndoOwn              Type = 238
	TypeUndoOther            Type = 237
	TypeDynamicSettings      Type = 236
)

// String names the message type as Dispersy does.
func (t Type) String() string {
	switch t {
	case TypeMissingSequence:
		return "dispersy-missing-sequence"
	case TypeMissingProof:
		return "dispersy-missing-proof"
	case TypeSignatureRequest:
		return "dispersy-signature-request"
	case TypeSignatureResponse:
		return "dispersy-signature-response"
	case TypePunctureRequest:
		return "dispersy-puncture-request"
	case TypePuncture:
		return "dispersy-puncture"
	case TypeIdentity:
		return "dispersy-identity"
	case TypeMissingIdentity:
		return "dispersy-missing-identity"
	case TypeIntroductionRequest:
		return "dispersy-introduction-request"
	case TypeIntroductionResponse:
		return "dispersy-introduction-response"
	case TypeDestroyCommunity:
		return "dispersy-destroy-community"
	case TypeAuthorize:
		return "dispersy-authorize"
	case TypeRevoke:
		return "dispersy-revoke"
	case TypeMissingMessage:
		return "dispersy-missing-message"
	case TypeUndoOwn:
		return "dispersy-undo-own"
	case TypeUndoOther:
		return "dispersy-undo-other"
	case TypeDynamicSettings:
		return "dispersy-dynamic-settings"
	}
	return "type-" + itoa(int(t))
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var b [8]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

// ConnType is a node's connection type as carried in the flags byte.
type ConnType byte

// Connection types (flags bits 6-7).
const (
	ConnUnknown      ConnType = 0x00
	ConnPublic       ConnType = 0x80
	ConnSymmetricNAT ConnType = 0xC0
)

// String names the connection type as Dispersy does.
func (c ConnType) String() string {
	switch c {
	case ConnPublic:
		return "public"
	case ConnSymmetricNAT:
		return "symmetric-NAT"
	}
	return "unknown"
}

// Flag bits of the introduction-request/response flags byte.
const (
	flagAdvice   = 0x01
	flagSync     = 0x02
	flagTunnel   = 0x04
	flagConnMask = 0xC0
)

// AddrLen is the length of an encoded IPv4 address and port.
const AddrLen = 6

// PutAddr appends a 6-byte IPv4 address and port. A non-IPv4 (or invalid)
// address is written as 0.0.0.0:0, Dispersy's "unknown".
func PutAddr(b []byte, a netip.AddrPort) []byte {
	ip := a.Addr()
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if !ip.Is4() {
		return append(b, 0, 0, 0, 0, 0, 0)
	}
	v := ip.As4()
	return append(b, v[0], v[1], v[2], v[3], byte(a.Port()>>8), byte(a.Port()))
}

// GetAddr reads a 6-byte address; b must hold at least 6 bytes.
func GetAddr(b []byte) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3]}), binary.BigEndian.Uint16(b[4:6]))
}

// Unknown is the 0.0.0.0:0 address Dispersy uses for "not known".
var Unknown = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)

// IsUnknown reports whether a is unset or 0.0.0.0:0.
func IsUnknown(a netip.AddrPort) bool {
	return !a.IsValid() || (a.Port() == 0 && a.Addr().IsUnspecified())
}

// ValidAddr reports whether a is usable as a peer address: IPv4, not
// 0.0.0.0, not broadcast, port > 0 (Dispersy's is_valid_address).
func ValidAddr(a netip.AddrPort) bool {
	if !a.IsValid() || a.Port() == 0 {
		return false
	}
	ip := a.Addr()
	if !ip.Is4() || ip.IsUnspecified() {
		return false
	}
	return ip != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}
