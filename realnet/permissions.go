package realnet

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

// PeerDefinition is the community every peer serves: "text" (public,
// undoable) and "protected-text" (linear: only members holding permit
// may post it; undoable), both full-sync, pushed to 10 candidates.
func PeerDefinition() *protocol.Definition {
	protected := protocol.TextMeta()
	protected.Name, protected.Type, protected.Resolution = "protected-text", 2, protocol.Linear
	d, err := protocol.NewDefinition([]protocol.Meta{protocol.TextMeta(), protected})
	if err != nil {
		panic(err) // a constant definition
	}
	return d
}

// Errors of the permission operations that a client can correct.
var (
	ErrUnknownMember = errors.New("member unknown to this peer")
	ErrNotPermitted  = protocol.ErrNotPermitted
	ErrDestroyed     = protocol.ErrDestroyed
)

// durably runs f on the loop and, for a stored message it created, waits
// until the message is committed (or ctx is done), as Publish does.
func (p *Peer) durably(ctx context.Context, cid wire.CID, what string, f func(c *protocol.Community) (protocol.Record, error)) (Message, error) {
	done := make(chan error, 1)
	var msg Message
	var ferr error
	err := p.Do(func(n *protocol.Node) {
		c := n.Community(cid)
		if c == nil || n.IsTracker() {
			ferr = fmt.Errorf("%w: %s", ErrUnknownCommunity, hex.EncodeToString(cid[:]))
			return
		}
		r, err := f(c)
		if err != nil {
			ferr = err
			return
		}
		msg = p.message(c, &r)
		m := c.Definition().MetaOf(r.Meta)
		if p.db == nil || m == nil || !m.Stored() {
			done <- nil
			return
		}
		if len(p.waiters) == 0 {
			p.firstWait = timeNow()
		}
		p.waiters = append(p.waiters, done)
	})
	if err != nil {
		return Message{}, err
	}
	if ferr != nil {
		return Message{}, ferr
	}
	select {
	case err := <-done:
		if err != nil {
			return Message{}, fmt.Errorf("%s %s: not stored: %w", what, msg.ID, err)
		}
		return msg, nil
	case <-ctx.Done():
		return Message{}, fmt.Errorf("%s %s: durability not confirmed: %w", what, msg.ID, ctx.Err())
	}
}

