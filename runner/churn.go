package runner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/dispersy-go/dispersy/natmodels"
	"github.com/dispersy-go/dispersy/scenarios"
	"github.com/dispersy-go/dispersy/simnet"
)

// ChurnSummary says how peers came and went.
type ChurnSummary struct {
	// Model is "distributions", "trace" or "none" (timeline crashes and
	// joins only).
	Model string `json:"model"`
	// KeepStore says whether peers kept their messages across sessions.
	KeepStore bool `json:"keep_store"`
	// Downs and Ups count peers going down and coming back (crashes and
	// trace sessions included); Joins counts peers added by the timeline.
	Downs int64 `json:"downs"`
	Ups   int64 `json:"ups"`
	Joins int64 `json:"joins"`
	// Crashed counts peers taken down by timeline crashes.
	Crashed int64 `json:"crashed"`
	// MeanSessionSeconds is the mean length of the sessions that ended
	// during the run (sessions still going at the end are not counted).
	MeanSessionSeconds float64 `json:"mean_session_seconds"`
	// OnlineMin, OnlineMean and OnlineMax are the online peers over the
	// time series' samples; OnlineEnd is at the end.
	OnlineMin  int     `json:"online_min"`
	OnlineMean float64 `json:"online_mean"`
	OnlineMax  int     `json:"online_max"`
	OnlineEnd  int     `json:"online_end"`
	// Sessions is the length in seconds of every session that ended
	// (for the CDF plot; not in the JSON).
	Sessions []float64 `json:"-"`
}

// PartitionSummary is one partition of the timeline, measured when it
// was healed (or at the end of the run).
type PartitionSummary struct {
	// AtSeconds and HealedSeconds bound it (HealedSeconds null: never).
	AtSeconds     float64  `json:"at_seconds"`
	HealedSeconds *float64 `json:"healed_seconds"`
	// Groups holds, per group, what its online peers held of the messages
	// published inside it and outside it during the partition.
	Groups []GroupSummary `json:"groups"`
}

// GroupSummary is one group of a partition.
type GroupSummary struct {
	// Peers is how many peers were in the group; Online how many of them
	// were online at the heal.
	Peers  int `json:"peers"`
	Online int `json:"online"`
	// Messages is how many stored messages peers of the group published
	// during the partition.
	Messages int `json:"messages"`
	// Coverage is the share of (online peer of the group, message of the
	// group) pairs stored at the heal: 1 means the group converged.
	Coverage float64 `json:"coverage"`
	// Leaked is the share of (online peer of the group, message published
	// in another group during the partition) pairs stored at the heal: 0
	// means nothing crossed the partition.
	Leaked float64 `json:"leaked"`
}

// churnState drives churn, crashes, joins and partitions.
type churnState struct {
	run      *run
	c        *scenarios.Churn
	rng      *rand.Rand
	session  func() time.Duration
	downtime func() time.Duration
	traced   []bool // by peer position: the trace names it
	summary  ChurnSummary
	sessSum  float64

	partition  *partitionState
	partitions []PartitionSummary
	joinSeq    int // joins so far, for the peer numbering of traces
}

// partitionState is the partition in force.
type partitionState struct {
	at     time.Duration
	cum    []float64 // cumulative group fractions
	rng    *rand.Rand
	peers  []int // peers per group (index 0: group 1)
	msgsIn int   // published messages before the partition
}

func newChurnState(r *run) *churnState {
	cs := &churnState{run: r, c: r.s.Churn, rng: r.net.Rand("churn", 0), summary: ChurnSummary{Model: "none"}}
	c := cs.c
	if c == nil {
		return cs
	}
	cs.summary.KeepStore = c.KeepStore
	if c.Trace != nil {
		cs.summary.Model = "trace"
		cs.traced = make([]bool, r.s.Nodes+r.s.Joined())
		for _, ss := range c.Trace.Sessions {
			cs.traced[ss.Node] = true
		}
		return cs
	}
	cs.summary.Model = "distributions"
	cs.session = sampler(*c.Session, cs.rng)
	cs.downtime = sampler(*c.Downtime, cs.rng)
	return cs
}

