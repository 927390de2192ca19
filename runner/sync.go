package runner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
	"github.com/dispersy-go/dispersy/scenarios"
)

// CoverageCounting says how SyncSummary counts coverage and convergence.
const CoverageCounting = "online peers: coverage = stored (online peer, message) pairs / " +
	"(online peers x messages the workload publishes), evaluated at every store, publish, up and down; " +
	"tXX = seconds from the first publish until coverage first reached XX %"

// SyncSummary measures synchronisation: how fast and at what cost every
// online node came to store every published message.
type SyncSummary struct {
	// Messages is how many messages the workload published.
	Messages int `json:"messages"`
	// SkipMode is how the run used the skip curve: "wake" (the default),
	// "dispersy" (Dispersy's curve as it is) or "off".
	SkipMode string `json:"skip_mode"`
	// Counting says how coverage and convergence count (CoverageCounting):
	// only the peers online at each moment.
	Counting string `json:"counting"`
	// Convergence gives, in seconds from the first publish, when 50, 90,
	// 99 and 100 % of the (online peer, message) pairs were stored; null
	// if never reached.
	Convergence Convergence `json:"convergence"`
	// Coverage is the fraction of those pairs stored at the end.
	Coverage float64 `json:"coverage"`
	// SkippedOffline counts publishes from a fixed peer that was offline
	// at the time: not published, and not counted in the pairs.
	SkippedOffline int `json:"skipped_offline"`
	// DeliveryDelay gives percentiles, in seconds, of the time from a
	// message's publish to its store at each peer that stored it.
	DeliveryDelay Percentiles `json:"delivery_delay"`
	// BytesSentPerNode is SyncBytes divided by the number of peers.
	BytesSentPerNode float64 `json:"bytes_sent_per_node"`
	// SyncBytes sums the sync blocks of introduction-requests, every
	// community message and identity sent (pushes and sync responses) and
	// the missing-* requests.
	SyncBytes int64 `json:"sync_bytes"`
	// DuplicateDeliveries counts received messages the node already held.
	DuplicateDeliveries int64 `json:"duplicate_deliveries"`
	// OverheadRatio is SyncBytes / (messages × peers × mean message size).
	OverheadRatio float64 `json:"overhead_ratio"`
	// MeanMessageBytes is the mean size of a published packet.
	MeanMessageBytes float64 `json:"mean_message_bytes"`
	// BloomFalsePositiveRate is the share of the packets a responder found
	// in a requester's filter that the requester did not hold, among all
	// packets it did not hold, each (filter, packet) pair counted once
	// (measured on about 250 sampled requesters).
	BloomFalsePositiveRate float64 `json:"bloom_false_positive_rate"`
	// BloomExpectedRate is the false-positive rate the filters' fill
	// predicts for the same packets: the mean of (set bits / bits)^k of
	// the filter each was tested against. Filters below capacity have a
	// rate below the design rate.
	BloomExpectedRate float64 `json:"bloom_expected_rate"`
	// BloomConfiguredRate is the filters' design false-positive rate, at
	// capacity.
	BloomConfiguredRate float64 `json:"bloom_configured_rate"`
	// BloomTested is how many (filter, absent packet) pairs the rate was
	// measured on.
	BloomTested int64 `json:"bloom_tested"`
	// SyncRequests counts introduction-requests that carried a sync block.
	SyncRequests int64 `json:"sync_requests"`
	// MeanFilterBytes is the mean size of a sent filter.
	MeanFilterBytes float64 `json:"mean_filter_bytes"`
	// LastSyncExact, for scenarios with last-sync types, reports whether
	// every peer ends holding exactly the newest HistorySize messages of
	// every member that published; null without last-sync types.
	LastSyncExact *bool `json:"last_sync_exact"`
	// ByProfile gives, per NAT profile of the peers, the same convergence
	// and coverage figures over that profile's peers.
	ByProfile map[string]ProfileSync `json:"by_profile"`
	// BytesPerNodeMinute gives SyncBytes per peer in each whole minute of
	// virtual time since the start: in a converged community with nothing
	// published the last entries are what an idle minute costs.
	BytesPerNodeMinute []float64 `json:"bytes_per_node_minute"`
	// CoverageSeries is the coverage per second of virtual time since the
	// first publish, at the end of each second (written as coverage.csv,
	// not in the JSON).
	CoverageSeries []float64 `json:"-"`
	// DelayHistogram counts stores by delay since the message's publish,
	// in bins of DelayBin (for the CDF plot; not in the JSON).
	DelayHistogram []int64 `json:"-"`
}

