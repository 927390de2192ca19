package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// ErrDestroyed is returned by operations on a community that was
// destroyed (dispersy-destroy-community, hard kill).
var ErrDestroyed = errors.New("protocol: the community was destroyed")

// Destroyed reports whether the community was destroyed: it then keeps
// only the destroy message and the chain of permissions behind it, does
// not walk, and answers every introduction-request with the destroy
// message.
func (c *Community) Destroyed() bool { return c.destroyed != nil }

// Destroy hard-kills the community (Dispersy's dispersy-destroy-community,
// degree hard-kill): the message is pushed to up to 50 verified
// candidates, and every node that accepts it pushes it on and then deletes
// everything of the community but the destroy message's chain of
// permissions. It needs the permit permission on
// dispersy-destroy-community.
func (c *Community) Destroy() (Record, error) {
	if err := c.writable(); err != nil {
		return Record{}, fmt.Errorf("destroy: %w", err)
	}
	gt := c.nextGT(&destroyMeta)
	if c.tl.holds(c.node.mid, &destroyMeta, PermitPerm, gt, Linear, nil) != allowed {
		return Record{}, fmt.Errorf("destroy: %w: permit on %s at global time %d", ErrNotPermitted, destroyMeta.Name, gt)
	}
	r, err := c.createAt(c.node.key, &destroyMeta, gt, []byte{wire.DestroyHard})
	c.node.drainResume()
	return r, err
}

// kill applies a stored destroy message: it is pushed on to NodeCount
// random verified candidates (the epidemic), and everything else of the
// community is deleted but the message, the permission messages that
// allow it (recursively), the identities of their signers and our own.
func (c *Community) kill(r *Record) {
	pkt := bytes.Clone(r.Packet)
	c.forward(&destroyMeta, &Record{Meta: wire.TypeDestroyCommunity, Packet: pkt}, nil)
	c.wipe(msgRef{r.Member, r.GlobalTime}, pkt)
}

// wipe deletes everything but the destroy message at ref and its chain,
// and turns the community into a destroyed one.
func (c *Community) wipe(ref msgRef, pkt []byte) {
	keep := map[msgRef]bool{ref: true}
	todo := []msgRef{ref}
	signers := []MemberID{c.node.mid}
	for len(todo) > 0 {
		x := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		signers = append(signers, x.member)
		rec, ok := c.store.Get(x.member, x.gt)
		if !ok {
			continue
		}
		for _, pr := range c.proofsOf(&rec) {
			if !keep[pr] {
				keep[pr] = true
				todo = append(todo, pr)
			}
		}
	}
	for _, s := range signers {
		c.store.ScanMember(s, wire.TypeIdentity, func(r *Record) bool {
			keep[msgRef{r.Member, r.GlobalTime}] = true
			return true
		})
	}
	var gone []msgRef
	for _, m := range c.def.StoredMetas() {
		c.store.Scan(m.Type, 0, maxGT, false, func(r *Record) bool {
			if k := (msgRef{r.Member, r.GlobalTime}); !keep[k] {
				gone = append(gone, k)
			}
			return true
		})
	}
	for _, k := range gone {
		c.store.Delete(k.member, k.gt)
	}
	c.destroyed = pkt
	c.undos = nil
	c.delayed = nil
	c.unpushed = nil
	for _, t := range []Timer{c.stepTimer, c.insertTimer, c.retryTimer} {
		if t != nil {
			t.Stop()
		}
	}
	for _, cs := range c.cosigns {
		cs.timer.Stop()
	}
	c.cosigns = nil
}

// loadDestroyed finds, on a community starting on a store, a destroy
// message in force: the community starts destroyed (and what a crash left
// undeleted is deleted).
func (c *Community) loadDestroyed() {
	var found *Record
	c.store.Scan(wire.TypeDestroyCommunity, 0, maxGT, false, func(r *Record) bool {
		if r.Undone == 0 && c.tl.holds(r.Member, &destroyMeta, PermitPerm, r.GlobalTime, Linear, nil) == allowed {
			rr := *r
			rr.Packet = bytes.Clone(r.Packet)
			found = &rr
			return false
		}
		return true
	})
	if found != nil {
		c.wipe(msgRef{found.Member, found.GlobalTime}, found.Packet)
	}
}

// onDestroyed is how a destroyed community handles a packet: it answers
// an introduction-request with the destroy message, and a missing-proof
// with the chain it kept (a node that lacks the destroy's proof asks the
// one that sent it), and refuses the rest.
func (c *Community) onDestroyed(from netip.AddrPort, p *wire.Packet) {
	n := c.node
	switch p.Type {
	case wire.TypeIntroductionRequest:
		n.send(from, wire.TypeDestroyCommunity, c.destroyed)
	case wire.TypeMissingProof:
		c.onMissingProof(from, p)
	default:
		n.drop(wire.ReasonDestroyed)
	}
}
