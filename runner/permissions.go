package runner

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
	"github.com/dispersy-go/dispersy/scenarios"
)

// PermissionsSummary measures a scenario with permissions: how fast each
// permission action (and each publish) reached the peers, and whether the
// peers reached the same verdicts.
type PermissionsSummary struct {
	// Founder is the node index of the peer holding the master key.
	Founder int `json:"founder"`
	// Actions are the grants of the permissions block and the workload's
	// events, in time order.
	Actions []ActionSummary `json:"actions"`
	// Verdicts compares the peers' verdicts at the end.
	Verdicts VerdictSummary `json:"verdicts"`
	// Destroyed counts peers whose community is destroyed at the end.
	Destroyed int `json:"destroyed"`
}

// ActionSummary is one action: when it happened and how long until 50,
// 90, 99 and 100 % of the peers (all peers are online: the run has no
// churn) applied it, that is stored every message it made (a peer that
// refuses one never does). For a publish, which makes its messages over
// time, the shares are of (peer, message) pairs instead, as in the sync
// block; a publish of a linear type can stay below 100 % for good, its
// messages refused by a later revoke whose global time is below theirs.
type ActionSummary struct {
	Kind string `json:"kind"`
	// Line is the action's line in the scenario file.
	Line int `json:"line"`
	// AtSeconds is the virtual time of the action.
	AtSeconds float64 `json:"at_seconds"`
	// Messages is how many messages the action made (an authorize of many
	// members is cut into messages of at most 40).
	Messages int `json:"messages"`
	// Refused counts messages the acting peer's own timeline refused to
	// make (a revoked member publishing a linear type, say).
	Refused int `json:"refused"`
	// Applied gives the seconds after AtSeconds until each share of the
	// peers applied it; null if never reached.
	Applied Convergence `json:"applied"`
	// AppliedFraction is the share of peers (publish: of pairs) that
	// applied it by the end.
	AppliedFraction float64 `json:"applied_fraction"`
}

// VerdictSummary compares the peers' verdict hashes
// (protocol.Community.VerdictHash: the messages in force and undone, and
// the permission messages in force).
type VerdictSummary struct {
	// DistinctHashes is the number of different hashes among the peers:
	// 1 when every peer reached the same verdicts.
	DistinctHashes int `json:"distinct_hashes"`
	// Hashes counts peers per hash (the hash's first 8 bytes, in hex).
	Hashes map[string]int `json:"hashes"`
	// HashList is the distinct hashes, sorted.
	HashList []string `json:"hash_list"`
	// PerNode gives each peer's hash, in node order (trackers excluded),
	// as runs "IxN" (N peers in a row with hash HashList[I]) joined by
	// commas: "0x2000" when 2,000 peers agree.
	PerNode string `json:"per_node"`
	// AtFounder counts the founder's community messages by verdict.
	AtFounder map[string]int `json:"at_founder"`
}

// maxGrantsPerMessage cuts large authorizes, so that each fits a datagram.
const maxGrantsPerMessage = 40

// action is one tracked action.
type action struct {
	sum     ActionSummary
	at      time.Duration
	want    int      // messages a peer must store to have applied it (0: not known yet)
	perNode []uint16 // messages of the action each node stored
	cov     coverage // every peer counts as online: no churn with permissions
}

// permState is the run's view of permissions.
type permState struct {
	founder *node
	master  protocol.PrivateKey
	cid     wire.CID
	members []int // node indexes (peers) any grant names
	actions []*action
	byID    map[uint64]int32 // pool ID -> action index + 1
}

// masterKey derives the run's community master key from the seed.
func masterKey(scheme protocol.Scheme, seed uint64) protocol.PrivateKey {
	var b [18]byte
	copy(b[:10], "master-key")
	binary.BigEndian.PutUint64(b[10:], seed)
	return scheme.NewKey(sha256.Sum256(b[:]))
}

// communityID returns the community the peers join: the master key's for
// a scenario with permissions, CommunityID otherwise.
func (r *run) communityID() wire.CID {
	if r.perm != nil {
		return r.perm.cid
	}
	return CommunityID()
}