// DelayBin is the bin width of SyncSummary.DelayHistogram.
const DelayBin = 100 * time.Millisecond

// Percentiles are p50, p90 and p99 of a distribution; nil when empty.
type Percentiles struct {
	P50 *float64 `json:"p50"`
	P90 *float64 `json:"p90"`
	P99 *float64 `json:"p99"`
}

// Convergence holds the tXX figures in seconds; nil is JSON null.
type Convergence struct {
	T50  *float64 `json:"t50"`
	T90  *float64 `json:"t90"`
	T99  *float64 `json:"t99"`
	T100 *float64 `json:"t100"`
}

// ProfileSync is the convergence of the peers of one NAT profile.
type ProfileSync struct {
	// Peers is how many peers have the profile.
	Peers int `json:"peers"`
	// Convergence is over the (peer of the profile, message) pairs.
	Convergence Convergence `json:"convergence"`
	// Coverage is the fraction of those pairs stored at the end.
	Coverage float64 `json:"coverage"`
}

// coverage counts the (online peer, message) pairs stored among a set of
// peers and notes when the thresholds were first passed.
type coverage struct {
	peers  int         // peers in the set, online or not
	online int64       // online now
	pairs  int64       // stored pairs among the online peers
	times  [4]*float64 // t50 t90 t99 t100
}

var thresholds = [4]float64{0.5, 0.9, 0.99, 1}

// check notes the thresholds passed now, since the first publish, with
// msgs messages to hold.
func (c *coverage) check(msgs int64, since time.Duration) {
	total := c.online * msgs
	if total == 0 {
		return
	}
	for i, q := range thresholds {
		if c.times[i] == nil && float64(c.pairs) >= math.Ceil(q*float64(total)) {
			v := since.Seconds()
			c.times[i] = &v
		}
	}
}

// addPair counts one more stored pair, of msgs messages per peer, and
// notes the thresholds passed, since.
func (c *coverage) addPair(msgs int64, since time.Duration) {
	c.pairs++
	c.check(msgs, since)
}

// value returns the coverage now.
func (c *coverage) value(msgs int64) float64 {
	if c.online == 0 || msgs == 0 {
		return 0
	}
	return float64(c.pairs) / float64(c.online*msgs)
}

func (c *coverage) convergence() Convergence {
	return Convergence{T50: c.times[0], T90: c.times[1], T99: c.times[2], T100: c.times[3]}
}

// syncState is the run's view of synchronisation.
type syncState struct {
	def        *protocol.Definition
	pool       *protocol.Pool
	stores     []*protocol.MemStore // by node index (nil for trackers)
	held       []int32              // by node index: published messages its store holds
	keyIx      map[string]int32     // member key -> node index
	msgOf      []int32              // pool ID -> published message index + 1
	msgIDs     []uint64             // published message index -> pool ID
	msgTime    []time.Duration      // published message index -> publish time
	msgGroup   []uint8              // published message index -> partition group of its publisher
	published  int
	skipped    int
	msgBytes   int64
	first      time.Duration // virtual time of the first publish
	started    bool
	all        coverage               // (online peer, message) pairs stored
	byProfile  map[string]*coverage   // the same per NAT profile
	series     []float64              // coverage at the end of each second since first
	delays     []int64                // stores by delay, DelayBin bins
	syncBytes  int64                  // sync blocks
	requests   int64                  // requests with a sync block
	filterB    int64                  // filter bytes
	fpSample   int                    // requesters with index % fpSample == 0 are checked
	fp, tested int64                  // bloom measurement
	fpSeen     map[[2]uint64]struct{} // (filter, packet ID) pairs counted
	fpExpected float64                // sum over tested packets of their filter's false-positive rate
	lastSync   bool                   // the definition has last-sync types
	publisher  map[protocol.MemberID]bool
	minutes    []int64 // SyncBytes at the end of each whole minute
}