// sampler returns a function that draws durations from d with rng, by
// inverting d's distribution function at a uniform draw (so every draw
// costs one number from rng). Draws are at least 1 ms.
func sampler(d scenarios.Dist, rng *rand.Rand) func() time.Duration {
	var q func(p float64) float64 // quantile in seconds
	switch d.Distribution {
	case scenarios.DistExponential:
		e := distuv.Exponential{Rate: 1 / d.Mean.Seconds()}
		q = e.Quantile
	case scenarios.DistWeibull:
		w := distuv.Weibull{K: d.Shape, Lambda: d.Scale.Seconds()}
		q = w.Quantile
	case scenarios.DistPareto:
		pa := distuv.Pareto{Xm: d.Scale.Seconds(), Alpha: d.Shape}
		q = pa.Quantile
	case scenarios.DistLognormal:
		l := distuv.LogNormal{Mu: math.Log(d.Median.Seconds()), Sigma: d.Sigma}
		q = l.Quantile
	default:
		v := d.Value.Seconds()
		q = func(float64) float64 { return v }
	}
	return func() time.Duration {
		p := (float64(rng.Uint64()>>11) + 0.5) / (1 << 53)
		sec := q(p)
		if !(sec < float64(math.MaxInt64)/2e9) {
			return time.Duration(math.MaxInt64 / 2)
		}
		return max(time.Millisecond, time.Duration(sec*1e9))
	}
}

// startsOnline reports whether peer nd is online at the start: every
// peer but those a churn trace names.
func (cs *churnState) startsOnline(nd *node) bool {
	return cs.traced == nil || nd.peer >= len(cs.traced) || !cs.traced[nd.peer]
}

// schedule draws which peers churn and queues their first departures, or
// the sessions of the trace.
func (cs *churnState) schedule() error {
	c := cs.c
	if c == nil {
		return nil
	}
	r := cs.r()
	if c.Trace != nil {
		for _, ss := range c.Trace.Sessions {
			ss := ss
			if ss.Node >= len(r.peers) {
				// a peer of a later join: queued when it joins
				continue
			}
			cs.queueSession(r.peers[ss.Node], ss)
		}
		return nil
	}
	for _, nd := range r.peers {
		cs.enrol(nd)
	}
	return nil
}

// r returns the run.
func (cs *churnState) r() *run { return cs.run }

// queueSession schedules one trace session of nd.
func (cs *churnState) queueSession(nd *node, ss scenarios.Session) {
	r := cs.r()
	r.net.At(ss.Up, func() { r.must(r.up(nd)) })
	if ss.Down != scenarios.Forever {
		r.net.At(ss.Down, func() { r.down(nd) })
	}
}

// enrol draws whether nd churns and, if so, queues its first departure: a
// session drawn from Start (or from now, for a peer joining later).
func (cs *churnState) enrol(nd *node) {
	c := cs.c
	if c == nil || c.Trace != nil {
		return
	}
	if c.Fraction < 1 && cs.rng.Float64() >= c.Fraction {
		return
	}
	r := cs.r()
	nd.churns = true
	from := max(c.Start, r.net.Now())
	nd.pending = r.net.At(from+cs.session(), func() { cs.leave(nd) })
}

// leave takes a churning peer down and queues its return.
func (cs *churnState) leave(nd *node) {
	r := cs.r()
	nd.pending = nil
	r.down(nd)
	nd.pending = r.net.After(cs.downtime(), func() { cs.back(nd) })
}

// back brings a churning peer up and queues its next departure.
func (cs *churnState) back(nd *node) {
	r := cs.r()
	nd.pending = nil
	r.must(r.up(nd))
	nd.pending = r.net.After(cs.session(), func() { cs.leave(nd) })
}

// up brings peer nd online: its node starts afresh (over the store it
// kept, or an empty one without keep_store).
func (r *run) up(nd *node) error {
	if nd.online || nd.dead {
		return nil
	}
	now := r.net.Now()
	if nd.node != nil {
		r.churn.summary.Ups++
		if c := r.s.Churn; c != nil && !c.KeepStore {
			r.sync.resetStore(nd)
		}
	}
	nd.online = true
	nd.since = now
	if nd.firstUp < 0 {
		nd.firstUp = now
	}
	r.online++
	nd.host.SetOnline(true)
	if err := r.startNode(nd); err != nil {
		return err
	}
	r.sync.online(r, nd, true)
	return nil
}

// down takes peer nd offline: its node stops, and its host loses its
// pending timers and its own NAT's mappings.
func (r *run) down(nd *node) {
	if !nd.online {
		return
	}
	now := r.net.Now()
	cs := r.churn
	cs.summary.Downs++
	sess := (now - nd.since).Seconds()
	cs.summary.Sessions = append(cs.summary.Sessions, sess)
	cs.sessSum += sess
	nd.online = false
	nd.since = now
	r.online--
	nd.node.Stop()
	nd.host.SetOnline(false)
	nd.host.Reset()
	r.sync.online(r, nd, false)
}

