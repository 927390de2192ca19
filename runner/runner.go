// Package runner runs a scenario (package scenarios) on the simulator
// (package simnet) with one protocol node per simulated host, and measures
// the run into a Summary: the contract of summary.json.
package runner

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/dispersy-go/dispersy/natmodels"
	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
	"github.com/dispersy-go/dispersy/scenarios"
	"github.com/dispersy-go/dispersy/simnet"
)

// Progress is what a run reports while it goes.
type Progress struct {
	Virtual   time.Duration // virtual time reached
	Duration  time.Duration // the scenario's duration
	Wall      time.Duration // wall time since the run started
	Events    int64         // events processed so far
	Delivered int64         // packets delivered so far
	HeapBytes uint64        // live heap now
	Online    int           // peers online now
}

// Options tune a run.
type Options struct {
	// Seed overrides the scenario's seed when non-nil.
	Seed *uint64
	// ProgressEvery is the virtual-time period of OnProgress calls (default
	// 30 s), a whole number of seconds.
	ProgressEvery time.Duration
	// OnProgress, if set, is called every ProgressEvery of virtual time.
	OnProgress func(Progress)
	// NoPipeline signs and verifies ed25519 on the event loop itself
	// instead of on worker goroutines with verification memoised (same
	// results, for measuring the raw cost).
	NoPipeline bool
	// Clock returns wall time; it is only used for wall_seconds and progress
	// (nil: the runner measures nothing and reports 0).
	Clock func() time.Time
	// Interrupted, if set, is polled once per virtual second; when it
	// returns true the run stops there and its summary, marked
	// interrupted, covers the virtual time reached.
	Interrupted func() bool
	// Capture, if set, is given every delivered packet (simnet.Capture);
	// capture.Payload is only valid during the call.
	Capture func(c simnet.Capture)
	// CaptureNodes, if not nil, limits Capture to packets sent or received
	// by these peers (indices as in the scenario: 0 to nodes-1, then the
	// peers that join).
	CaptureNodes []int
	// AtEnd, if set, is called once when the event loop has stopped and
	// every peer is still in memory (for a heap profile of the whole run).
	AtEnd func()
}

// CommunityID returns the community every simulated node joins: the SHA-1
// of a fixed name, as a community's id is the SHA-1 of its master key.
func CommunityID() wire.CID { return wire.CID(sha1.Sum([]byte("dispersy-go simulated community"))) }

// node is one simulated peer.
type node struct {
	host    *simnet.Host
	node    *protocol.Node // nil while a peer that starts offline has not come up
	profile string
	tracker bool
	rank    int
	index   int // position in run.nodes (= host ID)
	peer    int // position in run.peers, -1 for a tracker

	online  bool
	churns  bool          // drawn into the churning fraction
	dead    bool          // crashed for good: never comes back
	since   time.Duration // when the current session or downtime began
	pending *simnet.Timer // the next churn transition, if any

	firstUp     time.Duration // when the peer first came up, -1 before
	connectedAt time.Duration // when it was first seen connected, -1 before
}

type run struct {
	s          *scenarios.Scenario
	seed       uint64
	cfg        protocol.Config
	net        *simnet.Network
	scheme     protocol.Scheme
	def        *protocol.Definition
	scratch    *protocol.Scratch
	trackers   []netip.AddrPort
	nodes      []*node // trackers first
	peers      []*node // non-tracker nodes
	online     int     // peers online now
	punct      *punctureTracker
	pq         *asyncPuncture
	sent       [256]int64
	sentB      [256]int64
	drops      [wire.NumReasons]int64
	unresolved int64 // introductions naming an address no host owns
	maxHeap    uint64
	maxLive    uint64 // largest heap found live by a collection

	sync          *syncState
	workloadTotal int        // stored messages the workload publishes, less those skipped
	perm          *permState // nil without permissions (permissions.go)
	churn         *churnState
	series        *seriesState
	failed        error // a driver event's failure (see must)
	start         time.Time
	clock         func() time.Time
}