// definition turns the scenario's community block into message types
// numbered 1, 2, ... in file order.
func definition(c scenarios.Community) (*protocol.Definition, error) {
	metas := make([]protocol.Meta, 0, len(c.Messages))
	for i, m := range c.Messages {
		pm := protocol.Meta{Name: m.Name, Type: wire.Type(i + 1), Unsigned: m.Authentication == scenarios.AuthNone,
			SequenceNumbers: m.Distribution.SequenceNumbers, Priority: uint8(m.Distribution.Priority),
			HistorySize: m.Distribution.HistorySize, NodeCount: m.Destination.NodeCount}
		switch m.Distribution.Kind {
		case scenarios.KindFullSync:
			pm.Distribution = protocol.FullSync
		case scenarios.KindLastSync:
			pm.Distribution = protocol.LastSync
		default:
			pm.Distribution = protocol.Direct
		}
		switch m.Distribution.Direction {
		case scenarios.DirDescending:
			pm.Direction = protocol.Descending
		case scenarios.DirRandom:
			pm.Direction = protocol.Random
		}
		if m.Destination.Kind == scenarios.DestCommunity {
			pm.Destination = protocol.ToCommunity
		}
		if p := m.Distribution.Pruning; p != nil {
			pm.PruneInactive, pm.PrunePruned = p.Inactive, p.Pruned
		}
		resolution(&pm, m)
		metas = append(metas, pm)
	}
	return protocol.NewDefinition(metas)
}

func newSyncState(def *protocol.Definition, nodes, peers int) *syncState {
	st := &syncState{def: def, pool: protocol.NewPool(), stores: make([]*protocol.MemStore, 0, nodes),
		held: make([]int32, 0, nodes), keyIx: make(map[string]int32, nodes), fpSample: max(1, peers/250),
		publisher: map[protocol.MemberID]bool{},
		byProfile: map[string]*coverage{}, fpSeen: map[[2]uint64]struct{}{}}
	for _, m := range def.Metas() {
		if m.Distribution == protocol.LastSync {
			st.lastSync = true
		}
	}
	return st
}

// profile returns the coverage of the peers of NAT profile name.
func (st *syncState) profile(name string) *coverage {
	c := st.byProfile[name]
	if c == nil {
		c = &coverage{}
		st.byProfile[name] = c
	}
	return c
}

// addPeer registers a new peer (offline) with its store and member key;
// trackers get a place with no store.
func (st *syncState) addPeer(nd *node, store *protocol.MemStore, key []byte) {
	for len(st.stores) < nd.index {
		st.stores = append(st.stores, nil)
		st.held = append(st.held, 0)
	}
	st.stores = append(st.stores, store)
	st.held = append(st.held, 0)
	st.keyIx[string(key)] = int32(nd.index)
	st.profile(nd.profile).peers++
}

// resetStore gives peer nd an empty store (a peer that comes back without
// keep_store); it is offline.
func (st *syncState) resetStore(nd *node) {
	st.stores[nd.index] = protocol.NewMemStore(st.pool)
	st.held[nd.index] = 0
}

// online counts peer nd in or out of the online coverage.
func (st *syncState) online(r *run, nd *node, on bool) {
	d, h := int64(1), int64(st.held[nd.index])
	if !on {
		d, h = -1, -h
	}
	for _, c := range []*coverage{&st.all, st.byProfile[nd.profile]} {
		c.online += d
		c.pairs += h
	}
	st.changed(r, nd)
}

