package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/realnet"
)

// TestCLIPermissions is the real-peer run from the command line:
// `peer community new` makes a master key, a peer run with --master
// founds the community, `peer permit` lets a member post a linear type,
// `peer revoke` takes it back and the revocation reaches every peer,
// `peer undo` undoes the post everywhere, and `peer destroy --yes` kills
// the community on every peer.
func TestCLIPermissions(t *testing.T) {
	_, trackerAddr := startTracker(t)
	root := t.TempDir()
	masterFile := filepath.Join(root, "community.pem")
	out, errb, code := cli(t, "community", "new", "--out", masterFile)
	if code != 0 {
		t.Fatalf("community new: exit %d: %s", code, errb)
	}
	cid := strings.TrimSpace(out)
	founder := startPeer(t, "founder", filepath.Join(root, "founder"), trackerAddr, cid, "--master", masterFile)
	var peers = []*proc{founder}
	for i := range 3 {
		peers = append(peers, startPeer(t, fmt.Sprintf("peer%d", i), filepath.Join(root, fmt.Sprint(i)), trackerAddr, cid))
	}
	member := peers[1]
	statusOf := func(p *proc) realnet.Status {
		out, errb, code := cli(t, "status", "--control", p.control, "--json")
		var st realnet.Status
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Communities) != 1 {
			t.Fatalf("%s: status: exit %d: %s", p.name, code, errb)
		}
		return st
	}
	key := statusOf(member).PublicKey
	run := func(p *proc, args ...string) string {
		t.Helper()
		out, errb, code := cli(t, append([]string{args[0], "--control", p.control}, args[1:]...)...)
		if code != 0 {
			t.Fatalf("%s: peer %s: exit %d: %s", p.name, strings.Join(args, " "), code, errb)
		}
		return strings.TrimSpace(out)
	}
	fails := func(p *proc, want string, args ...string) {
		t.Helper()
		_, errb, code := cli(t, append([]string{args[0], "--control", p.control}, args[1:]...)...)
		if code == 0 || !strings.Contains(errb, want) {
			t.Fatalf("%s: peer %s: exit %d, stderr %q; want a failure naming %q", p.name, strings.Join(args, " "), code, errb, want)
		}
	}
	everyPeer := func(what string, cond func(p *proc) bool) {
		t.Helper()
		for _, p := range peers {
			if !eventually(40*walk, func() bool { return cond(p) }) {
				st, _, _ := cli(t, "status", "--control", p.control)
				t.Fatalf("%s: not on %s within 40 walk steps; status:\n%s", what, p.name, st)
			}
		}
	}
	permitted := func(p *proc) bool {
		return strings.HasPrefix(run(p, "permitted", "--member", key, "--message", "protected-text"), "permitted:")
	}
	fails(member, "not permitted", "publish", "--message", "protected-text", "too early")
	fails(member, "not permitted", "permit", "--member", key, "--message", "protected-text")
	fails(founder, `permission "delete"`, "permit", "--member", key, "--message", "protected-text", "--permission", "permit,delete")
	fails(founder, "member unknown to this peer", "permit", "--member", strings.Repeat("ab", 20), "--message", "protected-text")
	fails(founder, "unknown message type", "permit", "--member", key, "--message", "no-such-type")
	run(founder, "permit", "--member", key, "--message", "protected-text")
	everyPeer("the grant", permitted)
	// a restart of the founder keeps its permissions and founds nothing again
	founder.stop()
	founder = startPeer(t, "founder", founder.data, trackerAddr, cid, "--master", masterFile)
	peers[0] = founder
	if n := strings.Count(run(founder, "messages"), "\tdispersy-authorize\t"); n != 2 {
		t.Fatalf("after a restart the founder lists %d authorizes, want 2 (the founding and the grant)", n)
	}
	post := run(member, "publish", "--message", "protected-text", "a moderated post")
	listed := func(p *proc, suffix string) bool {
		out := run(p, "messages")
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, post+"\tprotected-text\ta moderated post") && strings.HasSuffix(l, suffix) {
				return !strings.HasSuffix(l, "undone") || suffix == "undone"
			}
		}
		return false
	}
	everyPeer("the member's post", func(p *proc) bool { return listed(p, "a moderated post") })
	revoke := run(founder, "revoke", "--member", key, "--message", "protected-text")
	everyPeer("the revocation", func(p *proc) bool { return !permitted(p) })
	t.Logf("revoke %s reached every peer", revoke)
	fails(member, "not permitted", "publish", "--message", "protected-text", "after the revoke")
	run(founder, "undo", post)
	everyPeer("the undo", func(p *proc) bool { return listed(p, "undone") })
	fails(founder, "add --yes", "destroy")
	fails(member, "not permitted", "destroy", "--yes")
	run(founder, "destroy", "--yes")
	everyPeer("the destroy", func(p *proc) bool { return statusOf(p).Communities[0].Destroyed })
	for _, p := range peers {
		p.stop()
	}
	// a destroyed community stays destroyed
	again := startPeer(t, "peer0-again", peers[2].data, trackerAddr, cid)
	if !statusOf(again).Communities[0].Destroyed {
		t.Fatal("after a restart the community is no longer destroyed")
	}
	again.stop()
}
