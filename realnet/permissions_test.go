package realnet

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

// TestRevocationReachesEveryPeer: on loopback, a founder (holding the
// master key) permits a member to post a linear type, every peer learns
// the grant and accepts the member's post; the founder revokes the
// permission and the revocation reaches every peer; the founder undoes the
// post and destroys the community, and both reach every peer too.
func TestRevocationReachesEveryPeer(t *testing.T) {
	master := protocol.Ed25519{}.NewKey([32]byte{7, 7, 7})
	cid := wire.CID(protocol.IDOf(master.Public()))
	tn := startNetWith(t, 4, cid, func(i int, pc *PeerConfig) {
		if i == 0 {
			pc.Masters = []protocol.PrivateKey{master}
		}
	})
	founder, member := tn.peers[0], tn.peers[1]
	for _, p := range tn.peers {
		if !within(tn.cfg, 10, func() bool { return len(tn.known(p)) >= 2 }) {
			t.Fatalf("peer %v verified %d other peers within ten walk steps", p.Addr(), len(tn.known(p)))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mst, _ := member.Status()
	memberKey := mst.PublicKey
	if _, err := member.Publish(ctx, cid, "protected-text", []byte("too early")); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("a member without permit published a linear message: %v", err)
	}
	if _, err := founder.Grant(ctx, cid, false, memberKey, "protected-text", protocol.PermitPerm); err != nil {
		t.Fatal(err)
	}
	permitted := func(p *Peer) bool {
		ans, err := p.Permitted(cid, mst.Member, "protected-text", protocol.PermitPerm)
		if err != nil {
			t.Fatal(err)
		}
		return ans.Permitted
	}
	everyPeer := func(what string, steps int, cond func(p *Peer) bool) time.Duration {
		t.Helper()
		start := time.Now()
		for i, p := range tn.peers {
			if !within(tn.cfg, steps, func() bool { return cond(p) }) {
				t.Fatalf("%s: peer %d (%v) not within %d walk steps", what, i, p.Addr(), steps)
			}
		}
		return time.Since(start)
	}
	everyPeer("grant", 20, permitted)
	post, err := member.Publish(ctx, cid, "protected-text", []byte("moderated post"))
	if err != nil {
		t.Fatal(err)
	}
	state := func(p *Peer, id string) string {
		page, err := p.Messages(cid, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			if m.ID == id {
				return m.State
			}
		}
		return "absent"
	}
	everyPeer("the member's post", 20, func(p *Peer) bool { return state(p, post.ID) == "in-force" })
	if _, err := founder.Grant(ctx, cid, true, mst.Member, "protected-text", protocol.PermitPerm); err != nil {
		t.Fatal(err)
	}
	took := everyPeer("revocation", 20, func(p *Peer) bool { return !permitted(p) })
	t.Logf("the revocation reached every peer %v after it was durable", took.Round(10*time.Millisecond))
	if _, err := member.Publish(ctx, cid, "protected-text", []byte("after the revoke")); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("a revoked member published a linear message: %v", err)
	}
	// the post before the revocation stays; the founder undoes it
	if s := state(founder, post.ID); s != "in-force" {
		t.Fatalf("the post before the revocation is %s at the founder", s)
	}
	mid, _ := hex.DecodeString(post.Member)
	if _, err := founder.Undo(ctx, cid, protocol.MemberID(mid), post.GlobalTime); err != nil {
		t.Fatal(err)
	}
	everyPeer("undo", 20, func(p *Peer) bool { return state(p, post.ID) == "undone" })
	if _, err := member.Destroy(ctx, cid); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("a member without permit destroyed the community: %v", err)
	}
	if _, err := founder.Destroy(ctx, cid); err != nil {
		t.Fatal(err)
	}
	everyPeer("destroy", 20, func(p *Peer) bool {
		st, err := p.Status()
		return err == nil && st.Communities[0].Destroyed
	})
	if _, err := member.Publish(ctx, cid, "text", []byte("x")); !errors.Is(err, ErrDestroyed) {
		t.Fatalf("publish into a destroyed community: %v", err)
	}
}
