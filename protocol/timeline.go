package protocol

import (
	"bytes"
	"slices"
	"sort"
	"strings"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Permission is a set of Dispersy's permissions on one message type.
type Permission uint8

// Dispersy's permissions, as the bits dispersy-authorize carries.
const (
	// PermitPerm lets a member create messages of a linear type.
	PermitPerm = Permission(wire.PermPermit)
	// AuthorizePerm lets a member grant permissions on the type.
	AuthorizePerm = Permission(wire.PermAuthorize)
	// RevokePerm lets a member revoke permissions on the type.
	RevokePerm = Permission(wire.PermRevoke)
	// UndoPerm lets a member undo others' messages of the type.
	UndoPerm = Permission(wire.PermUndo)
)

var permNames = [...]struct {
	p    Permission
	name string
}{{PermitPerm, "permit"}, {AuthorizePerm, "authorize"}, {RevokePerm, "revoke"}, {UndoPerm, "undo"}}

// String lists the permissions as "permit,undo".
func (p Permission) String() string {
	var names []string
	for _, n := range permNames {
		if p&n.p != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// ParsePermission reads one permission name (permit, authorize, revoke,
// undo).
func ParsePermission(s string) (Permission, bool) {
	for _, n := range permNames {
		if n.name == s {
			return n.p, true
		}
	}
	return 0, false
}

// msgRef names a stored message: its creator and global time.
type msgRef struct {
	member MemberID
	gt     uint64
}

// permKey is one permission of one member on one message type.
type permKey struct {
	member MemberID
	meta   wire.Type
	perm   Permission // one bit
}

// grantEntry is the state of a permKey from gt on, and the messages that
// set it there.
type grantEntry struct {
	gt      uint64
	granted bool
	proofs  []msgRef
}

// policyEntry is the policy a dispersy-dynamic-settings message set for a
// dynamic type from just after gt.
type policyEntry struct {
	gt    uint64
	index uint8
	proof msgRef
}

// permGrant is one decoded entry of a dispersy-authorize or -revoke.
type permGrant struct {
	member MemberID
	meta   wire.Type
	bits   Permission
}

// permMsg is a stored authorize, revoke or dynamic-settings message,
// decoded for the timeline's replay.
type permMsg struct {
	ref     msgRef
	kind    wire.Type
	pkt     []byte // the store's packet: messages of one global time replay in its order
	grants  []permGrant
	changes []wire.PolicyChange
	applied bool   // in force in the replay
	mark    uint64 // the record's Undone mark as stored
}

// timeline is Dispersy's permission timeline, kept as a pure function of
// the stored permission messages: they are replayed in (global time,
// packet bytes) order, each applied if its signer holds, at its global
// time, what applying it needs (Dispersy replays in this order when a
// community starts; it applies received messages in arrival order, which
// can give nodes with the same messages different timelines).
type timeline struct {
	def      *Definition
	master   MemberID
	msgs     []*permMsg
	grants   map[permKey][]grantEntry    // by global time
	policies map[wire.Type][]policyEntry // by global time
}

func newTimeline(def *Definition, cid wire.CID) *timeline {
	return &timeline{def: def, master: MemberID(cid), grants: make(map[permKey][]grantEntry),
		policies: make(map[wire.Type][]policyEntry)}
}

// proofs collects the permission messages a check relied on, each once, in
// the order met.
type proofs struct {
	refs   []msgRef
	policy []msgRef // the dynamic-settings messages among them
}

func (ps *proofs) add(r msgRef) {
	if ps != nil && !slices.Contains(ps.refs, r) {
		ps.refs = append(ps.refs, r)
	}
}

// refusal says why a check failed.
type refusal uint8

const (
	allowed refusal = iota
	noGrant         // no entry for the permission at or before the time
	revoked         // the permission was revoked
)

// policyAt returns the index of the policy in force for dynamic type t at
// global time gt: the newest setting made strictly before gt (default 0).
func (tl *timeline) policyAt(t wire.Type, gt uint64) (uint8, *policyEntry) {
	es := tl.policies[t]
	i := sort.Search(len(es), func(i int) bool { return es[i].gt >= gt }) - 1
	if i < 0 {
		return 0, nil
	}
	return es[i].index, &es[i]
}

// holds reports whether member holds perm (one bit) on m at global time
// gt, m resolved as res (Dynamic: the policy in force at gt). The master
// member holds everything. ps, if not nil, collects the proofs.
func (tl *timeline) holds(member MemberID, m *Meta, perm Permission, gt uint64, res ResolutionKind, ps *proofs) refusal {
	if member == tl.master {
		return allowed
	}
	if res == Dynamic {
		idx, pe := tl.policyAt(m.Type, gt)
		if pe != nil {
			ps.add(pe.proof)
			if ps != nil {
				ps.policy = append(ps.policy, pe.proof)
			}
		}
		res = m.policyOf(idx)
	}
	if res == Public {
		return allowed
	}
	es := tl.grants[permKey{member, m.Type, perm}]
	i := sort.Search(len(es), func(i int) bool { return es[i].gt > gt }) - 1
	if i < 0 {
		return noGrant
	}
	if !es[i].granted {
		return revoked
	}
	if ps != nil {
		for _, r := range es[i].proofs {
			ps.add(r)
		}
	}
	return allowed
}

// holdsAll reports whether member holds every permission in perms on m.
func (tl *timeline) holdsAll(member MemberID, m *Meta, perms Permission, gt uint64, res ResolutionKind, ps *proofs) refusal {
	for _, n := range permNames {
		if perms&n.p != 0 {
			if why := tl.holds(member, m, n.p, gt, res, ps); why != allowed {
				return why
			}
		}
	}
	return allowed
}

// validGrants reports whether signer may apply, at gt, an authorize (perm
// AuthorizePerm) or revoke (RevokePerm) with these entries. Dispersy's
// two rules together: applying needs perm on every type named (checked as
// linear), and accepting needs the signer to hold, on at least one type
// named, every permission it hands out or takes (checked with that type's
// own resolution). Dispersy stores a message passing only the second and
// silently does not apply it; here it is refused.
func (tl *timeline) validGrants(signer MemberID, gs []permGrant, perm Permission, gt uint64, ps *proofs) refusal {
	var metas []wire.Type
	for _, g := range gs {
		if !slices.Contains(metas, g.meta) {
			metas = append(metas, g.meta)
		}
	}
	appl, pass := allowed, noGrant
	for _, t := range metas {
		m := tl.def.metaOf(t)
		if m == nil {
			return noGrant // a type this definition does not have
		}
		if w := tl.holds(signer, m, perm, gt, Linear, ps); w != allowed && appl == allowed {
			appl = w
		}
		if pass == allowed {
			continue
		}
		var bits Permission
		for _, g := range gs {
			if g.meta == t {
				bits |= g.bits
			}
		}
		if w := tl.holdsAll(signer, m, bits, gt, m.Resolution, ps); w == allowed || pass == noGrant {
			pass = w
		}
	}
	if appl != allowed {
		return appl
	}
	return pass
}

// valid reports whether the permission message pm may be applied under
// the timeline as it stands.
func (tl *timeline) valid(pm *permMsg, ps *proofs) refusal {
	switch pm.kind {
	case wire.TypeAuthorize:
		return tl.validGrants(pm.ref.member, pm.grants, AuthorizePerm, pm.ref.gt, ps)
	case wire.TypeRevoke:
		return tl.validGrants(pm.ref.member, pm.grants, RevokePerm, pm.ref.gt, ps)
	}
	for _, c := range pm.changes {
		if m := tl.def.metaOf(c.Type); m == nil || m.Resolution != Dynamic || int(c.Index) >= len(m.Policies) {
			return noGrant
		}
	}
	return tl.holds(pm.ref.member, &dynamicSettingsMeta, PermitPerm, pm.ref.gt, Linear, ps)
}

// less orders permission messages for the replay.
func (a *permMsg) less(b *permMsg) bool {
	if a.ref.gt != b.ref.gt {
		return a.ref.gt < b.ref.gt
	}
	return bytes.Compare(a.pkt, b.pkt) < 0
}

// insert adds a stored permission message and replays the timeline. It
// returns false if the message is already there.
func (tl *timeline) insert(pm *permMsg) bool {
	i := sort.Search(len(tl.msgs), func(i int) bool { return !tl.msgs[i].less(pm) })
	if i < len(tl.msgs) && tl.msgs[i].ref == pm.ref {
		return false
	}
	tl.msgs = slices.Insert(tl.msgs, i, pm)
	tl.replay()
	return true
}

// remove drops the permission message at ref (a sequence conflict or a
// pruning deleted it) and replays the timeline.
func (tl *timeline) remove(ref msgRef) bool {
	i := slices.IndexFunc(tl.msgs, func(pm *permMsg) bool { return pm.ref == ref })
	if i < 0 {
		return false
	}
	tl.msgs = slices.Delete(tl.msgs, i, i+1)
	tl.replay()
	return true
}

// replay rebuilds the grants and policies from the messages in order.
// Entries at one global time for one permission: when a grant and a
// revoke meet there (Dispersy raises an error), the first in the replay
// order, the lower packet, decides, as the lower packet wins Dispersy's
// other conflicts; since the type byte comes first, that is the revoke
// (0xF2 < 0xF3). Proofs of one decision accumulate. Two dynamic-settings
// for one type at one global time: the lower packet decides too.
func (tl *timeline) replay() {
	clear(tl.grants)
	clear(tl.policies)
	for _, pm := range tl.msgs {
		pm.applied = tl.valid(pm, nil) == allowed
		if !pm.applied {
			continue
		}
		switch pm.kind {
		case wire.TypeAuthorize, wire.TypeRevoke:
			granted := pm.kind == wire.TypeAuthorize
			for _, g := range pm.grants {
				for _, n := range permNames {
					if g.bits&n.p != 0 {
						tl.set(permKey{g.member, g.meta, n.p}, pm.ref.gt, granted, pm.ref)
					}
				}
			}
		case wire.TypeDynamicSettings:
			for _, c := range pm.changes {
				es := tl.policies[c.Type]
				i := sort.Search(len(es), func(i int) bool { return es[i].gt >= pm.ref.gt })
				if i < len(es) && es[i].gt == pm.ref.gt {
					continue // a lower packet set it at this time
				}
				es = slices.Insert(es, i, policyEntry{gt: pm.ref.gt, index: c.Index, proof: pm.ref})
				tl.policies[c.Type] = es
			}
		}
	}
}

func (tl *timeline) set(k permKey, gt uint64, granted bool, proof msgRef) {
	es := tl.grants[k]
	i := sort.Search(len(es), func(i int) bool { return es[i].gt >= gt })
	switch {
	case i < len(es) && es[i].gt == gt && es[i].granted == granted:
		es[i].proofs = append(es[i].proofs, proof)
	case i < len(es) && es[i].gt == gt:
		return // the opposite decision of a lower packet stands
	default:
		es = slices.Insert(es, i, grantEntry{gt: gt, granted: granted, proofs: []msgRef{proof}})
	}
	tl.grants[k] = es
}
