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
	ReasonBadSequence              // sequence number 0, or an empty or inverted sequence range
	ReasonDuplicate                // a message the node already stores, e.g. a replayed packet (protocol layer)
	ReasonFutureGlobalTime         // global time beyond the acceptable window (protocol layer)
	ReasonConflict                 // same member and global time as a stored message, different content (protocol layer)
	ReasonSequenceConflict         // sequence number out of line with the member's stored ones (protocol layer)
	ReasonInactive                 // older than the message type's pruning threshold (protocol layer)
	ReasonHistoryOld               // last-sync message older than every one held for its member (protocol layer)
	ReasonUnknownMember            // a request names a member the node holds nothing of (protocol layer)
	ReasonGapExpired               // held back for a sequence gap that was never filled (protocol layer)
	ReasonBadPermission            // authorize/revoke entry: no entries, count 0, bad bits, or a type that cannot be granted
	ReasonBadPolicy                // dynamic policy index out of range, policy type not 'r', or a type without dynamic resolution
	ReasonNotPermitted             // held back for a proof of permission that never came (protocol layer)
	ReasonNotUndoable              // undo of a message whose type cannot be undone (protocol layer)
	ReasonTargetExpired            // undo held back for its target message, which never came (protocol layer)
	ReasonDestroyed                // a packet for a destroyed community (protocol layer)
	ReasonNotCosigner              // a signature request for a message we are not a member of (protocol layer)
	ReasonBadResponse              // a signature response that changed what may not change, or is not signed (protocol layer)
	ReasonDelayFull                // the community holds as many delayed messages as it may (protocol layer)
	NumReasons                     // number of reasons; not a reason
)

var reasonNames = [NumReasons]string{
	"none", "short", "version", "unknown_type", "truncated", "trailing_bytes", "bad_key", "bad_flags",
	"bad_sync", "bad_global_time", "bad_signature", "unknown_community", "own_member",
	"unknown_identifier", "bad_address", "invalid_source", "self_introduction", "not_wanted",
	"bad_sequence", "duplicate", "future_global_time", "conflict", "sequence_conflict", "inactive",
	"history_old", "unknown_member", "gap_expired", "bad_permission", "bad_policy", "not_permitted",
	"not_undoable", "target_expired", "destroyed", "not_cosigner", "bad_response", "delay_full",
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
	Key2             []byte // the second member's key of a double-signed message, else nil
	Policy           uint8  // the creator's policy index (dynamic resolution), else 0
	GlobalTime       uint64
	Sequence         uint32 // sequence number, for types laid out with one; else 0
	Body             []byte // the signed bytes: everything before Signature
	Signature        []byte
	Signature2       []byte // the second member's signature (double-signed), else nil
	Payload          []byte // the payload section, aliasing the packet

	IntroRequest    IntroRequest
	IntroResponse   IntroResponse
	PunctureRequest PunctureRequest
	Puncture        Puncture
	MissingSequence MissingSequence
	MissingMessage  MissingMessage
	MissingIdentity MissingIdentity
	Permissions     Permissions     // dispersy-authorize, dispersy-revoke
	Undo            Undo            // dispersy-undo-own, dispersy-undo-other
	DynamicSettings DynamicSettings // dispersy-dynamic-settings
	Destroy         Destroy         // dispersy-destroy-community
	MissingProof    MissingProof    // dispersy-missing-proof
	Cosign          Cosign          // dispersy-signature-request, dispersy-signature-response

	sync SyncBlock
	err  Error
}

// MissingSequence is the payload of dispersy-missing-sequence: "send me
// member's messages of type Meta numbered Low..High".
type MissingSequence struct {
	Member    [20]byte // the member id (SHA-1 of its key)
	Meta      Type
	Low, High uint32 // 0 < Low <= High
}

// MissingMessage is the payload of dispersy-missing-message: "send me the
// messages member Key created at these global times".
type MissingMessage struct {
	Key   []byte // the member's public key, aliasing the packet
	times []byte // 8 bytes per global time, aliasing the packet
}

// Len returns how many global times the request names (at least 1).
func (m *MissingMessage) Len() int { return len(m.times) / 8 }

// GlobalTime returns the i-th requested global time.
func (m *MissingMessage) GlobalTime(i int) uint64 { return binary.BigEndian.Uint64(m.times[i*8:]) }

// MissingIdentity is the payload of dispersy-missing-identity: "send me the
// identity of the member with this id".
type MissingIdentity struct {
	Member [20]byte
}

