package emul

import (
	"context"
	"math"
	"runtime"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/dispersy-go/dispersy/natmodels"
	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
	"github.com/dispersy-go/dispersy/runner"
)

// metricSet is one process's counters: metric name -> label value ("" for
// a metric without labels) -> value.
type metricSet map[string]map[string]float64

// The peer's metrics the summary is made of (realnet/metrics.go).
const (
	mSent      = "dispersy_packets_sent_total"
	mSentBytes = "dispersy_sent_bytes_total"
	mDropped   = "dispersy_packets_dropped_total"
	mSyncReqs  = "dispersy_sync_requests_sent_total"
	mSyncReqB  = "dispersy_sync_request_bytes_total"
)

func toMetricSet(fams map[string]*dto.MetricFamily) metricSet {
	out := metricSet{}
	for _, name := range []string{mSent, mSentBytes, mDropped, mSyncReqs, mSyncReqB} {
		f := fams[name]
		if f == nil {
			continue
		}
		m := map[string]float64{}
		for _, x := range f.GetMetric() {
			label := ""
			if ls := x.GetLabel(); len(ls) > 0 {
				label = ls[0].GetValue()
			}
			v := x.GetCounter().GetValue()
			if x.GetCounter() == nil {
				v = x.GetUntyped().GetValue()
			}
			m[label] += v
		}
		out[name] = m
	}
	return out
}

// scrapeAll reads every host's metrics (an empty set where it failed).
func (r *emuRun) scrapeAll(ctx context.Context) []metricSet {
	out := make([]metricSet, len(r.procs))
	r.eachProc(func(i int, p *proc) {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		out[i] = metricSet{}
		if f, err := p.scrape(c); err == nil {
			out[i] = toMetricSet(f)
		}
	})
	return out
}

// syncKinds are the message kinds whose bytes are sync bytes, as the
// simulator counts them: every community message, identities and the
// missing-* requests.
func syncKinds() []string {
	var out []string
	for _, m := range protocol.DefaultDefinition().Metas() {
		if m.Type < wire.FirstReservedType {
			out = append(out, m.Name)
		}
	}
	return append(out, wire.TypeIdentity.String(), wire.TypeMissingSequence.String(),
		wire.TypeMissingMessage.String(), wire.TypeMissingIdentity.String())
}

// syncBytes is a process's sync bytes so far.
func (m metricSet) syncBytes() float64 {
	v := m[mSyncReqB][""]
	for _, k := range syncKinds() {
		v += m[mSentBytes][k]
	}
	return v
}

// scrapeSum returns the hosts' summed counters (for the per-minute sync
// bytes); a host that fails a scrape counts with its last value.
func (r *emuRun) scrapeSum(ctx context.Context) map[string]float64 {
	sets := r.scrapeAll(ctx)
	total := 0.0
	for i, s := range sets {
		v := s.syncBytes()
		if len(s) == 0 && len(r.minutes) > 0 {
			v = r.minutes[len(r.minutes)-1]["host"+strconv.Itoa(i)]
		}
		total += v
	}
	out := map[string]float64{"sync_bytes": total}
	for i, s := range sets {
		out["host"+strconv.Itoa(i)] = s.syncBytes()
	}
	return out
}

func (r *emuRun) walkerSummary() runner.WalkerSummary {
	w := runner.WalkerSummary{ConnectionTypes: map[string]map[string]int{}, MeanCandidates: map[string]float64{}}
	n := r.s.Nodes
	if n == 0 {
		return w
	}
	var connected, verified, correct int
	cats := map[string]int{}
	walk := r.cfg.WalkInterval
	// the simulator samples "connected" every walk interval: a peer first
	// seen connected at t counts at the next multiple of it
	conn := make([]time.Duration, n)
	byProf := map[string][]time.Duration{}
	for i := range n {
		h := r.plan.Hosts[r.s.Trackers+i]
		st := r.final[r.s.Trackers+i]
		if connectedOf(st) {
			connected++
		}
		for _, c := range st.Communities {
			for cat, k := range c.Candidates {
				cats[cat] += k
				if cat == protocol.CategoryWalk.String() || cat == protocol.CategoryStumble.String() {
					verified += k
				}
			}
		}
		prof, _ := natmodels.LookupProfile(h.Profile)
		if st.ConnectionType == runner.ExpectedConnType(prof).String() {
			correct++
		}
		m := w.ConnectionTypes[h.Profile]
		if m == nil {
			m = map[string]int{}
			w.ConnectionTypes[h.Profile] = m
		}
		m[st.ConnectionType]++
		conn[i] = r.connAt[i]
		if conn[i] >= 0 && walk > 0 {
			conn[i] = (conn[i] + walk - 1) / walk * walk
		}
		byProf[h.Profile] = append(byProf[h.Profile], conn[i])
	}
	fn := float64(n)
	w.ConnectedFraction = float64(connected) / fn
	w.MeanVerifiedCandidates = float64(verified) / fn
	w.ConnectionTypeAccuracy = float64(correct) / fn
	for _, c := range []protocol.Category{protocol.CategoryWalk, protocol.CategoryStumble, protocol.CategoryIntro, protocol.CategoryDiscovered} {
		w.MeanCandidates[c.String()] = float64(cats[c.String()]) / fn
	}
	w.ConnectSeconds = map[string]runner.ConnectTimes{"all": runner.ConnectTimesOf(conn)}
	for name, ts := range byProf {
		w.ConnectSeconds[name] = runner.ConnectTimesOf(ts)
	}
	return w
}

