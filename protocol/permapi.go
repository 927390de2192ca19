package protocol

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// ErrNotPermitted is returned when the node's member lacks the permission
// an operation needs.
var ErrNotPermitted = errors.New("protocol: not permitted")

var errNotStored = errors.New("protocol: no such message stored")

// writable reports why the community cannot create messages, if it cannot.
func (c *Community) writable() error {
	switch {
	case c.store == nil:
		return errNoStore
	case c.destroyed != nil:
		return ErrDestroyed
	}
	return nil
}

// Master returns the community's master member id: the community id
// itself (the SHA-1 of the master key). The master holds every permission.
func (c *Community) Master() MemberID { return MemberID(c.cid) }

// Found makes the community's master grant the node's member every
// permission (Dispersy's create_community): master is the master key,
// whose SHA-1 is the community id. It stores the master's identity and a
// dispersy-authorize signed by the master giving the node's member
// authorize, revoke and permit on every linear and dynamic type (and undo
// where undoable), and authorize, revoke and undo on every public
// undoable type. The authorize is not pushed: it spreads by sync, and as
// proof. Founding a community already founded does nothing.
func (c *Community) Found(master PrivateKey) error {
	if err := c.writable(); err != nil {
		return fmt.Errorf("found: %w", err)
	}
	if IDOf(master.Public()) != MemberID(c.cid) {
		return fmt.Errorf("found: the key's member id %x is not the community id %x", IDOf(master.Public()), c.cid)
	}
	mid := MemberID(c.cid)
	done := false
	c.store.ScanMember(mid, wire.TypeAuthorize, func(*Record) bool { done = true; return false })
	if done {
		return nil
	}
	has := false
	c.store.ScanMember(mid, wire.TypeIdentity, func(*Record) bool { has = true; return false })
	if !has {
		if _, err := c.createAt(master, &identityMeta, c.nextGT(&identityMeta), nil); err != nil {
			return fmt.Errorf("found: master identity: %w", err)
		}
	}
	var gs []wire.Grant
	add := func(m *Meta, bits Permission) {
		gs = append(gs, wire.Grant{Key: c.node.pub, Type: m.Type, Bits: byte(bits)})
	}
	for i := range c.def.metas {
		m := &c.def.metas[i]
		switch {
		case m.permissioned():
			bits := AuthorizePerm | RevokePerm | PermitPerm
			if m.Undoable {
				bits |= UndoPerm
			}
			add(m, bits)
		case m.Stored() && m.Undoable && !m.Unsigned:
			add(m, AuthorizePerm|RevokePerm|UndoPerm)
		}
	}
	for _, m := range []*Meta{&undoOtherMeta, &destroyMeta, &dynamicSettingsMeta} {
		add(m, AuthorizePerm|RevokePerm|PermitPerm)
	}
	slices.SortStableFunc(gs, func(a, b wire.Grant) int { return int(a.Type) - int(b.Type) })
	_, err := c.createAt(master, &authorizeMeta, c.nextGT(&authorizeMeta), wire.AppendPermissions(nil, gs))
	c.node.drainResume()
	if err != nil {
		return fmt.Errorf("found: %w", err)
	}
	return nil
}

// Grant names permissions of one member on one message type, for
// Authorize and Revoke.
type Grant struct {
	// Member is the member's public key.
	Member []byte
	// Meta is the message type's name.
	Meta string
	// Permissions are the permissions granted or revoked.
	Permissions Permission
}

// Authorize grants permissions (dispersy-authorize, pushed to 10
// candidates). The node's member must hold authorize on every type named
// and, on at least one, the permissions it hands out.
func (c *Community) Authorize(grants ...Grant) (Record, error) {
	return c.permissions(&authorizeMeta, grants)
}

// Revoke revokes permissions (dispersy-revoke): from the revoke's global
// time on, the member no longer holds them, and stored messages that this
// refuses are undone. The node's member must hold revoke on every type
// named and, on at least one, the permissions it takes.
func (c *Community) Revoke(grants ...Grant) (Record, error) {
	return c.permissions(&revokeMeta, grants)
}