// Run executes the scenario and returns its summary.
func Run(s *scenarios.Scenario, o Options) (*Summary, error) {
	r := &run{s: s, seed: s.Seed}
	if o.Seed != nil {
		r.seed = *o.Seed
	}
	r.cfg = protocol.DefaultConfig()
	if err := s.ApplyOverrides(&r.cfg); err != nil {
		return nil, err
	}
	if err := r.cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: protocol: %w", s.File, err)
	}
	scheme, err := protocol.SchemeByName(s.Crypto, r.seed)
	if err != nil {
		return nil, fmt.Errorf("%s: crypto: %w", s.File, err)
	}
	var seal func([]byte) func()
	if scheme.Name() == "ed25519" && !o.NoPipeline {
		p := newPipelined(runtime.GOMAXPROCS(0))
		defer p.close()
		scheme, seal = p, p.seal
	}
	lat, err := latency(s.Network.Latency)
	if err != nil {
		return nil, fmt.Errorf("%s: network.latency: %w", s.File, err)
	}
	// The trace hash and the puncture measurement run on their own
	// goroutines, fed in event-loop order: the loop itself stays single.
	trace := newAsyncHash()
	defer trace.close()
	r.net, err = simnet.New(simnet.Config{Seed: r.seed, Latency: lat, Loss: s.Network.Loss, Seal: seal, Trace: trace})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.File, err)
	}
	r.clock = o.Clock
	if o.Clock != nil {
		r.start = o.Clock()
	}
	r.scheme = scheme
	err = r.build()
	if r.pq != nil {
		defer r.pq.close() // on every path: the worker must not outlive the run
	}
	if err != nil {
		return nil, err
	}
	if o.Capture != nil {
		r.capture(o.Capture, o.CaptureNodes)
	}
	every := o.ProgressEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	// One hook per virtual second: puncture windows, time series, progress
	// and the interrupt check. It is not an event: the trace does not see it.
	interrupted := false
	r.net.OnProgress(time.Second, func(now time.Duration) {
		r.pq.add(punctEvent{kind: evTick, t: now})
		r.series.tick(r, now)
		if now%every != 0 && (o.Interrupted == nil || !o.Interrupted()) {
			return
		}
		h := HeapBytes()
		r.maxHeap = max(r.maxHeap, h)
		r.maxLive = max(r.maxLive, LiveHeapBytes())
		if o.Interrupted != nil && o.Interrupted() {
			interrupted = true
			r.net.Halt()
			return
		}
		if o.OnProgress != nil {
			st := r.net.Stats()
			p := Progress{Virtual: now, Duration: s.Duration, Events: st.Events, Delivered: st.PacketsDelivered,
				HeapBytes: h, Online: r.online}
			if o.Clock != nil {
				p.Wall = o.Clock().Sub(r.start)
			}
			o.OnProgress(p)
		}
	})
	if err := r.net.RunUntil(s.Duration); err != nil && !(interrupted && errors.Is(err, simnet.ErrHalted)) {
		if r.failed != nil {
			return nil, r.failed
		}
		return nil, fmt.Errorf("%s: %w", s.File, err)
	}
	end := r.net.Now()
	if o.AtEnd != nil {
		o.AtEnd()
	}
	r.pq.add(punctEvent{kind: evTick, t: end + time.Hour}) // count every finished window
	r.pq.close()
	r.maxHeap = max(r.maxHeap, HeapBytes())
	r.maxLive = max(r.maxLive, LiveHeapBytes())
	sum := r.summary(scheme.Name(), end)
	sum.Interrupted = interrupted
	if o.Clock != nil {
		sum.WallSeconds = o.Clock().Sub(r.start).Seconds()
	}
	return sum, nil
}

