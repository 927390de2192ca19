package protocol

import (
	"bytes"
	"net/netip"
	"slices"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Verdicts. A node reaches the verdict on every stored message from what
// it stores, whatever the order things arrived in:
//
//   - the permission timeline is the replay of the stored authorize,
//     revoke and dynamic-settings messages in (global time, packet) order
//     (timeline.go); one that the replay does not apply is marked
//     UndoneByTimeline;
//   - a message of a linear or dynamic type whose creator (both members,
//     double-signed) lacks the permit permission at its global time is
//     marked UndoneByTimeline, whatever undoes it;
//   - otherwise a message is undone by the valid undo message with the
//     lowest packet among those targeting it (an undo-other is valid while
//     its signer holds undo on the target's type at the undo's global
//     time), and in force when there is none;
//   - of two valid undo messages of one target by one signer, the higher
//     packet is marked undone by the lower.
//
// Each storing of a permission message replays the timeline and
// re-evaluates the messages it may change (from its global time on);
// each storing of an undo re-evaluates its target.

// undoRef is a stored undo message, indexed by its target.
type undoRef struct {
	ref        msgRef // the undo message
	id         uint64 // its store ID
	other      bool   // dispersy-undo-other
	targetMeta wire.Type
}

// VerdictObserver is an optional interface of an Observer: it is told
// when a stored message is undone or is in force again (Dispersy's undo
// and redo callbacks). r is valid only during the call; r.Undone is the
// new mark.
type VerdictObserver interface {
	VerdictChanged(cid wire.CID, r *Record)
}

// decodeStored decodes a stored packet into the node's auxiliary scratch
// packet (valid until the next call).
func (c *Community) decodeStored(pkt []byte) (*wire.Packet, bool) {
	n := c.node
	p := &n.s.aux
	err := wire.DecodeWith(pkt, n.scheme.SignatureLen(), KeyLen, &c.def.layouts, p)
	return p, err == nil
}

// grantsOf checks and decodes the entries of an authorize or revoke:
// every type must be one that can be granted (a signed community type, or
// Dispersy's linear types) and an undo bit needs an undoable type.
func (c *Community) grantsOf(p *wire.Packet) ([]permGrant, bool) {
	var gs []permGrant
	ok := true
	p.Permissions.Each(func(g wire.Grant) bool {
		m := c.def.metaOf(g.Type)
		switch {
		case m == nil, m.Unsigned, m.Type >= wire.FirstReservedType && !m.permissioned():
			ok = false
		case Permission(g.Bits)&UndoPerm != 0 && !m.Undoable:
			ok = false
		}
		gs = append(gs, permGrant{member: IDOf(g.Key), meta: g.Type, bits: Permission(g.Bits)})
		return ok
	})
	return gs, ok
}

// changesOf checks and decodes a dynamic-settings payload: every type must
// have dynamic resolution and the index name one of its policies.
func (c *Community) changesOf(p *wire.Packet) ([]wire.PolicyChange, bool) {
	ds := &p.DynamicSettings
	out := make([]wire.PolicyChange, 0, ds.Len())
	for i := range ds.Len() {
		t, ix := ds.At(i)
		m := c.def.metaOf(t)
		if m == nil || m.Resolution != Dynamic || int(ix) >= len(m.Policies) {
			return nil, false
		}
		out = append(out, wire.PolicyChange{Type: t, Index: ix})
	}
	return out, true
}

// allows reports whether the timeline lets the creator(s) of a message of
// type m make it: member at gt, and key2's member too when double-signed.
func (c *Community) allows(m *Meta, member MemberID, key2 []byte, gt uint64, ps *proofs) refusal {
	if !m.permissioned() {
		return allowed
	}
	why := c.tl.holds(member, m, PermitPerm, gt, m.Resolution, ps)
	if why == allowed && key2 != nil {
		why = c.tl.holds(IDOf(key2), m, PermitPerm, gt, m.Resolution, ps)
	}
	return why
}

// admit runs the type's own checks on a received message that passed the
// distribution's (Dispersy's check callbacks): it returns the Undone mark
// to store it with and true, or false when it dropped or delayed it.
func (c *Community) admit(from netip.AddrPort, p *wire.Packet, pkt []byte, m *Meta, member MemberID) (uint64, bool) {
	n := c.node
	c.pending = nil
	switch m.Type {
	case wire.TypeAuthorize, wire.TypeRevoke:
		gs, ok := c.grantsOf(p)
		if !ok {
			n.drop(wire.ReasonBadPermission)
			return 0, false
		}
		pm := &permMsg{ref: msgRef{member, p.GlobalTime}, kind: m.Type, grants: gs}
		if c.tl.valid(pm, nil) != allowed {
			c.delayProof(from, pkt, p, member)
			return 0, false
		}
		c.pending = pm
		return 0, true
	case wire.TypeDynamicSettings:
		cs, ok := c.changesOf(p)
		if !ok {
			n.drop(wire.ReasonBadPolicy)
			return 0, false
		}
		pm := &permMsg{ref: msgRef{member, p.GlobalTime}, kind: m.Type, changes: cs}
		if c.tl.valid(pm, nil) != allowed {
			c.delayProof(from, pkt, p, member)
			return 0, false
		}
		c.pending = pm
		return 0, true
	case wire.TypeUndoOwn, wire.TypeUndoOther:
		return c.admitUndo(from, p, pkt, member)
	case wire.TypeDestroyCommunity:
		if !p.Destroy.Hard() {
			// Dispersy stores and forwards a soft kill and then fails to
			// apply it (not implemented): it is refused here
			n.drop(wire.ReasonNotWanted)
			return 0, false
		}
		if c.tl.holds(member, m, PermitPerm, p.GlobalTime, Linear, nil) != allowed {
			c.delayProof(from, pkt, p, member)
			return 0, false
		}
		return 0, true
	}
	var ps proofs
	if c.allows(m, member, p.Key2, p.GlobalTime, &ps) != allowed {
		if m.Resolution == Dynamic {
			// correct a sender whose policy lags: send it the settings used
			for _, r := range ps.policy {
				if pr, ok := c.store.Get(r.member, r.gt); ok {
					n.send(from, pr.Meta, pr.Packet)
				}
			}
		}
		c.delayProof(from, pkt, p, member)
		return 0, false
	}
	if m.Undoable {
		return c.undoneBy(msgRef{member, p.GlobalTime}), true
	}
	return 0, true
}

// undoTarget returns the message an undo packet targets and its creator's key.
func undoTarget(p *wire.Packet, member MemberID) (msgRef, []byte) {
	if p.Type == wire.TypeUndoOther {
		return msgRef{IDOf(p.Undo.Key), p.Undo.GlobalTime}, p.Undo.Key
	}
	return msgRef{member, p.Undo.GlobalTime}, p.Key
}

// admitUndo is Dispersy's check_undo: the target must be stored (else the
// undo waits for it and asks the sender), of an undoable type, and an
// undo-other's signer must hold undo on that type. A second valid undo of
// the same target by the same signer whose packet is higher than the
// stored one is stored undone by it, and the stored one is sent back.
func (c *Community) admitUndo(from netip.AddrPort, p *wire.Packet, pkt []byte, member MemberID) (uint64, bool) {
	n := c.node
	target, key := undoTarget(p, member)
	t, ok := c.store.Get(target.member, target.gt)
	if !ok {
		c.delayTarget(from, pkt, p, member, target, key)
		return 0, false
	}
	tm := c.def.metaOf(t.Meta)
	if tm == nil || !tm.Undoable {
		n.drop(wire.ReasonNotUndoable)
		return 0, false
	}
	if p.Type == wire.TypeUndoOther && c.tl.holds(member, tm, UndoPerm, p.GlobalTime, Linear, nil) != allowed {
		c.delayProof(from, pkt, p, member)
		return 0, false
	}
	c.pendingUndo = undoRef{ref: msgRef{member, p.GlobalTime}, other: p.Type == wire.TypeUndoOther, targetMeta: t.Meta}
	if low, pk, ok := c.bestUndo(target, &member); ok {
		if pk == nil {
			r, _ := c.store.Get(low.ref.member, low.ref.gt)
			pk = r.Packet
		}
		if bytes.Compare(pk, pkt) < 0 {
			// the sender apparently lacks the lower undo: give it back
			n.send(from, wire.Type(pk[wire.PrefixLen]), pk)
			return low.id, true
		}
	}
	return 0, true
}

// undoValid reports whether an undo message is in force: an undo-other
// while its signer holds undo on the target's type.
func (c *Community) undoValid(u undoRef) bool {
	if !u.other {
		return true
	}
	tm := c.def.metaOf(u.targetMeta)
	return tm != nil && c.tl.holds(u.ref.member, tm, UndoPerm, u.ref.gt, Linear, nil) == allowed
}

// bestUndo returns the valid undo of target with the lowest packet, of
// signer only (any signer when only is nil), and its packet (nil when it
// is the target's only undo: nothing needed comparing).
func (c *Community) bestUndo(target msgRef, only *MemberID) (undoRef, []byte, bool) {
	var best undoRef
	var bestPkt []byte
	found := false
	for _, u := range c.undos[target] {
		if (only != nil && u.ref.member != *only) || !c.undoValid(u) {
			continue
		}
		if !found && len(c.undos[target]) == 1 {
			return u, nil, true // alone: no packet to compare
		}
		r, ok := c.store.Get(u.ref.member, u.ref.gt)
		if !ok {
			continue
		}
		if !found || bytes.Compare(r.Packet, bestPkt) < 0 {
			best, bestPkt, found = u, r.Packet, true
		}
	}
	return best, bestPkt, found
}

// undoneBy returns the Undone mark the undo messages give target: the ID
// of its best valid undo, or 0.
func (c *Community) undoneBy(target msgRef) uint64 {
	if len(c.undos[target]) == 0 {
		return 0
	}
	if u, _, ok := c.bestUndo(target, nil); ok {
		return u.id
	}
	return 0
}

// verdictOf returns the Undone mark a stored message of type m should
// carry.
func (c *Community) verdictOf(r *Record, m *Meta) uint64 {
	if m.permissioned() {
		var key2 []byte
		if m.DoubleSigned {
			if p, ok := c.decodeStored(r.Packet); ok {
				key2 = p.Key2
			}
		}
		if c.allows(m, r.Member, key2, r.GlobalTime, nil) != allowed {
			return UndoneByTimeline
		}
	}
	if m.Undoable {
		return c.undoneBy(msgRef{r.Member, r.GlobalTime})
	}
	return 0
}

// undoMark returns the Undone mark of undo message u of target.
func (c *Community) undoMark(u undoRef, target msgRef) uint64 {
	if !c.undoValid(u) {
		return UndoneByTimeline
	}
	if len(c.undos[target]) < 2 {
		return 0
	}
	low, _, ok := c.bestUndo(target, &u.ref.member)
	if ok && low.ref != u.ref {
		return low.id
	}
	return 0
}

// mark sets a stored message's Undone mark if it differs, and tells the
// observer.
func (c *Community) mark(ref msgRef, want uint64) {
	r, ok := c.store.Get(ref.member, ref.gt)
	if !ok || r.Undone == want {
		return
	}
	c.store.SetUndone(ref.member, ref.gt, want)
	r.Undone = want
	if vo, ok := c.node.obs.(VerdictObserver); ok {
		vo.VerdictChanged(c.cid, &r)
	}
}

// retarget re-evaluates target and the undo messages of it.
func (c *Community) retarget(target msgRef) {
	for _, u := range c.undos[target] {
		c.mark(u.ref, c.undoMark(u, target))
	}
	if t, ok := c.store.Get(target.member, target.gt); ok {
		if m := c.def.metaOf(t.Meta); m != nil {
			c.mark(target, c.verdictOf(&t, m))
		}
	}
}

// applied does what storing a message of type m means beyond storing it:
// the timeline, the undo index and verdicts, the kill, and waking the
// messages waiting for it. p is the decoded packet of r.
func (c *Community) applied(r *Record, m *Meta, p *wire.Packet) {
	ref := msgRef{r.Member, r.GlobalTime}
	switch m.Type {
	case wire.TypeAuthorize, wire.TypeRevoke, wire.TypeDynamicSettings:
		pm := c.pending
		c.pending = nil
		if pm == nil || pm.ref != ref {
			// created here: decode what was checked before creating
			pm = &permMsg{ref: ref, kind: m.Type}
			if m.Type == wire.TypeDynamicSettings {
				pm.changes, _ = c.changesOf(p)
			} else {
				pm.grants, _ = c.grantsOf(p)
			}
		}
		if st, ok := c.store.Get(ref.member, ref.gt); ok {
			pm.pkt = st.Packet
		}
		if c.tl.insert(pm) {
			c.timelineChanged(ref.gt)
		}
		c.wakeProof()
	case wire.TypeUndoOwn, wire.TypeUndoOther:
		u := c.pendingUndo
		target, _ := undoTarget(p, r.Member)
		if u.ref != ref {
			u = undoRef{ref: ref, other: m.Type == wire.TypeUndoOther}
			if t, ok := c.store.Get(target.member, target.gt); ok {
				u.targetMeta = t.Meta
			}
		}
		u.id = r.ID
		c.pendingUndo = undoRef{}
		if c.undos == nil {
			c.undos = make(map[msgRef][]undoRef)
		}
		c.undos[target] = append(c.undos[target], u)
		c.retarget(target)
	case wire.TypeDestroyCommunity:
		c.kill(r)
		return
	}
	c.wakeTarget(ref)
}

// timelineChanged re-evaluates what a new permission message at global
// time gt can change: the permission messages' own marks, every undo-other
// from gt on and its target, and every message of a linear or dynamic
// type from gt on.
func (c *Community) timelineChanged(gt uint64) {
	for _, pm := range c.tl.msgs {
		want := uint64(0)
		if !pm.applied {
			want = UndoneByTimeline
		}
		if pm.mark != want {
			c.mark(pm.ref, want)
			pm.mark = want
		}
	}
	var refs []msgRef
	c.store.Scan(wire.TypeUndoOther, gt, maxGT, false, func(r *Record) bool {
		refs = append(refs, msgRef{r.Member, r.GlobalTime})
		return true
	})
	var targets []msgRef
	for _, ref := range refs {
		if r, ok := c.store.Get(ref.member, ref.gt); ok {
			if p, ok := c.decodeStored(r.Packet); ok {
				t, _ := undoTarget(p, r.Member)
				if !slices.Contains(targets, t) {
					targets = append(targets, t)
				}
			}
		}
	}
	for _, t := range targets {
		c.retarget(t)
	}
	for _, m := range c.def.permissioned {
		refs = refs[:0]
		c.store.Scan(m.Type, gt, maxGT, false, func(r *Record) bool {
			refs = append(refs, msgRef{r.Member, r.GlobalTime})
			return true
		})
		for _, ref := range refs {
			if r, ok := c.store.Get(ref.member, ref.gt); ok {
				c.mark(ref, c.verdictOf(&r, m))
			}
		}
	}
}

// forget removes a deleted message from the timeline and the undo index
// (a sequence conflict or a higher copy replaced it).
func (c *Community) forget(r *Record) {
	ref := msgRef{r.Member, r.GlobalTime}
	switch r.Meta {
	case wire.TypeAuthorize, wire.TypeRevoke, wire.TypeDynamicSettings:
		if c.tl.remove(ref) {
			c.timelineChanged(ref.gt)
		}
	case wire.TypeUndoOwn, wire.TypeUndoOther:
		p, ok := c.decodeStored(r.Packet)
		if !ok {
			return
		}
		t, _ := undoTarget(p, r.Member)
		us := c.undos[t]
		if i := slices.IndexFunc(us, func(u undoRef) bool { return u.ref == ref }); i >= 0 {
			c.undos[t] = slices.Delete(us, i, i+1)
			c.retarget(t)
		}
	}
}

// loadPermissions rebuilds the timeline and the undo index from the store
// (a community starting on a store that holds messages) and re-evaluates
// every verdict.
func (c *Community) loadPermissions() {
	c.tl = newTimeline(c.def, c.cid)
	for _, t := range []wire.Type{wire.TypeAuthorize, wire.TypeRevoke, wire.TypeDynamicSettings} {
		var recs []Record
		c.store.Scan(t, 0, maxGT, false, func(r *Record) bool {
			rr := *r
			rr.Packet = nil
			recs = append(recs, rr)
			return true
		})
		for _, rr := range recs {
			r, ok := c.store.Get(rr.Member, rr.GlobalTime)
			if !ok {
				continue
			}
			p, ok := c.decodeStored(r.Packet)
			if !ok {
				continue
			}
			pm := &permMsg{ref: msgRef{r.Member, r.GlobalTime}, kind: t, pkt: r.Packet, mark: r.Undone}
			if t == wire.TypeDynamicSettings {
				pm.changes, ok = c.changesOf(p)
			} else {
				pm.grants, ok = c.grantsOf(p)
			}
			if ok {
				c.tl.msgs = append(c.tl.msgs, pm)
			}
		}
	}
	slices.SortFunc(c.tl.msgs, func(a, b *permMsg) int {
		if a.less(b) {
			return -1
		}
		if b.less(a) {
			return 1
		}
		return 0
	})
	c.tl.replay()
	for _, t := range []wire.Type{wire.TypeUndoOwn, wire.TypeUndoOther} {
		var recs []Record
		c.store.Scan(t, 0, maxGT, false, func(r *Record) bool {
			rr := *r
			rr.Packet = bytes.Clone(r.Packet)
			recs = append(recs, rr)
			return true
		})
		for i := range recs {
			r := &recs[i]
			p, ok := c.decodeStored(r.Packet)
			if !ok {
				continue
			}
			target, _ := undoTarget(p, r.Member)
			u := undoRef{ref: msgRef{r.Member, r.GlobalTime}, id: r.ID, other: t == wire.TypeUndoOther}
			if tr, ok := c.store.Get(target.member, target.gt); ok {
				u.targetMeta = tr.Meta
			}
			if c.undos == nil {
				c.undos = make(map[msgRef][]undoRef)
			}
			c.undos[target] = append(c.undos[target], u)
		}
	}
	if len(c.tl.msgs) > 0 || len(c.undos) > 0 {
		c.timelineChanged(0)
		var targets []msgRef
		for t := range c.undos {
			targets = append(targets, t)
		}
		slices.SortFunc(targets, func(a, b msgRef) int {
			if a.gt != b.gt {
				return cmpU64(a.gt, b.gt)
			}
			return bytes.Compare(a.member[:], b.member[:])
		})
		for _, t := range targets {
			c.retarget(t)
		}
	}
}

// proofsOf returns the permission messages that allow a stored message,
// or nil when it is not allowed or needs none (Dispersy's answer to
// dispersy-missing-proof).
func (c *Community) proofsOf(r *Record) []msgRef {
	p, ok := c.decodeStored(r.Packet)
	if !ok {
		return nil
	}
	m := c.def.metaOf(r.Meta)
	if m == nil {
		return nil
	}
	var ps proofs
	why := allowed
	switch r.Meta {
	case wire.TypeAuthorize, wire.TypeRevoke:
		gs, _ := c.grantsOf(p)
		why = c.tl.valid(&permMsg{ref: msgRef{r.Member, r.GlobalTime}, kind: r.Meta, grants: gs}, &ps)
	case wire.TypeDynamicSettings:
		cs, _ := c.changesOf(p)
		why = c.tl.valid(&permMsg{ref: msgRef{r.Member, r.GlobalTime}, kind: r.Meta, changes: cs}, &ps)
	case wire.TypeUndoOther:
		target, _ := undoTarget(p, r.Member)
		if t, ok := c.store.Get(target.member, target.gt); ok {
			if tm := c.def.metaOf(t.Meta); tm != nil {
				why = c.tl.holds(r.Member, tm, UndoPerm, r.GlobalTime, Linear, &ps)
			}
		}
	case wire.TypeDestroyCommunity:
		why = c.tl.holds(r.Member, m, PermitPerm, r.GlobalTime, Linear, &ps)
	default:
		key2 := p.Key2
		why = c.allows(m, r.Member, key2, r.GlobalTime, &ps)
	}
	if why != allowed {
		return nil
	}
	return ps.refs
}

// onMissingProof sends the requester the permission messages that allow
// the message it names, one level of the chain (their own proofs are asked
// for in turn).
func (c *Community) onMissingProof(from netip.AddrPort, p *wire.Packet) {
	n := c.node
	mp := &p.MissingProof
	r, ok := c.store.Get(IDOf(mp.Key), mp.GlobalTime)
	if !ok {
		return // Dispersy: "someone asked for proof for a message that we do not have"
	}
	for _, ref := range c.proofsOf(&r) {
		if pr, ok := c.store.Get(ref.member, ref.gt); ok {
			n.send(from, pr.Meta, pr.Packet)
		}
	}
}

// sendUndoOf answers a copy of a message undone by an undo message with
// that undo (Dispersy does it for last-sync and full-sync types without
// sequence numbers).
func (c *Community) sendUndoOf(from netip.AddrPort, r *Record) {
	m := c.def.metaOf(r.Meta)
	if m == nil || m.SequenceNumbers {
		return
	}
	for _, u := range c.undos[msgRef{r.Member, r.GlobalTime}] {
		if u.id == r.Undone {
			if ur, ok := c.store.Get(u.ref.member, u.ref.gt); ok {
				c.node.send(from, ur.Meta, ur.Packet)
			}
			return
		}
	}
}