func (c *Community) permissions(m *Meta, grants []Grant) (Record, error) {
	what := m.Name[len("dispersy-"):]
	if err := c.writable(); err != nil {
		return Record{}, fmt.Errorf("%s: %w", what, err)
	}
	if len(grants) == 0 {
		return Record{}, fmt.Errorf("%s: no permissions named", what)
	}
	var gs []wire.Grant
	var pgs []permGrant
	for _, g := range grants {
		tm := c.def.Meta(g.Meta)
		switch {
		case len(g.Member) != KeyLen:
			return Record{}, fmt.Errorf("%s: member key of %d bytes, want %d", what, len(g.Member), KeyLen)
		case tm == nil || tm.Type == wire.TypeIdentity:
			return Record{}, fmt.Errorf("%s: %w %q", what, errUnknownMeta, g.Meta)
		case g.Permissions == 0 || g.Permissions&^Permission(wire.PermAll) != 0:
			return Record{}, fmt.Errorf("%s %s: no valid permission named", what, g.Meta)
		case tm.Unsigned || (tm.Type >= wire.FirstReservedType && !tm.permissioned()):
			return Record{}, fmt.Errorf("%s: permissions cannot be granted on %s", what, g.Meta)
		case g.Permissions&UndoPerm != 0 && !tm.Undoable:
			return Record{}, fmt.Errorf("%s: %s cannot be undone", what, g.Meta)
		}
		gs = append(gs, wire.Grant{Key: g.Member, Type: tm.Type, Bits: byte(g.Permissions)})
	}
	// canonical: by key, then type; one entry per (key, type)
	slices.SortStableFunc(gs, func(a, b wire.Grant) int {
		if k := bytes.Compare(a.Key, b.Key); k != 0 {
			return k
		}
		return int(a.Type) - int(b.Type)
	})
	merged := gs[:0]
	for _, g := range gs {
		if k := len(merged); k > 0 && bytes.Equal(merged[k-1].Key, g.Key) && merged[k-1].Type == g.Type {
			merged[k-1].Bits |= g.Bits
			continue
		}
		merged = append(merged, g)
	}
	for _, g := range merged {
		pgs = append(pgs, permGrant{member: IDOf(g.Key), meta: g.Type, bits: Permission(g.Bits)})
	}
	gt := c.nextGT(m)
	if c.tl.valid(&permMsg{ref: msgRef{c.node.mid, gt}, kind: m.Type, grants: pgs}, nil) != allowed {
		return Record{}, fmt.Errorf("%s: %w at global time %d", what, ErrNotPermitted, gt)
	}
	r, err := c.createAt(c.node.key, m, gt, wire.AppendPermissions(nil, merged))
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", what, err)
	}
	c.forward(m, &r, nil)
	c.node.drainResume()
	return r, nil
}

// Undo undoes the stored message member created at gt: its creator with
// dispersy-undo-own, anyone else holding undo on its type with
// dispersy-undo-other. A message already undone by an undo message gives
// that undo message back instead of a second one (Dispersy's create_undo).
func (c *Community) Undo(member MemberID, gt uint64) (Record, error) {
	if err := c.writable(); err != nil {
		return Record{}, fmt.Errorf("undo: %w", err)
	}
	t, ok := c.store.Get(member, gt)
	if !ok {
		return Record{}, fmt.Errorf("undo %x:%d: %w", member[:4], gt, errNotStored)
	}
	tm := c.def.metaOf(t.Meta)
	if tm == nil || !tm.Undoable {
		return Record{}, fmt.Errorf("undo %x:%d: %s messages cannot be undone", member[:4], gt, t.Meta)
	}
	target := msgRef{member, gt}
	if t.Undone != 0 && t.Undone != UndoneByTimeline {
		for _, u := range c.undos[target] {
			if u.id == t.Undone {
				if r, ok := c.store.Get(u.ref.member, u.ref.gt); ok {
					return r, nil
				}
			}
		}
	}
	m := &undoOwnMeta
	var payload []byte
	tgt := c.nextGT(m)
	if member != c.node.mid {
		m = &undoOtherMeta
		tgt = c.nextGT(m)
		if c.tl.holds(c.node.mid, tm, UndoPerm, tgt, Linear, nil) != allowed {
			return Record{}, fmt.Errorf("undo %x:%d: %w: undo on %s at global time %d", member[:4], gt, ErrNotPermitted, tm.Name, tgt)
		}
		p, ok := c.decodeStored(t.Packet)
		if !ok {
			return Record{}, fmt.Errorf("undo %x:%d: stored packet does not decode", member[:4], gt)
		}
		payload = wire.AppendUndoOther(nil, bytes.Clone(p.Key), gt)
	} else {
		payload = wire.AppendUndoOwn(nil, gt)
	}
	r, err := c.createAt(c.node.key, m, tgt, payload)
	if err != nil {
		return Record{}, fmt.Errorf("undo: %w", err)
	}
	c.forward(m, &r, nil)
	c.node.drainResume()
	return r, nil
}