// memberKey resolves a member named by its public key (64 hex digits) or
// by its member id (40 hex digits), which the peer must have seen: a key
// in one of the community's stored messages.
func memberKey(c *protocol.Community, s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	switch {
	case err == nil && len(b) == protocol.KeyLen:
		return b, nil
	case err == nil && len(b) == len(protocol.MemberID{}):
	default:
		return nil, fmt.Errorf("%w: member %q: want a %d-hex-digit public key or a %d-hex-digit member id",
			errBadRequest, s, 2*protocol.KeyLen, 2*len(protocol.MemberID{}))
	}
	mid := protocol.MemberID(b)
	var key []byte
	def := c.Definition()
	for _, m := range def.StoredMetas() {
		c.Store().ScanMember(mid, m.Type, func(r *protocol.Record) bool {
			var pk wire.Packet
			if wire.DecodeWith(r.Packet, protocol.Ed25519{}.SignatureLen(), protocol.KeyLen, def.Layouts(), &pk) == nil {
				key = bytes.Clone(pk.Key)
			}
			return false
		})
		if key != nil {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%w: %s (no message of it stored here: give its public key, which `peer status` shows)", ErrUnknownMember, s)
}

// Grant authorizes (revoke: revokes) member's permissions perms on the
// type named meta in community cid, signed by the peer's member, and
// returns the message once it is durably stored.
func (p *Peer) Grant(ctx context.Context, cid wire.CID, revoke bool, member, meta string, perms protocol.Permission) (Message, error) {
	what := "authorize"
	if revoke {
		what = "revoke"
	}
	return p.durably(ctx, cid, what, func(c *protocol.Community) (protocol.Record, error) {
		key, err := memberKey(c, member)
		if err != nil {
			return protocol.Record{}, err
		}
		if m := c.Definition().Meta(meta); m == nil {
			return protocol.Record{}, fmt.Errorf("%w %q (this community has %s)", ErrUnknownType, meta, strings.Join(p.typeNames(), ", "))
		}
		g := protocol.Grant{Member: key, Meta: meta, Permissions: perms}
		if revoke {
			return c.Revoke(g)
		}
		return c.Authorize(g)
	})
}

// Undo undoes the message member created at gt in community cid (an
// undo-own of the peer's own message, else an undo-other, which needs the
// undo permission) and returns the undo once durably stored.
func (p *Peer) Undo(ctx context.Context, cid wire.CID, member protocol.MemberID, gt uint64) (Message, error) {
	return p.durably(ctx, cid, "undo", func(c *protocol.Community) (protocol.Record, error) {
		if c.VerdictOf(member, gt) == protocol.Absent {
			return protocol.Record{}, fmt.Errorf("%w: no message %s stored here", ErrUnknownMessage, MessageID(member, gt))
		}
		return c.Undo(member, gt)
	})
}

// ErrUnknownMessage is returned for an operation on a message the peer
// does not store.
var ErrUnknownMessage = errors.New("unknown message")

// Destroy hard-kills community cid (it needs permit on
// dispersy-destroy-community) and returns the destroy message once
// durably stored.
func (p *Peer) Destroy(ctx context.Context, cid wire.CID) (Message, error) {
	return p.durably(ctx, cid, "destroy", func(c *protocol.Community) (protocol.Record, error) { return c.Destroy() })
}

// Permitted is what GET /v1/permitted answers.
type Permitted struct {
	Community  string `json:"community"`
	Member     string `json:"member"`
	Message    string `json:"message"`
	Permission string `json:"permission"`
	Permitted  bool   `json:"permitted"`
	// GlobalTime is the global time the answer holds for: that of a
	// message created now.
	GlobalTime uint64 `json:"global_time"`
}

// Permitted reports whether member (public key or member id) holds perm on
// the type named meta in community cid, for a message created now, as the
// peer's timeline stands.
func (p *Peer) Permitted(cid wire.CID, member, meta string, perm protocol.Permission) (Permitted, error) {
	var out Permitted
	var perr error
	err := p.Do(func(n *protocol.Node) {
		c, err := storedCommunity(n, cid)
		if err != nil {
			perr = err
			return
		}
		if c.Definition().Meta(meta) == nil {
			perr = fmt.Errorf("%w %q (this community has %s)", ErrUnknownType, meta, strings.Join(p.typeNames(), ", "))
			return
		}
		var mid protocol.MemberID
		if b, err := hex.DecodeString(member); err == nil && len(b) == len(mid) {
			mid = protocol.MemberID(b)
		} else {
			key, err := memberKey(c, member)
			if err != nil {
				perr = err
				return
			}
			mid = protocol.IDOf(key)
		}
		out = Permitted{Community: hex.EncodeToString(cid[:]), Member: hex.EncodeToString(mid[:]), Message: meta,
			Permission: perm.String(), Permitted: c.Permitted(mid, meta, perm), GlobalTime: c.GlobalTime() + 1}
	})
	if err != nil {
		return Permitted{}, err
	}
	return out, perr
}

// describe summarises a permission message for a listing; empty for the
// community's own types.
func describe(def *protocol.Definition, p *wire.Packet) string {
	typeName := func(t wire.Type) string {
		if m := def.MetaOf(t); m != nil {
			return m.Name
		}
		return t.String()
	}
	id := func(key []byte) string {
		mid := protocol.IDOf(key)
		return hex.EncodeToString(mid[:])
	}
	switch p.Type {
	case wire.TypeAuthorize, wire.TypeRevoke:
		var parts []string
		p.Permissions.Each(func(g wire.Grant) bool {
			parts = append(parts, fmt.Sprintf("%s %s on %s", id(g.Key), protocol.Permission(g.Bits), typeName(g.Type)))
			return true
		})
		return strings.Join(parts, "; ")
	case wire.TypeUndoOwn:
		return "undo " + MessageID(protocol.IDOf(p.Key), p.Undo.GlobalTime)
	case wire.TypeUndoOther:
		return "undo " + MessageID(protocol.IDOf(p.Undo.Key), p.Undo.GlobalTime)
	case wire.TypeDynamicSettings:
		var parts []string
		for i := range p.DynamicSettings.Len() {
			t, ix := p.DynamicSettings.At(i)
			parts = append(parts, fmt.Sprintf("%s policy %d", typeName(t), ix))
		}
		return strings.Join(parts, "; ")
	case wire.TypeDestroyCommunity:
		return "hard kill"
	}
	return ""
}