// schedule queues the workload's publications on the network, and the
// minute marks of the sync bytes.
func (r *run) schedule() error {
	for t := time.Minute; t <= r.s.Duration; t += time.Minute {
		r.net.At(t, func() { r.sync.minutes = append(r.sync.minutes, r.syncBytes()) })
	}
	for ei, ev := range r.s.Workload {
		if ev.Publish != nil {
			if err := r.schedulePublish(fmt.Sprintf("workload[%d]", ei), ev.Line, ev.At, *ev.Publish, "workload", ei); err != nil {
				return err
			}
		}
	}
	return nil
}

// schedulePublish queues one publish action; its random choices come
// from the stream (label, index). A random publisher is drawn among the
// peers online at the time; a fixed one that is offline then publishes
// nothing.
func (r *run) schedulePublish(path string, line int, at time.Duration, p scenarios.Publish, label string, index int) error {
	cid := r.communityID()
	meta := r.sync.def.Meta(p.Message)
	if meta == nil {
		return fmt.Errorf("%s:%d: %s: unknown message %q", r.s.File, line, path, p.Message)
	}
	rng := r.net.Rand(label, index)
	step := time.Duration(0)
	if p.Rate > 0 {
		step = time.Duration(float64(time.Second) / p.Rate)
	}
	if meta.Stored() {
		r.workloadTotal += p.Count
	}
	act := r.publishAction(line, at, p)
	name := p.Message
	for k := 0; k < p.Count; k++ {
		r.net.At(at+time.Duration(k)*step, func() {
			nd := r.publisher(p.From, rng)
			payload := make([]byte, p.Size)
			fillPayload(payload, rng)
			if nd == nil {
				if meta.Stored() {
					r.workloadTotal--
					r.sync.skipped++
				}
				if act != nil && act.want > 0 {
					act.want-- // nobody online to publish it
				}
				return
			}
			if c := nd.node.Community(cid); c != nil {
				rec, err := c.Publish(name, payload)
				if err == nil {
					r.sync.publish(r, nd, &rec)
				}
				r.published(act, nd, &rec, err)
			}
		})
	}
	return nil
}

// publisher returns the peer a publish comes from: peer from, or for
// FromRandom one drawn among the online peers (FromMembers: among the
// members the permissions name); nil when it is offline or
// none is online.
func (r *run) publisher(from int, rng *rand.Rand) *node {
	if from == scenarios.FromMembers {
		from = r.fromMembers(rng)
	}
	if from != scenarios.FromRandom {
		if nd := r.peers[from]; nd.online {
			return nd
		}
		return nil
	}
	if r.online == 0 {
		return nil
	}
	// Draw among all peers until an online one comes up (without churn
	// the first draw is it); after many misses take the next online one.
	i := rng.IntN(len(r.peers))
	for tries := 0; !r.peers[i].online; tries++ {
		if tries < 64 {
			i = rng.IntN(len(r.peers))
		} else {
			i = (i + 1) % len(r.peers)
		}
	}
	return r.peers[i]
}

