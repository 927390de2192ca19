package wire

import (
	"encoding/binary"
	"net/netip"
)

// Reason is why a packet was rejected. Reasons are small integers so that
// callers can count drops in an array.
type Reason uint8

// Rejection reasons. Append only: reports key counters by these names.
const (
	ReasonNone              Reason = iota
	ReasonShort                    // shorter than the prefix
	ReasonVersion                  // dispersy version byte is not 0x00
	ReasonUnknownType              // message type this decoder does not know
	ReasonTruncated                // a section runs past the end
	ReasonTrailing                 // bytes left over after the payload
	ReasonBadKey                   // member key length 0, too long, or wrong size for the scheme
	ReasonBadFlags                 // invalid flags byte (connection type 0x40, or flags not allowed for the message)
	ReasonBadSync                  // invalid sync block (time range, modulo, bloom size)
	ReasonBadGlobalTime            // global time 0 where Dispersy forbids it
	ReasonBadSignature             // signature does not verify (set by the protocol layer)
	ReasonUnknownCommunity         // community not joined (set by the protocol layer)
	ReasonOwnMember                // signed by our own member (set by the protocol layer)
	ReasonUnknownIdentifier        // response or puncture to no open request (set by the protocol layer)
	ReasonBadAddress               // an address field that must be valid is not (set by the protocol layer)
	ReasonInvalidSource            // the datagram came from an invalid address (set by the protocol layer)
	ReasonSelfIntroduction         // introduced to ourselves (set by the protocol layer)
	ReasonNotWanted                // a valid message this node has no use for (set by the protocol layer)
	NumReasons                     // number of reasons; not a reason
)

var reasonNames = [NumReasons]string{
	"none", "short", "version", "unknown_type", "truncated", "trailing_bytes", "bad_key", "bad_flags",
	"bad_sync", "bad_global_time", "bad_signature", "unknown_community", "own_member",
	"unknown_identifier", "bad_address", "invalid_source", "self_introduction", "not_wanted",
}

// String is the reason's snake_case name, used as a counter key.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "reason-" + itoa(int(r))
}

// Error is a decoding failure.
type Error struct {
	Reason Reason
	Type   Type // message type, when it was read
}

func (e *Error) Error() string {
	if e.Type != 0 {
		return "wire: " + e.Type.String() + ": " + e.Reason.String()
	}
	return "wire: " + e.Reason.String()
}

// fail records the reason in p and returns it; the error lives inside p so
// that decoding never allocates.
func fail(p *Packet, r Reason) error {
	p.err = Error{Reason: r, Type: p.Type}
	return &p.err
}

// SyncBlock is the bloom-filter sync part of an introduction-request.
type SyncBlock struct {
	TimeLow, TimeHigh uint64 // global-time range; TimeHigh 0 means "up to yours"
	Modulo, Offset    uint16
	Functions         uint8  // bloom hash functions (k)
	Bits              uint16 // bloom size in bits
	Prefix            uint8  // bloom salt
	Filter            []byte // Bits/8 bytes, aliasing the packet
}

// IntroRequest is the payload of dispersy-introduction-request.
type IntroRequest struct {
	Destination netip.AddrPort // the address the requester sent to (a WAN vote for the receiver)
	SourceLAN   netip.AddrPort // the requester's own view of its LAN address
	SourceWAN   netip.AddrPort // the requester's own view of its WAN address
	Advice      bool           // "please introduce me to someone"
	ConnType    ConnType       // the requester's connection type
	Identifier  uint16         // walk identifier, echoed in response and puncture
	Sync        *SyncBlock     // nil when the sync flag is off; points into the Packet
}

// IntroResponse is the payload of dispersy-introduction-response.
type IntroResponse struct {
	Destination netip.AddrPort // the requester's address as the responder sees it
	SourceLAN   netip.AddrPort
	SourceWAN   netip.AddrPort
	IntroLAN    netip.AddrPort // introduced peer's LAN, or 0.0.0.0:0
	IntroWAN    netip.AddrPort // introduced peer's WAN, or 0.0.0.0:0
	Tunnel      bool
	ConnType    ConnType
	Identifier  uint16
}

// PunctureRequest is the payload of dispersy-puncture-request (unsigned).
type PunctureRequest struct {
	WalkerLAN  netip.AddrPort // as the walker reported it
	WalkerWAN  netip.AddrPort
	Identifier uint16
}

// Puncture is the payload of dispersy-puncture.
type Puncture struct {
	SourceLAN  netip.AddrPort
	SourceWAN  netip.AddrPort
	Identifier uint16
}

// Packet is a decoded packet. Decode fills it in place; byte slices alias the
// decoded buffer. Only the payload field matching Type is meaningful.
type Packet struct {
	CommunityVersion byte
	CID              CID
	Type             Type
	Key              []byte // the signer's public key; nil for unauthenticated messages
	GlobalTime       uint64
	Body             []byte // the signed bytes: everything before Signature
	Signature        []byte

	IntroRequest    IntroRequest
	IntroResponse   IntroResponse
	PunctureRequest PunctureRequest
	Puncture        Puncture

	sync SyncBlock
	err  Error
}