func latency(l scenarios.Latency) (simnet.Latency, error) {
	switch l.Distribution {
	case scenarios.DistConstant, "":
		d := l.Value
		if d == 0 {
			d = scenarios.DefaultLatency
		}
		return simnet.ConstantLatency{D: d}, nil
	case scenarios.DistUniform:
		return simnet.UniformLatency{Min: l.Min, Max: l.Max}, nil
	case scenarios.DistLognormal:
		return simnet.LogNormalLatency{Median: l.Median, Sigma: l.Sigma}, nil
	}
	return nil, fmt.Errorf("unknown distribution %q", l.Distribution)
}

// keySeed derives node i's key seed from the run seed.
func keySeed(seed uint64, i int) [32]byte {
	var b [24]byte
	copy(b[:8], "node-key")
	binary.BigEndian.PutUint64(b[8:], seed)
	binary.BigEndian.PutUint64(b[16:], uint64(i))
	return sha256.Sum256(b[:])
}

func (r *run) build() error {
	s := r.s
	profiles, err := natmodels.Assign(s.NAT.Mix, s.Nodes, r.net.Rand("nat-assign", 0))
	if err != nil {
		return fmt.Errorf("%s: nat.mix: %w", s.File, err)
	}
	total := s.Trackers + s.Nodes
	if r.def, err = definition(s.Community); err != nil {
		return fmt.Errorf("%s: community: %w", s.File, err)
	}
	r.sync = newSyncState(r.def, total, s.Nodes)
	r.setupPermissions(r.scheme)
	r.nodes = make([]*node, 0, total)
	r.punct = newPunctureTracker(r)
	r.pq = newAsyncPuncture(r.punct)
	r.scratch = protocol.NewScratch() // nodes never run concurrently in simnet
	r.churn = newChurnState(r)
	r.series = newSeriesState(r)
	for i := 0; i < total; i++ {
		name := "public"
		if i >= s.Trackers {
			name = profiles[i-s.Trackers]
		}
		if _, err := r.addNode(name, i < s.Trackers); err != nil {
			return err
		}
	}
	r.net.OnDeliver(func(src, dst int) {
		r.pq.add(punctEvent{kind: evDeliver, a: int32(src), b: int32(dst), t: r.net.Now()})
	})
	for _, nd := range r.nodes {
		if nd.tracker {
			if err := r.startNode(nd); err != nil {
				return err
			}
		}
	}
	for _, nd := range r.peers {
		if r.churn.startsOnline(nd) {
			if err := r.up(nd); err != nil {
				return err
			}
		}
	}
	if err := r.found(); err != nil {
		return err
	}
	r.watchConnect()
	if err := r.schedule(); err != nil {
		return err
	}
	if err := r.churn.schedule(); err != nil {
		return err
	}
	if err := r.scheduleTimeline(); err != nil {
		return err
	}
	return r.schedulePermissions()
}

// addNode adds a host and its node record (not started: see up and
// startNode) behind the NAT profile name.
func (r *run) addNode(name string, tracker bool) (*node, error) {
	s := r.s
	i := len(r.nodes)
	prof, ok := natmodels.LookupProfile(name)
	if !ok {
		return nil, fmt.Errorf("%s: nat.mix: unknown profile %q", s.File, name)
	}
	if s.NAT.MappingTimeout > 0 {
		prof = prof.WithTimeout(s.NAT.MappingTimeout)
	}
	h, err := r.net.AddHost(prof)
	if err != nil {
		return nil, fmt.Errorf("%s: host %d: %w", s.File, i, err)
	}
	if h.ID() != i {
		return nil, fmt.Errorf("%s: host %d got ID %d", s.File, i, h.ID())
	}
	nd := &node{host: h, profile: name, tracker: tracker, rank: natmodels.Rank(name), index: i, peer: -1,
		firstUp: -1, connectedAt: -1}
	r.nodes = append(r.nodes, nd)
	if tracker {
		r.trackers = append(r.trackers, h.Addr())
		return nd, nil
	}
	nd.peer = len(r.peers)
	r.peers = append(r.peers, nd)
	h.SetOnline(false)
	r.sync.addPeer(nd, protocol.NewMemStore(r.sync.pool), r.scheme.NewKey(keySeed(r.seed, i)).Public())
	return nd, nil
}