// must records a failure of a driver event, which cannot return one; the
// run reports it at the end.
func (r *run) must(err error) {
	if err != nil && r.failed == nil {
		r.failed = err
		r.net.Halt()
	}
}

// scheduleTimeline queues the timeline's events.
func (r *run) scheduleTimeline() error {
	for i, ev := range r.s.Timeline {
		i, ev := i, ev
		path := fmt.Sprintf("timeline[%d]", i)
		switch {
		case ev.Publish != nil:
			if err := r.schedulePublish(path, ev.Line, ev.At, *ev.Publish, "timeline", i); err != nil {
				return err
			}
		case ev.Partition != nil:
			r.net.At(ev.At, func() { r.churn.startPartition(ev.Partition.Groups, i) })
		case ev.Heal != nil:
			r.net.At(ev.At, func() { r.churn.heal() })
		case ev.Crash != nil:
			r.net.At(ev.At, func() { r.crash(*ev.Crash, i) })
		case ev.Join != nil:
			if err := r.scheduleJoin(path, ev, i); err != nil {
				return err
			}
		case ev.Set != nil:
			set := ev.Set
			var lat simnet.Latency
			if set.Latency != nil {
				var err error
				if lat, err = latency(*set.Latency); err != nil {
					return fmt.Errorf("%s:%d: %s.set.latency: %w", r.s.File, ev.Line, path, err)
				}
			}
			r.net.At(ev.At, func() {
				if set.Loss != nil {
					r.must(r.net.SetLoss(*set.Loss))
				}
				if lat != nil {
					r.must(r.net.SetLatency(lat))
				}
			})
		}
	}
	return nil
}

// crash takes peers down at once, chosen at random among the online ones.
func (r *run) crash(c scenarios.Crash, event int) {
	var online []*node
	for _, nd := range r.peers {
		if nd.online {
			online = append(online, nd)
		}
	}
	k := c.Count
	if c.Fraction > 0 {
		k = int(math.Round(c.Fraction * float64(len(online))))
	}
	k = min(k, len(online))
	rng := r.net.Rand("crash", event)
	for i := 0; i < k; i++ {
		j := i + rng.IntN(len(online)-i)
		online[i], online[j] = online[j], online[i]
		nd := online[i]
		if nd.pending != nil {
			nd.pending.Stop()
			nd.pending = nil
		}
		r.churn.summary.Crashed++
		r.down(nd)
		if c.For == 0 {
			nd.dead = true
			continue
		}
		nd.pending = r.net.After(c.For, func() {
			nd.pending = nil
			r.must(r.up(nd))
			if nd.churns {
				nd.pending = r.net.After(r.churn.session(), func() { r.churn.leave(nd) })
			}
		})
	}
}

// scheduleJoin queues the peers a join adds.
func (r *run) scheduleJoin(path string, ev scenarios.Event, event int) error {
	j := ev.Join
	mix := j.Mix
	if mix == nil {
		mix = r.s.NAT.Mix
	}
	profiles, err := natmodels.Assign(mix, j.Nodes, r.net.Rand("join", event))
	if err != nil {
		return fmt.Errorf("%s:%d: %s.join.mix: %w", r.s.File, ev.Line, path, err)
	}
	first := r.s.Nodes + r.churn.joinSeq // the peer index of the first joiner
	r.churn.joinSeq += j.Nodes
	for k, name := range profiles {
		at := ev.At
		if j.Nodes > 1 {
			at += time.Duration(float64(j.Over) * float64(k) / float64(j.Nodes))
		}
		peer := first + k
		r.net.At(at, func() { r.join(name, peer) })
	}
	return nil
}

// join adds one peer (the peer numbered peer) and brings it up.
func (r *run) join(profile string, peer int) {
	nd, err := r.addNode(profile, false)
	if err != nil {
		r.must(err)
		return
	}
	if nd.peer != peer {
		r.must(fmt.Errorf("%s: joined peer got index %d, want %d", r.s.File, nd.peer, peer))
		return
	}
	cs := r.churn
	cs.summary.Joins++
	if p := cs.partition; p != nil {
		p.assign(r, nd)
	}
	if cs.c != nil && cs.c.Trace != nil && peer < len(cs.traced) && cs.traced[peer] {
		for _, ss := range cs.c.Trace.Sessions {
			if ss.Node == peer {
				cs.queueSession(nd, ss)
			}
		}
		return
	}
	r.must(r.up(nd))
	cs.enrol(nd)
}