// setupPermissions makes the master key of a scenario with permissions
// (before the nodes join).
func (r *run) setupPermissions(scheme protocol.Scheme) {
	if !r.s.Permissioned() {
		return
	}
	m := masterKey(scheme, r.seed)
	r.perm = &permState{master: m, cid: wire.CID(protocol.IDOf(m.Public())), byID: map[uint64]int32{}}
}

// found makes the founder found the community (after the nodes joined),
// and notes the members the scenario grants anything to.
func (r *run) found() error {
	ps := r.perm
	if ps == nil {
		return nil
	}
	fi := r.s.FounderIndex()
	if fi >= len(r.peers) {
		return fmt.Errorf("%s: permissions.founder: node %d out of range", r.s.File, fi)
	}
	ps.founder = r.peers[fi]
	if err := ps.founder.node.Community(ps.cid).Found(ps.master); err != nil {
		return fmt.Errorf("%s: found the community: %w", r.s.File, err)
	}
	add := func(g *scenarios.Grant) {
		if g == nil {
			return
		}
		for _, m := range g.Members {
			if !slices.Contains(ps.members, m) {
				ps.members = append(ps.members, m)
			}
		}
	}
	if p := r.s.Permissions; p != nil {
		for i := range p.Grants {
			add(&p.Grants[i])
		}
	}
	for _, e := range r.s.Workload {
		add(e.Authorize)
	}
	slices.Sort(ps.members)
	return nil
}

// track starts tracking an action at virtual time at.
func (ps *permState) track(kind string, line int, at time.Duration, peers int) *action {
	a := &action{sum: ActionSummary{Kind: kind, Line: line, AtSeconds: at.Seconds()}, at: at,
		perNode: make([]uint16, peers), cov: coverage{peers: peers, online: int64(peers)}}
	ps.actions = append(ps.actions, a)
	return a
}

// made registers a message the action made (nd holds it already). Until
// the action's size is known (finish), its maker's copies are counted
// later.
func (r *run) made(a *action, nd *node, rec *protocol.Record) {
	ps := r.perm
	if rec.ID == 0 {
		return
	}
	a.sum.Messages++
	ps.byID[rec.ID] = int32(slices.Index(ps.actions, a) + 1)
	if a.want > 0 {
		r.applied(a, nd)
	}
}

// finish fixes the size of an action made at once by nd, and counts nd's
// copies.
func (r *run) finish(a *action, nd *node) {
	a.want = a.sum.Messages
	if a.want == 0 {
		return
	}
	if i := nd.index - r.s.Trackers; i >= 0 && i < len(a.perNode) {
		a.perNode[i] = uint16(a.want)
		a.cov.addPair(1, r.net.Now()-a.at)
	}
}

// refused counts a message the acting peer refused to make; a publish's
// size shrinks by one.
func (r *run) refused(a *action) {
	a.sum.Refused++
	if a.want > 0 && a.sum.Kind == "publish" {
		a.want--
	}
}

// stored counts a message a peer stored if an action made it.
func (ps *permState) stored(r *run, nd *node, rec *protocol.Record) {
	if ix, ok := ps.byID[rec.ID]; ok && !nd.tracker {
		r.applied(ps.actions[ix-1], nd)
	}
}

// applied counts one more message of a stored by nd.
func (r *run) applied(a *action, nd *node) {
	i := nd.index - r.s.Trackers
	if i < 0 || i >= len(a.perNode) || a.want == 0 {
		return
	}
	if a.perNode[i] < ^uint16(0) {
		a.perNode[i]++
	}
	switch {
	case a.sum.Kind == "publish":
		if int(a.perNode[i]) <= a.want {
			a.cov.addPair(int64(a.want), r.net.Now()-a.at)
		}
	case int(a.perNode[i]) == a.want:
		a.cov.addPair(1, r.net.Now()-a.at)
	}
}

