package runner

import (
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/natmodels"
	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Summary is the result of a run, written as summary.json. Fields named in
// the project's summary contract are never renamed; later blocks are added.
type Summary struct {
	Scenario         string           `json:"scenario"`
	Seed             uint64           `json:"seed"`
	Nodes            int              `json:"nodes"`
	Trackers         int              `json:"trackers"`
	Crypto           string           `json:"crypto"`
	VirtualSeconds   float64          `json:"virtual_seconds"`
	WallSeconds      float64          `json:"wall_seconds"`
	Events           int64            `json:"events"`
	PacketsSent      int64            `json:"packets_sent"`
	PacketsDelivered int64            `json:"packets_delivered"`
	PacketsDropped   map[string]int64 `json:"packets_dropped"`
	MaxHeapBytes     uint64           `json:"max_heap_bytes"`
	// MaxLiveHeapBytes is the largest heap the collector found live (what
	// the run needs; MaxHeapBytes adds the garbage GOGC lets pile up).
	MaxLiveHeapBytes uint64          `json:"max_live_heap_bytes,omitempty"`
	TraceHash        string          `json:"trace_hash"`
	Walker           WalkerSummary   `json:"walker"`
	Puncture         PunctureSummary `json:"puncture"`
	Sync             SyncSummary     `json:"sync"`
	// Interrupted says the run was stopped before its end (Ctrl-C):
	// VirtualSeconds is then the virtual time it reached, and every figure
	// covers only that.
	Interrupted bool `json:"interrupted"`
	// Churn says how peers came and went.
	Churn ChurnSummary `json:"churn"`
	// Partitions measures each partition of the timeline.
	Partitions []PartitionSummary `json:"partitions"`
	// Series is the time series (timeseries.csv; not in the JSON).
	Series []TimePoint `json:"-"`
	// Permissions measures a scenario with permissions (absent without).
	Permissions *PermissionsSummary `json:"permissions,omitempty"`

	// DeliveredPerWallSecond is the engine's throughput.
	DeliveredPerWallSecond float64 `json:"delivered_per_wall_second"`
	// Messages counts what the nodes sent, by message type.
	Messages map[string]MessageStats `json:"messages"`
	// NodeDrops counts packets the nodes rejected, by reason.
	NodeDrops map[string]int64 `json:"node_drops"`
	// Build describes the machine and toolchain (results record GOARCH).
	Build BuildInfo `json:"build"`
}

// WalkerSummary measures the walker at the end of the run, over the peers
// online then.
type WalkerSummary struct {
	// OnlinePeers is how many peers were online at the end: the peers
	// every figure here counts.
	OnlinePeers int `json:"online_peers"`
	// ConnectedFraction is the share of peers with at least one
	// non-tracker candidate in the walk category (walked to and answered
	// within the walk lifetime).
	ConnectedFraction float64 `json:"connected_fraction"`
	// MeanVerifiedCandidates is the mean number of walk+stumble candidates.
	MeanVerifiedCandidates float64 `json:"mean_verified_candidates"`
	// ConnectionTypeAccuracy is the share of peers whose detected
	// connection type is the one Dispersy should detect behind their NAT.
	ConnectionTypeAccuracy float64 `json:"connection_type_accuracy"`
	// ConnectionTypes counts detected types per NAT profile.
	ConnectionTypes map[string]map[string]int `json:"connection_types"`
	// MeanCandidates is the mean number of candidates per category.
	MeanCandidates map[string]float64 `json:"mean_candidates"`
	// ConnectSeconds gives, over all peers that came up and per NAT
	// profile, how long after it first came up a peer first had a
	// non-tracker candidate in the walk category (sampled every walk
	// interval): the bootstrap time.
	ConnectSeconds map[string]ConnectTimes `json:"connect_seconds"`
	// Verified is each online peer's number of walk+stumble candidates,
	// sorted (for the CDF plot; not in the JSON).
	Verified []int `json:"-"`
}

// ConnectTimes are bootstrap-time quantiles in seconds; a quantile no
// sample reached is null.
type ConnectTimes struct {
	Peers int      `json:"peers"`
	P50   *float64 `json:"p50"`
	P90   *float64 `json:"p90"`
	P99   *float64 `json:"p99"`
	Max   *float64 `json:"max"`
	// Never counts peers that were not connected by the end.
	Never int `json:"never"`
}

// connectTimes summarises the bootstrap times of peers (a negative time:
// never connected).
func connectTimes(times []time.Duration) ConnectTimes {
	ct := ConnectTimes{Peers: len(times)}
	var got []float64
	for _, t := range times {
		if t < 0 {
			ct.Never++
			continue
		}
		got = append(got, t.Seconds())
	}
	slices.Sort(got)
	q := func(p float64) *float64 {
		k := int(math.Ceil(p*float64(len(times)))) - 1 // rank among all peers
		if k < 0 || k >= len(got) {
			return nil
		}
		v := got[k]
		return &v
	}
	ct.P50, ct.P90, ct.P99, ct.Max = q(0.5), q(0.9), q(0.99), q(1)
	return ct
}

// PairStats counts introductions between two NAT profiles and how many of
// them punctured.
type PairStats struct {
	Introductions int64 `json:"introductions"`
	// Successes counts introductions after which both sides heard from
	// each other within the window.
	Successes int64 `json:"successes"`
	// WalkerReached counts introductions after which the walker heard from
	// the introduced node (its puncture got through the walker's NAT): the
	// one-way view, closest to Dispersy's published puncture rate.
	WalkerReached int64 `json:"walker_reached"`
}

// PunctureSummary is the NAT-pair matrix.
type PunctureSummary struct {
	// Pairs is keyed "A/B" with A before B in natmodels' canonical order.
	Pairs map[string]*PairStats `json:"pairs"`
	// Overall sums every pair.
	Overall PairStats `json:"overall"`
	// SuccessRate is Overall.Successes / Overall.Introductions.
	SuccessRate float64 `json:"success_rate"`
	// WalkerReachedRate is Overall.WalkerReached / Overall.Introductions.
	WalkerReachedRate float64 `json:"walker_reached_rate"`
	// Window is the puncture window in seconds.
	WindowSeconds float64 `json:"window_seconds"`
	// Unresolved counts introductions naming an address no host owns.
	Unresolved int64 `json:"unresolved"`
	// Truncated counts introductions too late in the run to be judged.
	Truncated int64 `json:"truncated"`
}

// MessageStats counts sent packets of one type.
type MessageStats struct {
	Count int64 `json:"count"`
	Bytes int64 `json:"bytes"`
}

// BuildInfo records what ran the simulation.
type BuildInfo struct {
	GoVersion  string `json:"go_version"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	NumCPU     int    `json:"num_cpu"`
	// HugePages says whether the heap was backed by transparent huge
	// pages (set by cmd/sim; empty when not asked).
	HugePages string `json:"hugepages,omitempty"`
}

// expectedConnType is what Dispersy's vote should conclude behind profile
// p: public without NAT, symmetric-NAT behind any address- or
// port-dependent mapping, unknown behind cone NATs.
func expectedConnType(p natmodels.Profile) wire.ConnType {
	if len(p.Chain) == 0 {
		return wire.ConnPublic
	}
	for _, b := range p.Chain {
		if b.Mapping != natmodels.EndpointIndependent && !b.PerFlow {
			return wire.ConnSymmetricNAT
		}
	}
	return wire.ConnUnknown
}

func (r *run) summary(crypto string, end time.Duration) *Summary {
	st := r.net.Stats()
	s := &Summary{
		Scenario: r.s.Name, Seed: r.seed, Nodes: r.s.Nodes, Trackers: r.s.Trackers, Crypto: crypto,
		VirtualSeconds: end.Seconds(), Events: st.Events, PacketsSent: st.PacketsSent,
		PacketsDelivered: st.PacketsDelivered, PacketsDropped: st.DropsByName(), MaxHeapBytes: r.maxHeap, MaxLiveHeapBytes: r.maxLive,
		TraceHash: HashHex(r.net.TraceHash()),
		Messages:  map[string]MessageStats{}, NodeDrops: map[string]int64{},
		Build: BuildInfo{GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
			GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU()},
	}
	for t, c := range r.sent {
		if c > 0 {
			s.Messages[wire.Type(t).String()] = MessageStats{Count: c, Bytes: r.sentB[t]}
		}
	}
	for reason, c := range r.drops {
		if c > 0 {
			s.NodeDrops[wire.Reason(reason).String()] = c
		}
	}
	s.Walker = r.walkerSummary()
	ps := PunctureSummary{Pairs: r.punct.pairs, WindowSeconds: PunctureWindow.Seconds(),
		Unresolved: r.unresolved, Truncated: r.punct.truncated}
	for _, p := range r.punct.pairs {
		ps.Overall.Introductions += p.Introductions
		ps.Overall.Successes += p.Successes
		ps.Overall.WalkerReached += p.WalkerReached
	}
	if ps.Overall.Introductions > 0 {
		ps.SuccessRate = float64(ps.Overall.Successes) / float64(ps.Overall.Introductions)
		ps.WalkerReachedRate = float64(ps.Overall.WalkerReached) / float64(ps.Overall.Introductions)
	}
	s.Puncture = ps
	s.Sync = r.syncSummary()
	s.Series = r.series.finish(r, end)
	s.Churn = r.churn.finish()
	s.Partitions = r.churn.partitions
	s.Permissions = r.permissionsSummary()
	return s
}

// connected reports whether peer nd has a non-tracker candidate in the
// walk category.
func connected(nd *node, cid wire.CID) bool {
	n := nd.node
	now, cfg := n.Now(), n.Config()
	for _, x := range n.Community(cid).Candidates() {
		if !x.Tracker && x.Category(now, cfg) == protocol.CategoryWalk {
			return true
		}
	}
	return false
}

// watchConnect samples, every walk interval, which online peers are
// connected for the first time, until every peer is or the run ends (the
// timer events only read node state; peers that join later are seen too).
func (r *run) watchConnect() {
	var tick func()
	tick = func() {
		now := r.net.Now()
		waiting := false
		for _, nd := range r.peers {
			if nd.connectedAt >= 0 || nd.dead {
				continue
			}
			if nd.online && connected(nd, r.communityID()) {
				nd.connectedAt = now - nd.firstUp
				continue
			}
			waiting = true
		}
		if waiting && now+r.cfg.WalkInterval <= r.s.Duration {
			r.net.After(r.cfg.WalkInterval, tick)
		}
	}
	r.net.After(r.cfg.WalkInterval, tick)
}

// connectSummary gives the bootstrap times over every peer that came up,
// and per NAT profile.
func (r *run) connectSummary() map[string]ConnectTimes {
	byProf := map[string][]time.Duration{}
	var all []time.Duration
	for _, nd := range r.peers {
		if nd.firstUp < 0 {
			continue
		}
		byProf[nd.profile] = append(byProf[nd.profile], nd.connectedAt)
		all = append(all, nd.connectedAt)
	}
	out := map[string]ConnectTimes{"all": connectTimes(all)}
	for name, ts := range byProf {
		out[name] = connectTimes(ts)
	}
	return out
}

func (r *run) walkerSummary() WalkerSummary {
	w := WalkerSummary{ConnectionTypes: map[string]map[string]int{}, MeanCandidates: map[string]float64{}}
	w.OnlinePeers = r.online
	if r.online == 0 {
		return w
	}
	cid := r.communityID()
	var connected, verified, correct int
	cats := map[protocol.Category]int{}
	for _, nd := range r.peers {
		if !nd.online {
			continue
		}
		n := nd.node
		now := n.Now()
		cfg := n.Config()
		ok := false
		mine := 0
		for _, x := range n.Community(cid).Candidates() {
			cat := x.Category(now, cfg)
			cats[cat]++
			if cat == protocol.CategoryWalk || cat == protocol.CategoryStumble {
				verified++
				mine++
			}
			if cat == protocol.CategoryWalk && !x.Tracker {
				ok = true
			}
		}
		w.Verified = append(w.Verified, mine)
		if ok {
			connected++
		}
		prof, _ := natmodels.LookupProfile(nd.profile)
		got := n.ConnType()
		if got == expectedConnType(prof) {
			correct++
		}
		m := w.ConnectionTypes[nd.profile]
		if m == nil {
			m = map[string]int{}
			w.ConnectionTypes[nd.profile] = m
		}
		m[got.String()]++
	}
	slices.Sort(w.Verified)
	n := float64(r.online)
	w.ConnectedFraction = float64(connected) / n
	w.MeanVerifiedCandidates = float64(verified) / n
	w.ConnectionTypeAccuracy = float64(correct) / n
	for _, c := range []protocol.Category{protocol.CategoryWalk, protocol.CategoryStumble, protocol.CategoryIntro, protocol.CategoryDiscovered} {
		w.MeanCandidates[c.String()] = float64(cats[c]) / n
	}
	w.ConnectSeconds = r.connectSummary()
	return w
}

// PairOrder returns the pair keys of m in canonical profile order.
func PairOrder(m map[string]*PairStats) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	rank := func(k string) (int, int) {
		for i := range k {
			if k[i] == '/' {
				return natmodels.Rank(k[:i]), natmodels.Rank(k[i+1:])
			}
		}
		return -1, -1
	}
	slices.SortFunc(keys, func(a, b string) int {
		a1, a2 := rank(a)
		b1, b2 := rank(b)
		if a1 != b1 {
			return a1 - b1
		}
		if a2 != b2 {
			return a2 - b2
		}
		return 0
	})
	return keys
}
