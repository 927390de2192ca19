package wire

import "encoding/binary"

// Permission bits of a dispersy-authorize or dispersy-revoke entry
// (Dispersy's permission_map).
const (
	PermPermit    byte = 0x01
	PermAuthorize byte = 0x02
	PermRevoke    byte = 0x04
	PermUndo      byte = 0x08
	// PermAll is every permission bit; other bits are invalid.
	PermAll = PermPermit | PermAuthorize | PermRevoke | PermUndo
)

// Grant is one entry of a dispersy-authorize or dispersy-revoke payload:
// member Key gets (or loses) the permission bits Bits on message type Type.
type Grant struct {
	Key  []byte
	Type Type
	Bits byte
}

// Permissions is the payload of dispersy-authorize and dispersy-revoke:
// repeated until the end, a member key (2-byte length and key), a count,
// and count (type, permission bits) pairs. The decoder checked the layout:
// at least one entry, every key of the scheme's length, every count at
// least 1, every permission-bit set non-empty and within PermAll.
type Permissions struct {
	raw []byte // aliasing the packet
	n   int    // entries
}

// Len returns the number of (key, type, bits) entries.
func (p *Permissions) Len() int { return p.n }

// Each calls fn for every entry in wire order until fn returns false. The
// key aliases the packet.
func (p *Permissions) Each(fn func(g Grant) bool) {
	b := p.raw
	for len(b) > 0 {
		kl := int(binary.BigEndian.Uint16(b))
		key := b[2 : 2+kl]
		count := int(b[2+kl])
		b = b[3+kl:]
		for i := 0; i < count; i++ {
			if !fn(Grant{Key: key, Type: Type(b[2*i]), Bits: b[2*i+1]}) {
				return
			}
		}
		b = b[2*count:]
	}
}

func decodePermissions(b []byte, keyLen int, p *Packet) error {
	raw := b
	n := 0
	for len(b) > 0 {
		if len(b) < 2 {
			return fail(p, ReasonTruncated)
		}
		kl := int(binary.BigEndian.Uint16(b))
		if kl == 0 || kl > MaxKeyLen || (keyLen > 0 && kl != keyLen) {
			return fail(p, ReasonBadKey)
		}
		if len(b) < 2+kl+1 {
			return fail(p, ReasonTruncated)
		}
		count := int(b[2+kl])
		if count == 0 {
			return fail(p, ReasonBadPermission)
		}
		b = b[3+kl:]
		if len(b) < 2*count {
			return fail(p, ReasonTruncated)
		}
		for i := 0; i < count; i++ {
			if bits := b[2*i+1]; bits == 0 || bits&^PermAll != 0 {
				return fail(p, ReasonBadPermission)
			}
		}
		b = b[2*count:]
		n += count
	}
	if n == 0 {
		return fail(p, ReasonBadPermission)
	}
	p.Permissions = Permissions{raw: raw, n: n}
	return nil
}

// AppendPermissions appends a dispersy-authorize or dispersy-revoke
// payload. Consecutive grants with the same key share one key header (at
// most 255 entries each); callers sort the grants for a canonical packet.
func AppendPermissions(b []byte, grants []Grant) []byte {
	for i := 0; i < len(grants); {
		j := i + 1
		for j < len(grants) && j-i < 255 && string(grants[j].Key) == string(grants[i].Key) {
			j++
		}
		b = AppendMember(b, grants[i].Key)
		b = append(b, byte(j-i))
		for _, g := range grants[i:j] {
			b = append(b, byte(g.Type), g.Bits)
		}
		i = j
	}
	return b
}

// Undo is the payload of dispersy-undo-own (Key nil: the target's creator
// is the signer) and dispersy-undo-other: the message Key created at
// GlobalTime is undone. The decoder checked 0 < GlobalTime < the undo's
// own global time.
type Undo struct {
	Key        []byte // the target's creator (undo-other), aliasing the packet
	GlobalTime uint64
}

func decodeUndo(b []byte, other bool, keyLen int, p *Packet) error {
	u := Undo{}
	if other {
		if len(b) < 2 {
			return fail(p, ReasonTruncated)
		}
		kl := int(binary.BigEndian.Uint16(b))
		if kl == 0 || kl > MaxKeyLen || (keyLen > 0 && kl != keyLen) {
			return fail(p, ReasonBadKey)
		}
		if len(b) < 2+kl {
			return fail(p, ReasonTruncated)
		}
		u.Key = b[2 : 2+kl]
		b = b[2+kl:]
	}
	if len(b) < 8 {
		return fail(p, ReasonTruncated)
	}
	if len(b) > 8 {
		return fail(p, ReasonTrailing)
	}
	u.GlobalTime = binary.BigEndian.Uint64(b)
	if u.GlobalTime == 0 || u.GlobalTime >= p.GlobalTime {
		return fail(p, ReasonBadGlobalTime)
	}
	p.Undo = u
	return nil
}

// AppendUndoOwn appends a dispersy-undo-own payload.
func AppendUndoOwn(b []byte, gt uint64) []byte { return binary.BigEndian.AppendUint64(b, gt) }