// Layout says how a message type is laid out on the wire: which sections it
// has. Dispersy's own types have fixed layouts; a community lays out its
// own types (1..234) from their policies.
type Layout struct {
	// Known marks the type as decodable.
	Known bool
	// Signed is MemberAuthentication: a member key section and a trailing
	// signature. Without it the message is NoAuthentication.
	Signed bool
	// Stored is a full-sync or last-sync distribution: the global time must
	// not be 0.
	Stored bool
	// Sequence adds a 4-byte sequence number, which must not be 0, after
	// the global time (full-sync with sequence numbers).
	Sequence bool
	// Double is DoubleMemberAuthentication (with Signed): two member keys
	// (both lengths, then both keys) and two trailing signatures, each
	// over the whole body.
	Double bool
	// Policies, when > 0, is dynamic resolution with that many policies: a
	// one-byte policy index, below Policies, follows the authentication
	// section.
	Policies uint8
}

// Layouts maps each type byte to its layout. Entries for Dispersy's own
// types are ignored: those layouts are fixed.
type Layouts [256]Layout

// FirstReservedType is the lowest type byte Dispersy reserves for itself;
// community types are 1..FirstReservedType-1.
const FirstReservedType = 235

func layoutOf(t Type, l *Layouts) Layout {
	switch t {
	case TypeIntroductionRequest, TypeIntroductionResponse, TypePuncture:
		return Layout{Known: true, Signed: true}
	case TypePunctureRequest, TypeMissingSequence, TypeMissingMessage, TypeMissingIdentity:
		return Layout{Known: true}
	case TypeIdentity, TypeDestroyCommunity:
		return Layout{Known: true, Signed: true, Stored: true}
	case TypeAuthorize, TypeRevoke, TypeUndoOwn, TypeUndoOther, TypeDynamicSettings:
		return Layout{Known: true, Signed: true, Stored: true, Sequence: true}
	case TypeMissingProof, TypeSignatureRequest, TypeSignatureResponse:
		return Layout{Known: true}
	}
	if l != nil && t != 0 && t < FirstReservedType {
		return l[t]
	}
	return Layout{}
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

// Decode parses one of Dispersy's own message types; see DecodeWith.
func Decode(b []byte, sigLen, keyLen int, p *Packet) error {
	return DecodeWith(b, sigLen, keyLen, nil, p)
}

// DecodeWith parses b into p. sigLen is the signature length of the
// signature scheme in use and keyLen the exact length of member keys (0:
// any length up to MaxKeyLen). Community types are decoded by their entry
// in l (nil: none are known). It never panics, never allocates, and
// verifies no signature: the caller verifies p.Signature over p.Body.
func DecodeWith(b []byte, sigLen, keyLen int, l *Layouts, p *Packet) error {
	p.Type = 0
	p.Key, p.Key2, p.Body, p.Signature, p.Signature2, p.Payload = nil, nil, nil, nil, nil, nil
	p.GlobalTime, p.Sequence, p.Policy = 0, 0, 0
	if len(b) < MinPacketLen {
		return fail(p, ReasonShort)
	}
	if b[0] != DispersyVersion {
		return fail(p, ReasonVersion)
	}
	p.CommunityVersion = b[1]
	copy(p.CID[:], b[2:PrefixLen])
	p.Type = Type(b[PrefixLen])
	pol := layoutOf(p.Type, l)
	if !pol.Known {
		return fail(p, ReasonUnknownType)
	}
	off := MinPacketLen
	end := len(b)
	if pol.Signed && pol.Double {
		if len(b) < off+4 {
			return fail(p, ReasonTruncated)
		}
		kl1, kl2 := int(binary.BigEndian.Uint16(b[off:])), int(binary.BigEndian.Uint16(b[off+2:]))
		off += 4
		for _, kl := range [2]int{kl1, kl2} {
			if kl == 0 || kl > MaxKeyLen || (keyLen > 0 && kl != keyLen) {
				return fail(p, ReasonBadKey)
			}
		}
		if len(b) < off+kl1+kl2 {
			return fail(p, ReasonTruncated)
		}
		p.Key, p.Key2 = b[off:off+kl1], b[off+kl1:off+kl1+kl2]
		off += kl1 + kl2
		if end-off < 2*sigLen {
			return fail(p, ReasonTruncated)
		}
		end -= 2 * sigLen
		p.Signature, p.Signature2 = b[end:end+sigLen], b[end+sigLen:]
	} else if pol.Signed {
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
	// Resolution: dynamic carries the creator's policy index.
	if pol.Policies > 0 {
		if end-off < 1 {
			return fail(p, ReasonTruncated)
		}
		p.Policy = b[off]
		off++
		if p.Policy >= pol.Policies {
			return fail(p, ReasonBadPolicy)
		}
	}
	// Distribution: Direct carries an 8-byte global time.
	if end-off < 8 {
		return fail(p, ReasonTruncated)
	}
	p.GlobalTime = binary.BigEndian.Uint64(b[off:])
	off += 8
	if pol.Stored && p.GlobalTime == 0 {
		return fail(p, ReasonBadGlobalTime)
	}
	if pol.Sequence {
		if end-off < 4 {
			return fail(p, ReasonTruncated)
		}
		p.Sequence = binary.BigEndian.Uint32(b[off:])
		off += 4
		if p.Sequence == 0 {
			return fail(p, ReasonBadSequence)
		}
	}
	payload := b[off:end]
	p.Payload = payload
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
	case TypeIdentity:
		if len(payload) > 0 {
			return fail(p, ReasonTrailing)
		}
		return nil
	case TypeMissingIdentity:
		if len(payload) < 20 {
			return fail(p, ReasonTruncated)
		}
		if len(payload) > 20 {
			return fail(p, ReasonTrailing)
		}
		copy(p.MissingIdentity.Member[:], payload)
		return nil
	case TypeMissingSequence:
		return decodeMissingSequence(payload, p)
	case TypeMissingMessage:
		return decodeMissingMessage(payload, keyLen, p)
	case TypeAuthorize, TypeRevoke:
		return decodePermissions(payload, keyLen, p)
	case TypeUndoOwn, TypeUndoOther:
		return decodeUndo(payload, p.Type == TypeUndoOther, keyLen, p)
	case TypeDynamicSettings:
		return decodeDynamicSettings(payload, p)
	case TypeDestroyCommunity:
		if len(payload) < 1 {
			return fail(p, ReasonTruncated)
		}
		if len(payload) > 1 {
			return fail(p, ReasonTrailing)
		}
		p.Destroy = Destroy{Degree: payload[0]}
		return nil
	case TypeMissingProof:
		return decodeMissingProof(payload, keyLen, p)
	case TypeSignatureRequest, TypeSignatureResponse:
		return decodeCosign(payload, p)
	}
	if p.Type < FirstReservedType {
		return nil // a community type: the payload is the community's
	}
	return fail(p, ReasonUnknownType)
}

func decodeMissingSequence(b []byte, p *Packet) error {
	if len(b) < 29 {
		return fail(p, ReasonTruncated)
	}
	if len(b) > 29 {
		return fail(p, ReasonTrailing)
	}
	m := &p.MissingSequence
	copy(m.Member[:], b)
	m.Meta = Type(b[20])
	m.Low = binary.BigEndian.Uint32(b[21:])
	m.High = binary.BigEndian.Uint32(b[25:])
	if m.Low == 0 || m.Low > m.High {
		return fail(p, ReasonBadSequence)
	}
	return nil
}

func decodeMissingMessage(b []byte, keyLen int, p *Packet) error {
	if len(b) < 2 {
		return fail(p, ReasonTruncated)
	}
	kl := int(binary.BigEndian.Uint16(b))
	if kl == 0 || kl > MaxKeyLen || (keyLen > 0 && kl != keyLen) {
		return fail(p, ReasonBadKey)
	}
	rest := b[2:]
	if len(rest) < kl+8 {
		return fail(p, ReasonTruncated)
	}
	if (len(rest)-kl)%8 != 0 {
		return fail(p, ReasonTrailing)
	}
	p.MissingMessage = MissingMessage{Key: rest[:kl], times: rest[kl:]}
	for i := range p.MissingMessage.Len() {
		if p.MissingMessage.GlobalTime(i) == 0 {
			return fail(p, ReasonBadGlobalTime)
		}
	}
	return nil
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

// AppendPolicy appends the resolution section of a dynamic-resolution
// message: the creator's policy index.
func AppendPolicy(b []byte, index uint8) []byte { return append(b, index) }

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

// AppendSequence appends the 4-byte sequence number of a full-sync message
// with sequence numbers (after the global time).
func AppendSequence(b []byte, seq uint32) []byte {
	return binary.BigEndian.AppendUint32(b, seq)
}

// AppendMissingSequence appends a missing-sequence payload.
func AppendMissingSequence(b []byte, m *MissingSequence) []byte {
	b = append(b, m.Member[:]...)
	b = append(b, byte(m.Meta))
	b = binary.BigEndian.AppendUint32(b, m.Low)
	return binary.BigEndian.AppendUint32(b, m.High)
}

// AppendMissingMessage appends a missing-message payload asking for key's
// messages at the global times gts (at least one).
func AppendMissingMessage(b []byte, key []byte, gts []uint64) []byte {
	b = AppendMember(b, key)
	for _, gt := range gts {
		b = binary.BigEndian.AppendUint64(b, gt)
	}
	return b
}

// AppendMissingIdentity appends a missing-identity payload.
func AppendMissingIdentity(b []byte, m *MissingIdentity) []byte {
	return append(b, m.Member[:]...)
}