// startPartition cuts the network: the peers' public addresses go into
// groups 1, 2, ... in the given proportions, in a random order; peers
// behind one NAT follow the first of them.
func (cs *churnState) startPartition(groups []float64, event int) {
	r := cs.r()
	if cs.partition != nil {
		cs.closePartition(true)
	}
	r.net.Heal()
	p := &partitionState{at: r.net.Now(), rng: r.net.Rand("partition", event), peers: make([]int, len(groups)),
		msgsIn: len(r.sync.msgIDs)}
	sum := 0.0
	for _, g := range groups {
		sum += g
		p.cum = append(p.cum, sum)
	}
	order := p.rng.Perm(len(r.peers))
	assigned := 0
	for _, i := range order {
		nd := r.peers[i]
		if g := r.net.Group(nd.host); g != 0 {
			p.peers[g-1]++
			assigned++
			continue
		}
		// the group whose quota the next peer falls in
		g := 0
		for g < len(p.cum)-1 && float64(assigned) >= p.cum[g]*float64(len(r.peers)) {
			g++
		}
		r.must(r.net.SetGroup(nd.host, g+1))
		p.peers[g]++
		assigned++
	}
	cs.partition = p
}

// assign puts a peer that joins during the partition into a group.
func (p *partitionState) assign(r *run, nd *node) {
	if g := r.net.Group(nd.host); g != 0 {
		p.peers[g-1]++
		return
	}
	u := p.rng.Float64() * p.cum[len(p.cum)-1]
	g := 0
	for g < len(p.cum)-1 && u >= p.cum[g] {
		g++
	}
	r.must(r.net.SetGroup(nd.host, g+1))
	p.peers[g]++
}

// heal ends the partition.
func (cs *churnState) heal() {
	if cs.partition == nil {
		return
	}
	cs.closePartition(true)
	cs.r().net.Heal()
}

// closePartition measures the partition in force (healed: by a heal, or
// else at the end of the run) and forgets it.
func (cs *churnState) closePartition(healed bool) {
	r := cs.r()
	p := cs.partition
	cs.partition = nil
	ps := PartitionSummary{AtSeconds: p.at.Seconds()}
	if healed {
		v := r.net.Now().Seconds()
		ps.HealedSeconds = &v
	}
	st := r.sync
	// the messages of each group: published during the partition
	msgs := make([][]uint64, len(p.peers))
	for i := p.msgsIn; i < len(st.msgIDs); i++ {
		if g := st.msgGroup[i]; g > 0 && int(g) <= len(msgs) {
			msgs[g-1] = append(msgs[g-1], st.msgIDs[i])
		}
	}
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	for g := range p.peers {
		gs := GroupSummary{Peers: p.peers[g], Messages: len(msgs[g])}
		var own, other int64
		for _, nd := range r.peers {
			if !nd.online || r.net.Group(nd.host) != g+1 {
				continue
			}
			gs.Online++
			store := st.stores[nd.index]
			for h, m := range msgs {
				for _, id := range m {
					if store.HasID(id) {
						if h == g {
							own++
						} else {
							other++
						}
					}
				}
			}
		}
		if d := int64(gs.Online) * int64(len(msgs[g])); d > 0 {
			gs.Coverage = float64(own) / float64(d)
		}
		if d := int64(gs.Online) * int64(total-len(msgs[g])); d > 0 {
			gs.Leaked = float64(other) / float64(d)
		}
		ps.Groups = append(ps.Groups, gs)
	}
	cs.partitions = append(cs.partitions, ps)
}

// finish completes the churn summary at the end of the run.
func (cs *churnState) finish() ChurnSummary {
	r := cs.r()
	if cs.partition != nil {
		cs.closePartition(false) // measured at the end, not healed
	}
	s := cs.summary
	if n := len(s.Sessions); n > 0 {
		s.MeanSessionSeconds = cs.sessSum / float64(n)
	}
	s.OnlineEnd = r.online
	if pts := r.series.points; len(pts) > 0 {
		s.OnlineMin, s.OnlineMax = pts[0].Online, pts[0].Online
		sum := 0.0
		for _, pt := range pts {
			s.OnlineMin, s.OnlineMax = min(s.OnlineMin, pt.Online), max(s.OnlineMax, pt.Online)
			sum += float64(pt.Online)
		}
		s.OnlineMean = sum / float64(len(pts))
	}
	slices.Sort(s.Sessions)
	return s
}
