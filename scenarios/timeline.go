package scenarios

import (
	"cmp"
	"math"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dispersy-go/dispersy/natmodels"
)

// MaxGroups is the most groups a partition may have.
const MaxGroups = 255

// Partition cuts the network into groups that cannot reach each other:
// each peer's public address (its own, or its outermost NAT's, which every
// peer behind that NAT shares) goes into one group, at random in the given
// proportions. Trackers reach every group. Peers that join during a
// partition are put into a group the same way.
type Partition struct {
	// Groups is the fraction of peers in each group; 2 to MaxGroups
	// fractions > 0 that sum to 1.
	Groups []float64
}

// Heal ends the partition: every peer can reach every other again.
type Heal struct{}

// Crash takes peers down at once, chosen at random among the online ones:
// Count of them, or a Fraction of the online peers. They lose what a peer
// that goes down loses (see Churn) and stay down for For, or for the rest
// of the run when For is 0; a crashed peer's own churn pauses meanwhile.
type Crash struct {
	// Fraction of the online peers that crash, in (0, 1]; 0 when Count is set.
	Fraction float64
	// Count of peers that crash, >= 1; 0 when Fraction is set.
	Count int
	// For is how long they stay down; 0 means for good.
	For time.Duration
}

// Join adds new peers (a flash crowd). They are numbered after every peer
// before them, in timeline order, and churn like the others when a churn
// block says so.
type Join struct {
	// Nodes is how many peers join; >= 1.
	Nodes int
	// Over spreads the joins evenly over this long from Event.At; 0 joins
	// them all at once.
	Over time.Duration
	// Mix is their NAT mix; nil means the scenario's.
	Mix []natmodels.Share
}

// Set changes the network mid-run, for packets sent from then on.
type Set struct {
	// Loss, if not nil, is the new loss probability, in [0, 1).
	Loss *float64
	// Latency, if not nil, is the new latency distribution.
	Latency *Latency
}

// workloadActions lists the action keys a workload event may have;
// timelineActions those of a timeline event.
var (
	workloadActions = []string{"publish", "authorize", "revoke", "undo", "set_policy", "destroy"}
	timelineActions = []string{"publish", "partition", "heal", "crash", "join", "set"}
)

// Action returns the name of e's action: one of the timeline's action
// keys (publish, partition, heal, crash, join, set).
func (e *Event) Action() string {
	switch {
	case e.Publish != nil:
		return "publish"
	case e.Partition != nil:
		return "partition"
	case e.Heal != nil:
		return "heal"
	case e.Crash != nil:
		return "crash"
	case e.Join != nil:
		return "join"
	case e.Set != nil:
		return "set"
	}
	return ""
}

// Joined returns how many peers join in the timeline.
func (s *Scenario) Joined() int {
	n := 0
	for _, e := range s.Timeline {
		if e.Join != nil {
			n += e.Join.Nodes
		}
	}
	return n
}

// timelineFields returns the fields of the timeline actions, which record
// their names in actions. nodes and duration, when > 0, bound what they
// may name.
func (p *parser) timelineFields(ev *Event, s *Scenario, actions *[]string) []field {
	action := func(key string, parse func(path string, v *yaml.Node)) field {
		return field{key: key, parse: func(path string, v *yaml.Node) {
			*actions = append(*actions, key)
			parse(path, v)
		}}
	}
	return []field{
		action("partition", func(path string, v *yaml.Node) { ev.Partition = p.partition(path, v) }),
		action("heal", func(path string, v *yaml.Node) {
			ev.Heal = &Heal{}
			p.block(path, v, nil)
		}),
		action("crash", func(path string, v *yaml.Node) { ev.Crash = p.crash(path, v) }),
		action("join", func(path string, v *yaml.Node) { ev.Join = p.join(path, v, s, ev) }),
		action("set", func(path string, v *yaml.Node) { ev.Set = p.set(path, v) }),
	}
}