// policy describes how a message type is laid out.
type policy struct {
	known  bool
	signed bool // MemberAuthentication: key section and trailing signature
}

func policyOf(t Type) policy {
	switch t {
	case TypeIntroductionRequest, TypeIntroductionResponse, TypePuncture:
		return policy{known: true, signed: true}
	case TypePunctureRequest:
		return policy{known: true}
	}
	return policy{}
}

// Peek returns the community id and message type of a packet without
// decoding it; ok is false when the packet is shorter than the prefix.
func Peek(b []byte) (cid CID, t Type, ok bool) {
	if len(b) < MinPacketLen {
		return cid, 0, false
	}
	copy(cid[:], b[2:PrefixLen])
	return cid, Type(b[PrefixLen]), true
}

// Decode parses b into p. sigLen is the signature length of the signature
// scheme in use and keyLen the exact length of member keys (0: any length up to
// MaxKeyLen). It never panics, never allocates, and verifies no signature:
// the caller verifies p.Signature over p.Body.
func Decode(b []byte, sigLen, keyLen int, p *Packet) error {
	p.Type = 0
	p.Key, p.Body, p.Signature = nil, nil, nil
	p.GlobalTime = 0
	if len(b) < MinPacketLen {
		return fail(p, ReasonShort)
	}
	if b[0] != DispersyVersion {
		return fail(p, ReasonVersion)
	}
	p.CommunityVersion = b[1]
	copy(p.CID[:], b[2:PrefixLen])
	p.Type = Type(b[PrefixLen])
	pol := policyOf(p.Type)
	if !pol.known {
		return fail(p, ReasonUnknownType)
	}
	off := MinPacketLen
	end := len(b)
	if pol.signed {
		if len(b) < off+2 {
			return fail(p, ReasonTruncated)
		}
		kl := int(binary.BigEndian.Uint16(b[off:]))
		off += 2
		if kl == 0 || kl > MaxKeyLen || (keyLen > 0 && kl != keyLen) {
			return fail(p, ReasonBadKey)
		}
		if len(b) < off+kl {
			return fail(p, ReasonTruncated)
		}
		p.Key = b[off : off+kl]
		off += kl
		if end-off < sigLen {
			return fail(p, ReasonTruncated)
		}
		end -= sigLen
		p.Signature = b[end:]
	}
	p.Body = b[:end]
	// Distribution: Direct carries an 8-byte global time.
	if end-off < 8 {
		return fail(p, ReasonTruncated)
	}
	p.GlobalTime = binary.BigEndian.Uint64(b[off:])
	off += 8
	payload := b[off:end]
	switch p.Type {
	case TypeIntroductionRequest:
		return decodeIntroRequest(payload, p)
	case TypeIntroductionResponse:
		return decodeIntroResponse(payload, p)
	case TypePunctureRequest:
		if len(payload) < 14 {
			return fail(p, ReasonTruncated)
		}
		if len(payload) > 14 {
			return fail(p, ReasonTrailing)
		}
		p.PunctureRequest = PunctureRequest{
			WalkerLAN:  GetAddr(payload[0:]),
			WalkerWAN:  GetAddr(payload[6:]),
			Identifier: binary.BigEndian.Uint16(payload[12:]),
		}
		return nil
	case TypePuncture:
		if len(payload) < 14 {
			return fail(p, ReasonTruncated)
		}
		if len(payload) > 14 {
			return fail(p, ReasonTrailing)
		}
		p.Puncture = Puncture{
			SourceLAN:  GetAddr(payload[0:]),
			SourceWAN:  GetAddr(payload[6:]),
			Identifier: binary.BigEndian.Uint16(payload[12:]),
		}
		return nil
	}
	return fail(p, ReasonUnknownType)
}

// SyncHeaderLen is the length of the sync block before the bloom bytes.
const SyncHeaderLen = 24