// schedulePermissions queues the grants of the permissions block and the
// workload's permission actions.
func (r *run) schedulePermissions() error {
	ps := r.perm
	if ps == nil {
		return nil
	}
	if p := r.s.Permissions; p != nil {
		for gi := range p.Grants {
			g := p.Grants[gi]
			a := ps.track("grant", g.Line, g.At, len(r.peers))
			r.net.At(g.At, func() { r.grant(a, &g, false) })
		}
	}
	for ei, ev := range r.s.Workload {
		ev := ev
		switch {
		case ev.Authorize != nil:
			a := ps.track("authorize", ev.Line, ev.At, len(r.peers))
			r.net.At(ev.At, func() { r.grant(a, ev.Authorize, false) })
		case ev.Revoke != nil:
			a := ps.track("revoke", ev.Line, ev.At, len(r.peers))
			r.net.At(ev.At, func() { r.grant(a, ev.Revoke, true) })
		case ev.Undo != nil:
			a := ps.track("undo", ev.Line, ev.At, len(r.peers))
			rng := r.net.Rand("workload-undo", ei)
			r.net.At(ev.At, func() { r.undo(a, ev.Undo, rng) })
		case ev.SetPolicy != nil:
			a := ps.track("set_policy", ev.Line, ev.At, len(r.peers))
			r.net.At(ev.At, func() {
				nd := r.actor(ev.SetPolicy.By)
				if rec, err := nd.node.Community(ps.cid).SetPolicy(ev.SetPolicy.Message, ev.SetPolicy.Policy); err == nil {
					r.made(a, nd, &rec)
				} else {
					r.refused(a)
				}
				r.finish(a, nd)
			})
		case ev.Destroy != nil:
			a := ps.track("destroy", ev.Line, ev.At, len(r.peers))
			r.net.At(ev.At, func() {
				nd := r.actor(ev.Destroy.By)
				if rec, err := nd.node.Community(ps.cid).Destroy(); err == nil {
					r.made(a, nd, &rec)
				} else {
					r.refused(a)
				}
				r.finish(a, nd)
			})
		}
	}
	slices.SortStableFunc(ps.actions, func(x, y *action) int { return int(x.at - y.at) })
	return nil
}

// publishAction tracks a publish event of a stored type in a scenario
// with permissions (nil otherwise).
func (r *run) publishAction(line int, at time.Duration, p scenarios.Publish) *action {
	if r.perm == nil || !r.sync.def.Meta(p.Message).Stored() {
		return nil
	}
	a := r.perm.track("publish", line, at, len(r.peers))
	a.want = p.Count
	return a
}

// published registers a workload publish for its action.
func (r *run) published(a *action, nd *node, rec *protocol.Record, err error) {
	switch {
	case a == nil:
	case err != nil:
		r.refused(a)
	default:
		r.made(a, nd, rec)
	}
}

// fromMembers picks a peer among those any grant names (the founder when
// none).
func (r *run) fromMembers(rng *rand.Rand) int {
	ps := r.perm
	if ps == nil || len(ps.members) == 0 {
		return r.s.FounderIndex()
	}
	return ps.members[rng.IntN(len(ps.members))]
}

// actor returns the peer acting as by (ByFounder: the founder).
func (r *run) actor(by int) *node {
	if by == scenarios.ByFounder || by < 0 || by >= len(r.peers) {
		return r.perm.founder
	}
	return r.peers[by]
}

// grant has g.By authorize (revoke: revoke) g's members, in messages of
// at most maxGrantsPerMessage members.
func (r *run) grant(a *action, g *scenarios.Grant, revoke bool) {
	nd := r.actor(g.By)
	c := nd.node.Community(r.perm.cid)
	var perms protocol.Permission
	for _, name := range g.Permissions {
		p, _ := protocol.ParsePermission(name)
		perms |= p
	}
	for i := 0; i < len(g.Members); i += maxGrantsPerMessage {
		var gs []protocol.Grant
		for _, m := range g.Members[i:min(i+maxGrantsPerMessage, len(g.Members))] {
			if m < len(r.peers) {
				gs = append(gs, protocol.Grant{Member: r.peers[m].node.PublicKey(), Meta: g.Message, Permissions: perms})
			}
		}
		var rec protocol.Record
		var err error
		if revoke {
			rec, err = c.Revoke(gs...)
		} else {
			rec, err = c.Authorize(gs...)
		}
		if err != nil {
			r.refused(a)
			continue
		}
		r.made(a, nd, &rec)
	}
	r.finish(a, nd)
}