// partition parses a partition action.
func (p *parser) partition(path string, v *yaml.Node) *Partition {
	var pt Partition
	p.block(path, v, []field{{key: "groups", required: true, parse: func(path string, v *yaml.Node) {
		seq := p.sequence(path, v)
		if seq == nil {
			return
		}
		if n := len(seq.Content); n < 2 || n > MaxGroups {
			p.add(v.Line, v.Column, path, "lists %d groups; a partition has 2 to %d", n, MaxGroups)
			return
		}
		sum, ok := 0.0, true
		for i, g := range seq.Content {
			f, fok := p.float(indexPath(path, i), g)
			if fok && f <= 0 {
				p.add(g.Line, g.Column, indexPath(path, i), "a group's fraction must be positive, got %s", deref(g).Value)
				fok = false
			}
			ok = ok && fok
			sum += f
			pt.Groups = append(pt.Groups, f)
		}
		if ok && math.Abs(sum-1) > mixTolerance {
			p.add(v.Line, v.Column, path, "fractions sum to %.9g, want 1 (within %g)", sum, mixTolerance)
		}
	}}})
	return &pt
}

// crash parses a crash action.
func (p *parser) crash(path string, v *yaml.Node) *Crash {
	var c Crash
	m := p.mapping(path, v)
	if m == nil {
		return &c
	}
	var set []string
	p.fields(m, path, p.entries(m, path), []field{
		{key: "fraction", parse: func(path string, v *yaml.Node) {
			set = append(set, "fraction")
			f, ok := p.float(path, v)
			if ok && !(f > 0 && f <= 1) {
				p.add(v.Line, v.Column, path, "fraction must be in (0, 1], got %s", deref(v).Value)
				return
			}
			c.Fraction = f
		}},
		{key: "count", parse: func(path string, v *yaml.Node) {
			set = append(set, "count")
			c.Count, _ = p.positive(path, v)
		}},
		{key: "for", parse: func(path string, v *yaml.Node) {
			c.For, _ = p.duration(path, v, true)
		}},
	})
	if len(set) != 1 {
		p.add(m.Line, m.Column, path, "give exactly one of fraction and count, got %d", len(set))
	}
	return &c
}

// join parses a join action of event ev.
func (p *parser) join(path string, v *yaml.Node, s *Scenario, ev *Event) *Join {
	var j Join
	var overNode *yaml.Node
	p.block(path, v, []field{
		{key: "nodes", required: true, parse: func(path string, v *yaml.Node) {
			j.Nodes, _ = p.positive(path, v)
		}},
		{key: "over", parse: func(path string, v *yaml.Node) {
			j.Over, _ = p.duration(path, v, false)
			overNode = v
		}},
		{key: "mix", parse: func(path string, v *yaml.Node) {
			j.Mix = p.mix(path, v)
		}},
	})
	if overNode != nil && s.Duration > 0 && ev.At+j.Over > s.Duration {
		p.add(overNode.Line, overNode.Column, joinPath(path, "over"), "the joins would end at %s, after the run (duration %s)", ev.At+j.Over, s.Duration)
	}
	return &j
}

// set parses a set action.
func (p *parser) set(path string, v *yaml.Node) *Set {
	var st Set
	m := p.mapping(path, v)
	if m == nil {
		return &st
	}
	p.fields(m, path, p.entries(m, path), []field{
		{key: "loss", parse: func(path string, v *yaml.Node) {
			if f, ok := p.loss(path, v); ok {
				st.Loss = &f
			}
		}},
		{key: "latency", parse: func(path string, v *yaml.Node) {
			var l Latency
			before := len(p.errs)
			p.latency(path, v, &l)
			if len(p.errs) == before && l.Distribution != "" {
				st.Latency = &l
			}
		}},
	})
	if st.Loss == nil && st.Latency == nil && len(m.Content) == 0 {
		p.add(m.Line, m.Column, path, "changes nothing; set loss, latency or both")
	}
	return &st
}

// checkTimeline checks what depends on the order of the timeline's events
// in time: a heal needs a partition before it.
func (p *parser) checkTimeline(path string, events []Event) {
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(events[a].At, events[b].At) })
	partitioned := false
	for _, i := range order {
		e := events[i]
		switch {
		case e.Partition != nil:
			partitioned = true
		case e.Heal != nil:
			if !partitioned {
				p.add(e.Line, 0, indexPath(path, i)+".heal", "no partition is in force at %s to heal", e.At)
			}
			partitioned = false
		}
	}
}