// AppendUndoOther appends a dispersy-undo-other payload.
func AppendUndoOther(b []byte, key []byte, gt uint64) []byte {
	return binary.BigEndian.AppendUint64(AppendMember(b, key), gt)
}

// PolicyResolution is the only policy type a dispersy-dynamic-settings
// entry may carry: ASCII 'r', a resolution policy.
const PolicyResolution = 'r'

// DynamicSettings is the payload of dispersy-dynamic-settings: one or more
// (message type, policy index) pairs, 3 bytes each on the wire (type, 'r',
// index).
type DynamicSettings struct {
	raw []byte
}

// Len returns the number of (type, index) pairs.
func (d *DynamicSettings) Len() int { return len(d.raw) / 3 }

// At returns the i-th pair.
func (d *DynamicSettings) At(i int) (Type, uint8) { return Type(d.raw[3*i]), d.raw[3*i+2] }

func decodeDynamicSettings(b []byte, p *Packet) error {
	if len(b) < 3 {
		return fail(p, ReasonTruncated)
	}
	if len(b)%3 != 0 {
		return fail(p, ReasonTrailing)
	}
	for i := 0; i < len(b); i += 3 {
		if b[i+1] != PolicyResolution {
			return fail(p, ReasonBadPolicy)
		}
	}
	p.DynamicSettings = DynamicSettings{raw: b}
	return nil
}

// PolicyChange is one entry of a dispersy-dynamic-settings payload: from
// just after the message's global time, type Type follows its policy
// number Index.
type PolicyChange struct {
	Type  Type
	Index uint8
}

// AppendDynamicSettings appends a dispersy-dynamic-settings payload.
func AppendDynamicSettings(b []byte, changes []PolicyChange) []byte {
	for _, c := range changes {
		b = append(b, byte(c.Type), PolicyResolution, c.Index)
	}
	return b
}

// Degrees of dispersy-destroy-community (its one payload byte): soft-kill
// is ASCII 's', anything else is a hard kill ('h' when written).
const (
	DestroySoft = 's'
	DestroyHard = 'h'
)

// Destroy is the payload of dispersy-destroy-community.
type Destroy struct {
	Degree byte
}

// Hard reports whether the destroy is a hard kill.
func (d Destroy) Hard() bool { return d.Degree != DestroySoft }

// MissingProof is the payload of dispersy-missing-proof: "send me the
// permission messages that allow the message Key created at GlobalTime".
type MissingProof struct {
	Key        []byte // aliasing the packet
	GlobalTime uint64
}

func decodeMissingProof(b []byte, keyLen int, p *Packet) error {
	if len(b) < 10 {
		return fail(p, ReasonTruncated)
	}
	gt := binary.BigEndian.Uint64(b)
	kl := int(binary.BigEndian.Uint16(b[8:]))
	if kl == 0 || kl > MaxKeyLen || (keyLen > 0 && kl != keyLen) {
		return fail(p, ReasonBadKey)
	}
	if len(b) < 10+kl {
		return fail(p, ReasonTruncated)
	}
	if len(b) > 10+kl {
		return fail(p, ReasonTrailing)
	}
	if gt == 0 {
		return fail(p, ReasonBadGlobalTime)
	}
	p.MissingProof = MissingProof{Key: b[10 : 10+kl], GlobalTime: gt}
	return nil
}

// AppendMissingProof appends a dispersy-missing-proof payload (Dispersy's
// layout: the global time first, then the key).
func AppendMissingProof(b []byte, key []byte, gt uint64) []byte {
	b = binary.BigEndian.AppendUint64(b, gt)
	return AppendMember(b, key)
}

// Cosign is the payload of dispersy-signature-request and
// dispersy-signature-response: a request identifier and a complete
// double-signed packet whose missing signatures are zero bytes. The
// inner packet is not decoded here: decode it with DecodeWith and check
// its signatures, allowing the empty ones.
type Cosign struct {
	Identifier uint16
	Packet     []byte // aliasing the outer packet
}

func decodeCosign(b []byte, p *Packet) error {
	if len(b) < 2+MinPacketLen {
		return fail(p, ReasonTruncated)
	}
	p.Cosign = Cosign{Identifier: binary.BigEndian.Uint16(b), Packet: b[2:]}
	return nil
}

// AppendCosign appends a dispersy-signature-request or -response
// payload.
func AppendCosign(b []byte, id uint16, inner []byte) []byte {
	return append(binary.BigEndian.AppendUint16(b, id), inner...)
}

// AppendMembers appends the two member keys of a double-signed message:
// both lengths, then both keys.
func AppendMembers(b []byte, k1, k2 []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(k1)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(k2)))
	return append(append(b, k1...), k2...)
}

// IsEmptySignature reports whether sig is all zero bytes: an unsigned
// slot of a double-signed message.
func IsEmptySignature(sig []byte) bool {
	for _, c := range sig {
		if c != 0 {
			return false
		}
	}
	return len(sig) > 0
}
