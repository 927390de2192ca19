package protocol

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Dispersy's tracker cleanup (tracker_plugin.py): every
// DefaultTrackerCleanupInterval each community the tracker serves gets a
// strike when it has no verified (walk or stumble) candidate, and its
// strikes are reset when it has one; a community with
// DefaultTrackerStrikes strikes is unloaded. A tracker therefore forgets a
// community it has not heard from for two to three intervals, and joins it
// again on the next introduction-request.
const (
	DefaultTrackerCleanupInterval = 180 * time.Second
	DefaultTrackerStrikes         = 3
)

// Leave stops community cid's timers and forgets it and its candidates. It
// reports whether the node had joined cid. The community's store is not
// closed: whoever opened it (Options.OpenStore) owns it.
func (n *Node) Leave(cid wire.CID) bool {
	i, ok := slices.BinarySearchFunc(n.communities, cid, func(c *Community, id wire.CID) int {
		return bytes.Compare(c.cid[:], id[:])
	})
	if !ok {
		return false
	}
	c := n.communities[i]
	c.stop()
	n.communities = slices.Delete(n.communities, i, i+1)
	n.solo = nil
	if len(n.communities) == 1 {
		n.solo = n.communities[0]
	}
	// a vote stays while its voter is a candidate of another community
	for _, x := range c.cands.list {
		kept := false
		for _, o := range n.communities {
			if o.cands.get(x.Sock()) != nil {
				kept = true
				break
			}
		}
		if !kept {
			n.votes.unvote(x.Sock())
		}
	}
	return true
}

// TrackerCleanup runs Dispersy's strike rule on a tracker node (see
// DefaultTrackerStrikes). It runs on the node's loop through the node's Env,
// like every other timer of the node.
type TrackerCleanup struct {
	node     *Node
	interval time.Duration
	max      int
	strikes  map[wire.CID]int
	timer    Timer
	fn       func()
	onUnload func(wire.CID)
	unloaded uint64
}

// NewTrackerCleanup returns the cleanup of tracker node n: every interval,
// communities without a verified candidate get a strike and those with
// strikes strikes are left. onUnload, if not nil, is called on the loop for
// every community left. Call Start to begin.
func NewTrackerCleanup(n *Node, interval time.Duration, strikes int, onUnload func(wire.CID)) (*TrackerCleanup, error) {
	switch {
	case !n.tracker:
		return nil, fmt.Errorf("%w: tracker cleanup on a node that is not a tracker", errOptions)
	case interval <= 0 || strikes < 1:
		return nil, fmt.Errorf("%w: tracker cleanup needs interval > 0 and strikes >= 1, got %v and %d",
			errOptions, interval, strikes)
	}
	t := &TrackerCleanup{node: n, interval: interval, max: strikes, strikes: make(map[wire.CID]int), onUnload: onUnload}
	t.fn = t.tick
	return t, nil
}

// Start schedules the first sweep one interval from now.
func (t *TrackerCleanup) Start() {
	if t.timer == nil {
		t.timer = t.node.env.AfterFunc(t.interval, t.fn)
	}
}

// Stop cancels the pending sweep.
func (t *TrackerCleanup) Stop() {
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
}

func (t *TrackerCleanup) tick() {
	t.timer = nil
	if t.node.stopped {
		return
	}
	t.Sweep()
	t.timer = t.node.env.AfterFunc(t.interval, t.fn)
}

// Sweep runs one round of the strike rule now and returns the communities
// it left, in cid order.
func (t *TrackerCleanup) Sweep() []wire.CID {
	n := t.node
	now := n.env.Now()
	var left []wire.CID
	next := make(map[wire.CID]int, len(n.communities))
	for _, c := range n.communities {
		s := t.strikes[c.cid] + 1
		for _, x := range c.cands.list {
			if cat := x.Category(now, &n.cfg); cat == CategoryWalk || cat == CategoryStumble {
				s = 0
				break
			}
		}
		if s >= t.max {
			left = append(left, c.cid)
			continue
		}
		next[c.cid] = s
	}
	t.strikes = next
	for _, cid := range left {
		n.Leave(cid)
		t.unloaded++
		if t.onUnload != nil {
			t.onUnload(cid)
		}
	}
	return left
}

// Strikes returns the strikes community cid has.
func (t *TrackerCleanup) Strikes(cid wire.CID) int { return t.strikes[cid] }

// Unloaded returns how many communities the cleanup has left.
func (t *TrackerCleanup) Unloaded() uint64 { return t.unloaded }