// coverageOf turns the polls into convergence times and a per-second
// series for the peers in set (nil: all), against total pairs. A
// threshold passed between two polls is dated at their midpoint.
func (r *emuRun) coverageOf(set func(i int) bool, total int64, first time.Duration) (runner.Convergence, float64, []float64) {
	var times [4]*float64
	qs := [4]float64{0.5, 0.9, 0.99, 1}
	var series []float64
	prevT := first
	last := 0.0
	for _, smp := range r.polls {
		if smp.t < first {
			continue
		}
		var pairs int64
		for i, s := range smp.stored {
			if set == nil || set(i) {
				pairs += int64(s)
			}
		}
		cov := 0.0
		if total > 0 {
			cov = float64(pairs) / float64(total)
		}
		for k, q := range qs {
			if times[k] == nil && total > 0 && pairs >= int64(math.Ceil(q*float64(total))) {
				v := max(0, ((prevT+smp.t)/2 - first).Seconds())
				times[k] = &v
			}
		}
		for sec := len(series) + 1; time.Duration(sec)*time.Second+first <= smp.t; sec++ {
			series = append(series, last)
		}
		last = cov
		prevT = smp.t
	}
	end := r.s.Duration
	for sec := len(series) + 1; time.Duration(sec)*time.Second+first <= end; sec++ {
		series = append(series, last)
	}
	return runner.Convergence{T50: times[0], T90: times[1], T99: times[2], T100: times[3]}, last, series
}

func (r *emuRun) syncSummary(total metricSet) runner.SyncSummary {
	ss := runner.SyncSummary{BloomConfiguredRate: r.cfg.SyncBloomErrorRate, SkipMode: string(r.cfg.SyncSkipMode),
		ByProfile: map[string]runner.ProfileSync{}}
	if !r.cfg.SyncSkip {
		ss.SkipMode = "off"
	}
	scheduled := 0
	for _, p := range r.schedule() {
		if m := protocol.DefaultDefinition().Meta(p.message); m != nil && m.Stored() {
			scheduled++
		}
	}
	r.pubMu.Lock()
	ss.Messages = len(r.pubs)
	first := r.firstPub
	r.pubMu.Unlock()
	peers := int64(r.s.Nodes)
	tot := int64(scheduled) * peers
	if ss.Messages > 0 {
		f := first.Sub(r.t0)
		ss.Convergence, ss.Coverage, ss.CoverageSeries = r.coverageOf(nil, tot, f)
		counts := map[string]int{}
		for i := range r.s.Nodes {
			counts[r.plan.Hosts[r.s.Trackers+i].Profile]++
		}
		for name, k := range counts {
			in := func(i int) bool { return r.plan.Hosts[r.s.Trackers+i].Profile == name }
			conv, cov, _ := r.coverageOf(in, int64(scheduled)*int64(k), f)
			ss.ByProfile[name] = runner.ProfileSync{Peers: k, Convergence: conv, Coverage: cov}
		}
	}
	bytes := total.syncBytes()
	ss.SyncBytes = int64(bytes)
	if peers > 0 {
		ss.BytesSentPerNode = bytes / float64(peers)
		prev := 0.0
		for _, m := range r.minutes {
			ss.BytesPerNodeMinute = append(ss.BytesPerNodeMinute, (m["sync_bytes"]-prev)/float64(peers))
			prev = m["sync_bytes"]
		}
	}
	ss.DuplicateDeliveries = int64(total[mDropped][wire.ReasonDuplicate.String()])
	text := protocol.DefaultDefinition().Metas()[0].Name
	if c := total[mSent][text]; c > 0 {
		ss.MeanMessageBytes = total[mSentBytes][text] / c
	}
	if tot > 0 && ss.MeanMessageBytes > 0 {
		ss.OverheadRatio = bytes / (float64(tot) * ss.MeanMessageBytes)
	}
	ss.SyncRequests = int64(total[mSyncReqs][""])
	if ss.SyncRequests > 0 {
		ss.MeanFilterBytes = (total[mSyncReqB][""] - float64(ss.SyncRequests*wire.SyncHeaderLen)) / float64(ss.SyncRequests)
	}
	return ss
}

// simKind renders a metric kind label as the simulator's summary names
// message types (community messages by their type byte).
func simKind(label string) string {
	for _, m := range protocol.DefaultDefinition().Metas() {
		if m.Name == label {
			return m.Type.String()
		}
	}
	return label
}

func (r *emuRun) summary() *runner.Summary {
	total := metricSet{}
	for _, m := range r.finalMet {
		for name, ls := range m {
			if total[name] == nil {
				total[name] = map[string]float64{}
			}
			for l, v := range ls {
				total[name][l] += v
			}
		}
	}
	s := &runner.Summary{
		Scenario: r.s.Name, Seed: r.seed, Nodes: r.s.Nodes, Trackers: r.s.Trackers, Crypto: protocol.Ed25519{}.Name(),
		VirtualSeconds: r.s.Duration.Seconds(), PacketsSent: r.obs.sent, PacketsDelivered: r.obs.delivered,
		PacketsDropped: map[string]int64{"loss": r.rep.Delay.Dropped, "nat_filtered": r.rep.NATUnsolicited},
		Messages:       map[string]runner.MessageStats{}, NodeDrops: map[string]int64{},
		Build: runner.BuildInfo{GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
			GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU()},
	}
	for kind, c := range total[mSent] {
		if c > 0 {
			s.Messages[simKind(kind)] = runner.MessageStats{Count: int64(c), Bytes: int64(total[mSentBytes][kind])}
		}
	}
	for reason, c := range total[mDropped] {
		if c > 0 {
			s.NodeDrops[reason] = int64(c)
		}
	}
	s.Walker = r.walkerSummary()
	s.Puncture = r.obs.puncture(r.s.Duration)
	s.Sync = r.syncSummary(total)
	r.rep.PollSeconds = r.o.Poll.Seconds()
	return s
}