// startNode builds nd's protocol node afresh (a node that comes back is a
// new process: no candidates, no timers, no votes) over its current store,
// and for a peer joins the community.
func (r *run) startNode(nd *node) error {
	h := nd.host
	opts := protocol.Options{
		Env: h.Env(), Config: r.cfg, Scheme: r.scheme, Key: r.scheme.NewKey(keySeed(r.seed, nd.index)),
		LAN: h.Addr(), LANPrefixes: []netip.Prefix{netip.PrefixFrom(h.Addr().Addr(), 32)},
		Tracker: nd.tracker, Observer: &observer{r: r, n: nd}, Scratch: r.scratch, Definition: r.def,
	}
	if !nd.tracker {
		st := r.sync.stores[nd.index]
		opts.OpenStore = func(wire.CID) (protocol.Store, error) { return st, nil }
		opts.Trackers = r.trackers
	}
	pn, err := protocol.NewNode(opts)
	if err != nil {
		return fmt.Errorf("%s: node %d: %w", r.s.File, nd.index, err)
	}
	nd.node = pn
	h.SetHandler(pn.HandlePacket)
	if !nd.tracker {
		if _, err := pn.Join(r.communityID()); err != nil {
			return fmt.Errorf("%s: node %d: %w", r.s.File, nd.index, err)
		}
	}
	return nil
}

// observer feeds one node's events into the run's counters.
type observer struct {
	r *run
	n *node
}

func (o *observer) PacketSent(t wire.Type, size int) {
	o.r.sent[t]++
	o.r.sentB[t] += int64(size)
}

func (o *observer) PacketDropped(reason wire.Reason) { o.r.drops[reason]++ }

func (o *observer) Introduced(wire.CID, netip.AddrPort, netip.AddrPort) {}

// Introducing resolves both addresses to hosts now (NAT state changes
// later) and hands the introduction to the puncture tracker.
func (o *observer) Introducing(_ wire.CID, requester, introduced netip.AddrPort) {
	r := o.r
	x, ok1 := r.net.ResolvePublic(requester)
	y, ok2 := r.net.ResolvePublic(introduced)
	if !ok1 || !ok2 {
		r.unresolved++
		return
	}
	r.pq.add(punctEvent{kind: evIntro, a: int32(x), b: int32(y), t: r.net.Now()})
}

func (o *observer) ConnTypeChanged(wire.ConnType) {}

func (o *observer) MessageStored(_ wire.CID, rec *protocol.Record) {
	o.r.sync.stored(o.r, o.n, rec)
	if o.r.perm != nil {
		o.r.perm.stored(o.r, o.n, rec)
	}
}

func (o *observer) DirectReceived(wire.CID, wire.Type, []byte) {}

func (o *observer) SyncRequested(_ wire.CID, size int) {
	st := o.r.sync
	st.requests++
	st.syncBytes += int64(size)
	st.filterB += int64(size - wire.SyncHeaderLen)
}

func (o *observer) SyncAnswered(_ wire.CID, a *protocol.SyncAnswer) {
	o.r.sync.answered(a)
}

// HeapBytes returns the bytes of live and not-yet-swept heap objects (the
// max_heap_bytes of summaries).
func HeapBytes() uint64 { return readMetric("/memory/classes/heap/objects:bytes") }

// LiveHeapBytes returns the heap the last collection found live (the
// max_live_heap_bytes of summaries).
func LiveHeapBytes() uint64 { return readMetric("/gc/heap/live:bytes") }

// readMetric reads one uint64 runtime metric (0 if this Go has none).
func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return s[0].Value.Uint64()
	}
	return 0
}

// HashHex renders a trace hash.
func HashHex(h [32]byte) string { return hex.EncodeToString(h[:]) }