func decodeIntroRequest(b []byte, p *Packet) error {
	if len(b) < 21 {
		return fail(p, ReasonTruncated)
	}
	flags := b[18]
	if flags&flagConnMask == 0x40 || flags&flagTunnel != 0 {
		return fail(p, ReasonBadFlags)
	}
	r := &p.IntroRequest
	*r = IntroRequest{
		Destination: GetAddr(b[0:]),
		SourceLAN:   GetAddr(b[6:]),
		SourceWAN:   GetAddr(b[12:]),
		Advice:      flags&flagAdvice != 0,
		ConnType:    ConnType(flags & flagConnMask),
		Identifier:  binary.BigEndian.Uint16(b[19:]),
	}
	rest := b[21:]
	if flags&flagSync == 0 {
		if len(rest) != 0 {
			return fail(p, ReasonTrailing)
		}
		return nil
	}
	if len(rest) < SyncHeaderLen {
		return fail(p, ReasonTruncated)
	}
	s := &p.sync
	s.TimeLow = binary.BigEndian.Uint64(rest[0:])
	s.TimeHigh = binary.BigEndian.Uint64(rest[8:])
	s.Modulo = binary.BigEndian.Uint16(rest[16:])
	s.Offset = binary.BigEndian.Uint16(rest[18:])
	s.Functions = rest[20]
	s.Bits = binary.BigEndian.Uint16(rest[21:])
	s.Prefix = rest[23]
	if s.TimeLow == 0 || (s.TimeHigh != 0 && s.TimeLow > s.TimeHigh) || s.Modulo == 0 ||
		s.Offset >= s.Modulo || s.Functions == 0 || s.Bits == 0 || s.Bits%8 != 0 {
		return fail(p, ReasonBadSync)
	}
	bloom := rest[SyncHeaderLen:]
	if len(bloom) < int(s.Bits)/8 {
		return fail(p, ReasonTruncated)
	}
	if len(bloom) > int(s.Bits)/8 {
		return fail(p, ReasonTrailing)
	}
	s.Filter = bloom
	r.Sync = s
	return nil
}

func decodeIntroResponse(b []byte, p *Packet) error {
	if len(b) < 33 {
		return fail(p, ReasonTruncated)
	}
	if len(b) > 33 {
		return fail(p, ReasonTrailing)
	}
	flags := b[30]
	if flags&flagConnMask == 0x40 || flags&(flagAdvice|flagSync) != 0 {
		return fail(p, ReasonBadFlags)
	}
	p.IntroResponse = IntroResponse{
		Destination: GetAddr(b[0:]),
		SourceLAN:   GetAddr(b[6:]),
		SourceWAN:   GetAddr(b[12:]),
		IntroLAN:    GetAddr(b[18:]),
		IntroWAN:    GetAddr(b[24:]),
		Tunnel:      flags&flagTunnel != 0,
		ConnType:    ConnType(flags & flagConnMask),
		Identifier:  binary.BigEndian.Uint16(b[31:]),
	}
	return nil
}

// AppendHeader appends the 23-byte prefix and message type.
func AppendHeader(b []byte, communityVersion byte, cid CID, t Type) []byte {
	b = append(b, DispersyVersion, communityVersion)
	b = append(b, cid[:]...)
	return append(b, byte(t))
}

// AppendMember appends a member key in "bin" encoding (2-byte length, key).
func AppendMember(b []byte, key []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(key)))
	return append(b, key...)
}

// AppendGlobalTime appends the 8-byte global time of the distribution section.
func AppendGlobalTime(b []byte, gt uint64) []byte {
	return binary.BigEndian.AppendUint64(b, gt)
}

// AppendIntroRequest appends an introduction-request payload. A non-nil
// r.Sync is written with its filter.
func AppendIntroRequest(b []byte, r *IntroRequest) []byte {
	b = PutAddr(b, r.Destination)
	b = PutAddr(b, r.SourceLAN)
	b = PutAddr(b, r.SourceWAN)
	flags := byte(r.ConnType) & flagConnMask
	if r.Advice {
		flags |= flagAdvice
	}
	if r.Sync != nil {
		flags |= flagSync
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint16(b, r.Identifier)
	if s := r.Sync; s != nil {
		b = binary.BigEndian.AppendUint64(b, s.TimeLow)
		b = binary.BigEndian.AppendUint64(b, s.TimeHigh)
		b = binary.BigEndian.AppendUint16(b, s.Modulo)
		b = binary.BigEndian.AppendUint16(b, s.Offset)
		b = append(b, s.Functions)
		b = binary.BigEndian.AppendUint16(b, s.Bits)
		b = append(b, s.Prefix)
		b = append(b, s.Filter...)
	}
	return b
}

// AppendIntroResponse appends an introduction-response payload.
func AppendIntroResponse(b []byte, r *IntroResponse) []byte {
	b = PutAddr(b, r.Destination)
	b = PutAddr(b, r.SourceLAN)
	b = PutAddr(b, r.SourceWAN)
	b = PutAddr(b, r.IntroLAN)
	b = PutAddr(b, r.IntroWAN)
	flags := byte(r.ConnType) & flagConnMask
	if r.Tunnel {
		flags |= flagTunnel
	}
	b = append(b, flags)
	return binary.BigEndian.AppendUint16(b, r.Identifier)
}

// AppendPunctureRequest appends a puncture-request payload.
func AppendPunctureRequest(b []byte, r *PunctureRequest) []byte {
	b = PutAddr(b, r.WalkerLAN)
	b = PutAddr(b, r.WalkerWAN)
	return binary.BigEndian.AppendUint16(b, r.Identifier)
}

// AppendPuncture appends a puncture payload.
func AppendPuncture(b []byte, r *Puncture) []byte {
	b = PutAddr(b, r.SourceLAN)
	b = PutAddr(b, r.SourceWAN)
	return binary.BigEndian.AppendUint16(b, r.Identifier)
}