// SetPolicy switches dynamic type meta to its policy number index from
// just after the message's global time (dispersy-dynamic-settings). It
// needs the permit permission on dispersy-dynamic-settings.
func (c *Community) SetPolicy(meta string, index int) (Record, error) {
	if err := c.writable(); err != nil {
		return Record{}, fmt.Errorf("set policy: %w", err)
	}
	tm := c.def.Meta(meta)
	if tm == nil || tm.Resolution != Dynamic {
		return Record{}, fmt.Errorf("set policy: %q is not a type with dynamic resolution", meta)
	}
	if index < 0 || index >= len(tm.Policies) {
		return Record{}, fmt.Errorf("set policy %s: policy %d out of 0..%d", meta, index, len(tm.Policies)-1)
	}
	m := &dynamicSettingsMeta
	gt := c.nextGT(m)
	if c.tl.holds(c.node.mid, m, PermitPerm, gt, Linear, nil) != allowed {
		return Record{}, fmt.Errorf("set policy %s: %w at global time %d", meta, ErrNotPermitted, gt)
	}
	r, err := c.createAt(c.node.key, m, gt, wire.AppendDynamicSettings(nil, []wire.PolicyChange{{Type: tm.Type, Index: uint8(index)}}))
	if err != nil {
		return Record{}, fmt.Errorf("set policy: %w", err)
	}
	c.forward(m, &r, nil)
	c.node.drainResume()
	return r, nil
}

// Permitted reports whether member holds perm (one permission) on the
// type named meta for a message created now (at the next global time),
// as the node's timeline stands.
func (c *Community) Permitted(member MemberID, meta string, perm Permission) bool {
	m := c.def.Meta(meta)
	if m == nil || c.tl == nil {
		return false
	}
	res := Linear
	if perm == PermitPerm {
		res = m.Resolution
	}
	return c.tl.holds(member, m, perm, c.nextGT(m), res, nil) == allowed
}

// PolicyAt returns the policy index in force for dynamic type meta at
// global time gt (0 when none was set), and whether meta is dynamic.
func (c *Community) PolicyAt(meta string, gt uint64) (int, bool) {
	m := c.def.Meta(meta)
	if m == nil || m.Resolution != Dynamic || c.tl == nil {
		return 0, false
	}
	idx, _ := c.tl.policyAt(m.Type, gt)
	return int(idx), true
}

// Verdict is what a node holds of a message.
type Verdict uint8

// Verdicts.
const (
	// Absent: not stored.
	Absent Verdict = iota
	// InForce: stored and not undone.
	InForce
	// UndoneByUndo: undone by an undo message.
	UndoneByUndo
	// Refused: stored, but the permission timeline refuses it.
	Refused
)

// String names the verdict.
func (v Verdict) String() string {
	return [...]string{"absent", "in-force", "undone", "refused"}[v]
}

// VerdictOf returns the verdict on the message member created at gt.
func (c *Community) VerdictOf(member MemberID, gt uint64) Verdict {
	if c.store == nil {
		return Absent
	}
	r, ok := c.store.Get(member, gt)
	return verdictOfMark(ok, r.Undone)
}

func verdictOfMark(stored bool, undone uint64) Verdict {
	switch {
	case !stored:
		return Absent
	case undone == 0:
		return InForce
	case undone == UndoneByTimeline:
		return Refused
	}
	return UndoneByUndo
}

// VerdictHash is a digest of the community's verdicts, equal on two nodes
// exactly when they hold the same messages of the community's own types
// in force and the same ones undone by undo messages, and the same
// permission messages (authorize, revoke, dynamic-settings, destroy) in
// force. Refused messages count as not held: a node that received a
// message after the revocation that refuses it never stores it. Undo
// messages show through their targets.
func (c *Community) VerdictHash() [32]byte {
	h := sha256.New()
	if c.store == nil {
		return [32]byte(h.Sum(nil))
	}
	var buf [29]byte
	each := func(m *Meta, undone bool) {
		c.store.Scan(m.Type, 0, maxGT, false, func(r *Record) bool {
			v := verdictOfMark(true, r.Undone)
			if v == Refused || (v == UndoneByUndo && !undone) {
				return true
			}
			copy(buf[:20], r.Member[:])
			binary.BigEndian.PutUint64(buf[20:], r.GlobalTime)
			buf[28] = byte(v)
			h.Write(buf[:])
			return true
		})
	}
	for i := range c.def.metas {
		if m := &c.def.metas[i]; m.Stored() {
			each(m, true)
		}
	}
	for _, m := range []*Meta{&authorizeMeta, &revokeMeta, &dynamicSettingsMeta, &destroyMeta} {
		each(m, false)
	}
	return [32]byte(h.Sum(nil))
}