// undo has u.By undo u.Count messages of type u.Message that it holds in
// force and did not make, chosen at random.
func (r *run) undo(a *action, u *scenarios.Undo, rng *rand.Rand) {
	nd := r.actor(u.By)
	c := nd.node.Community(r.perm.cid)
	m := c.Definition().Meta(u.Message)
	if m == nil || c.Store() == nil {
		r.refused(a)
		return
	}
	self := nd.node.MemberID()
	type ref struct {
		member protocol.MemberID
		gt     uint64
	}
	var cands []ref
	c.Store().Scan(m.Type, 0, ^uint64(0), false, func(rec *protocol.Record) bool {
		if rec.Undone == 0 && rec.Member != self {
			cands = append(cands, ref{rec.Member, rec.GlobalTime})
		}
		return true
	})
	rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	for _, x := range cands[:min(u.Count, len(cands))] {
		rec, err := c.Undo(x.member, x.gt)
		if err != nil {
			r.refused(a)
			continue
		}
		r.made(a, nd, &rec)
	}
	if len(cands) < u.Count {
		a.sum.Refused += u.Count - len(cands) // nothing left to undo
	}
	r.finish(a, nd)
}

// permissionsSummary measures the actions and compares the verdicts.
func (r *run) permissionsSummary() *PermissionsSummary {
	ps := r.perm
	if ps == nil {
		return nil
	}
	out := &PermissionsSummary{Founder: r.s.FounderIndex(),
		Verdicts: VerdictSummary{Hashes: map[string]int{}, AtFounder: map[string]int{}}}
	for _, a := range ps.actions {
		s := a.sum
		s.Applied = a.cov.convergence()
		n := int64(len(r.peers))
		if a.sum.Kind == "publish" {
			n *= int64(a.want)
		}
		if n > 0 {
			s.AppliedFraction = float64(a.cov.pairs) / float64(n)
		}
		out.Actions = append(out.Actions, s)
	}
	keys := make([]string, 0, len(r.peers))
	for _, nd := range r.peers {
		c := nd.node.Community(ps.cid)
		h := c.VerdictHash()
		k := hex.EncodeToString(h[:8])
		keys = append(keys, k)
		if out.Verdicts.Hashes[k] == 0 {
			out.Verdicts.HashList = append(out.Verdicts.HashList, k)
		}
		out.Verdicts.Hashes[k]++
		if c.Destroyed() {
			out.Destroyed++
		}
	}
	slices.Sort(out.Verdicts.HashList)
	var runs []string
	for i := 0; i < len(keys); {
		j := i
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		ix, _ := slices.BinarySearch(out.Verdicts.HashList, keys[i])
		runs = append(runs, fmt.Sprintf("%dx%d", ix, j-i))
		i = j
	}
	out.Verdicts.PerNode = strings.Join(runs, ",")
	out.Verdicts.DistinctHashes = len(out.Verdicts.HashList)
	if fc := ps.founder.node.Community(ps.cid); fc.Store() != nil {
		for _, m := range fc.Definition().Metas() {
			if !m.Stored() {
				continue
			}
			fc.Store().Scan(m.Type, 0, ^uint64(0), false, func(rec *protocol.Record) bool {
				out.Verdicts.AtFounder[fc.VerdictOf(rec.Member, rec.GlobalTime).String()]++
				return true
			})
		}
	}
	return out
}

// resolution sets a meta's resolution policy and undo from the scenario's
// message type.
func resolution(pm *protocol.Meta, m scenarios.Message) {
	pm.Undoable = m.Undo
	kind := func(s string) protocol.ResolutionKind {
		switch s {
		case scenarios.ResLinear:
			return protocol.Linear
		case scenarios.ResDynamic:
			return protocol.Dynamic
		}
		return protocol.Public
	}
	pm.Resolution = kind(m.Resolution)
	for _, p := range m.Policies {
		pm.Policies = append(pm.Policies, kind(p))
	}
}