func fillPayload(b []byte, rng *rand.Rand) {
	for i := 0; i < len(b); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

// published registers a message the workload created.
func (st *syncState) publish(r *run, nd *node, rec *protocol.Record) {
	if rec.ID == 0 {
		return // direct: not stored, not measured
	}
	now := r.net.Now()
	if !st.started {
		st.started, st.first = true, now
	}
	for uint64(len(st.msgOf)) <= rec.ID {
		st.msgOf = append(st.msgOf, 0)
	}
	st.published++
	st.msgOf[rec.ID] = int32(st.published)
	st.msgIDs = append(st.msgIDs, rec.ID)
	st.msgTime = append(st.msgTime, now)
	st.msgGroup = append(st.msgGroup, uint8(r.net.Group(nd.host)))
	st.msgBytes += int64(len(rec.Packet))
	st.publisher[rec.Member] = true
	st.count(r, nd, st.published-1, now) // the publisher holds it
}

// stored counts a packet nd stored if the workload published it.
func (st *syncState) stored(r *run, nd *node, rec *protocol.Record) {
	if rec.ID < uint64(len(st.msgOf)) && st.msgOf[rec.ID] != 0 {
		st.count(r, nd, int(st.msgOf[rec.ID])-1, r.net.Now())
	}
}

// count counts published message msg stored by nd (nil: not a peer).
func (st *syncState) count(r *run, nd *node, msg int, now time.Duration) {
	if nd == nil || nd.tracker {
		return
	}
	st.held[nd.index]++
	bin := int((now - st.msgTime[msg]) / DelayBin)
	for len(st.delays) <= bin {
		st.delays = append(st.delays, 0)
	}
	st.delays[bin]++
	if !nd.online {
		return // a packet stored as the node stops cannot happen; be safe
	}
	st.all.pairs++
	st.byProfile[nd.profile].pairs++
	st.changed(r, nd)
}

// changed re-checks the thresholds (against everything the workload will
// publish) and the per-second series after a change among nd's set.
func (st *syncState) changed(r *run, nd *node) {
	if !st.started {
		return
	}
	now := r.net.Now()
	since := now - st.first
	msgs := int64(r.workloadTotal)
	st.all.check(msgs, since)
	if pc := st.byProfile[nd.profile]; pc != nil {
		pc.check(msgs, since)
	}
	sec := int(since / time.Second)
	for len(st.series) < sec {
		last := 0.0
		if n := len(st.series); n > 0 {
			last = st.series[n-1]
		}
		st.series = append(st.series, last)
	}
	v := st.all.value(msgs)
	if len(st.series) == sec {
		st.series = append(st.series, v)
	} else {
		st.series[sec] = v
	}
}

func (st *syncState) answered(a *protocol.SyncAnswer) {
	ix, ok := st.keyIx[string(a.Requester)]
	if !ok || int(ix)%st.fpSample != 0 {
		return
	}
	s := st.stores[ix]
	if s == nil {
		return
	}
	// Each (filter, absent packet) pair counts once: a requester reuses
	// and grows a filter that brought packets, and a packet its filter
	// shows by mistake stays absent and shown, so counting every answer
	// would count the same false positive again and again.
	fd := a.FilterID()
	rate := a.FilterFalsePositiveRate()
	absent := func(id uint64, shown bool) {
		k := [2]uint64{fd, id}
		if _, dup := st.fpSeen[k]; dup {
			return
		}
		st.fpSeen[k] = struct{}{}
		st.tested++
		st.fpExpected += rate
		if shown {
			st.fp++
		}
	}
	for id := range a.Positives() {
		if !s.HasID(id) {
			absent(id, true)
		}
	}
	for _, id := range a.Sent {
		if !s.HasID(id) {
			absent(id, false)
		}
	}
}

// syncBytes sums what synchronisation sent so far: sync blocks, community
// messages, identities and missing-* requests.
func (r *run) syncBytes() int64 {
	bytes := r.sync.syncBytes
	for t := range r.sentB {
		ty := wire.Type(t)
		if ty < wire.FirstReservedType || ty == wire.TypeIdentity || ty == wire.TypeMissingSequence ||
			ty == wire.TypeMissingMessage || ty == wire.TypeMissingIdentity {
			bytes += r.sentB[t]
		}
	}
	return bytes
}

func (r *run) syncSummary() SyncSummary {
	st := r.sync
	ss := SyncSummary{Messages: st.published, Counting: CoverageCounting, BloomConfiguredRate: r.cfg.SyncBloomErrorRate,
		SyncRequests: st.requests, BloomTested: st.tested, SkippedOffline: st.skipped, SkipMode: string(r.cfg.SyncSkipMode)}
	if !r.cfg.SyncSkip {
		ss.SkipMode = "off"
	}
	ss.Convergence = st.all.convergence()
	peers := int64(len(r.peers))
	msgs := int64(r.workloadTotal)
	total := msgs * peers
	ss.Coverage = st.all.value(msgs)
	ss.ByProfile = map[string]ProfileSync{}
	for name, pc := range st.byProfile {
		ss.ByProfile[name] = ProfileSync{Peers: pc.peers, Convergence: pc.convergence(), Coverage: pc.value(msgs)}
	}
	ss.DelayHistogram = st.delays
	ss.DeliveryDelay = histPercentiles(st.delays, DelayBin)
	bytes := r.syncBytes()
	ss.SyncBytes = bytes
	if peers > 0 {
		ss.BytesSentPerNode = float64(bytes) / float64(peers)
		prev := int64(0)
		for _, b := range st.minutes {
			ss.BytesPerNodeMinute = append(ss.BytesPerNodeMinute, float64(b-prev)/float64(peers))
			prev = b
		}
	}
	ss.DuplicateDeliveries = r.drops[wire.ReasonDuplicate]
	if st.published > 0 {
		ss.MeanMessageBytes = float64(st.msgBytes) / float64(st.published)
		ss.OverheadRatio = float64(bytes) / (float64(total) * ss.MeanMessageBytes)
	}
	if st.tested > 0 {
		ss.BloomFalsePositiveRate = float64(st.fp) / float64(st.tested)
		ss.BloomExpectedRate = st.fpExpected / float64(st.tested)
	}
	if st.requests > 0 {
		ss.MeanFilterBytes = float64(st.filterB) / float64(st.requests)
	}
	if total > 0 {
		ss.CoverageSeries = st.series
	}
	if st.lastSync {
		ok := r.lastSyncExact()
		ss.LastSyncExact = &ok
	}
	return ss
}

// lastSyncExact checks that every peer holds, of every last-sync type,
// exactly the newest HistorySize messages of each member that any peer
// holds.
func (r *run) lastSyncExact() bool {
	st := r.sync
	for _, m := range st.def.Metas() {
		if m.Distribution != protocol.LastSync {
			continue
		}
		// the newest messages per member, over every peer
		newest := map[protocol.MemberID][]uint64{}
		for _, nd := range r.peers {
			s := st.stores[nd.index]
			s.Scan(m.Type, 1, math.MaxInt64, false, func(rec *protocol.Record) bool {
				l := append(newest[rec.Member], rec.GlobalTime)
				newest[rec.Member] = l
				return true
			})
		}
		want := map[protocol.MemberID]map[uint64]bool{}
		for mem, gts := range newest {
			set := map[uint64]bool{}
			for _, g := range gts {
				set[g] = true
			}
			var uniq []uint64
			for g := range set {
				uniq = append(uniq, g)
			}
			slices.Sort(uniq)
			if len(uniq) > m.HistorySize {
				uniq = uniq[len(uniq)-m.HistorySize:]
			}
			w := map[uint64]bool{}
			for _, g := range uniq {
				w[g] = true
			}
			want[mem] = w
		}
		exp := 0
		for _, w := range want {
			exp += len(w)
		}
		for _, nd := range r.peers {
			s := st.stores[nd.index]
			held := 0
			ok := true
			s.Scan(m.Type, 1, math.MaxInt64, false, func(rec *protocol.Record) bool {
				held++
				if !want[rec.Member][rec.GlobalTime] {
					ok = false
				}
				return ok
			})
			if !ok || held != exp {
				return false
			}
		}
	}
	return true
}

// histPercentiles returns p50, p90 and p99 of a histogram of bins of
// width bin, in seconds at the upper edge of the bin each falls in.
func histPercentiles(h []int64, bin time.Duration) Percentiles {
	var n int64
	for _, c := range h {
		n += c
	}
	if n == 0 {
		return Percentiles{}
	}
	at := func(q float64) *float64 {
		want := int64(math.Ceil(q * float64(n)))
		cum := int64(0)
		for i, c := range h {
			cum += c
			if cum >= want {
				v := (time.Duration(i+1) * bin).Seconds()
				return &v
			}
		}
		return nil
	}
	return Percentiles{P50: at(0.5), P90: at(0.9), P99: at(0.99)}
}
