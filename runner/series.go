package runner

import (
	"slices"
	"time"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/simnet"
)

// TimePoint is one sample of the run's time series, taken every
// metrics.interval of virtual time (timeseries.csv). Rates are over the
// interval that ends at T.
type TimePoint struct {
	// T is the virtual time of the sample.
	T time.Duration
	// Online is the number of peers online.
	Online int
	// Coverage is the sync coverage among the online peers
	// (CoverageCounting); 0 before the first publish.
	Coverage float64
	// Connected is the share of online peers with a non-tracker walk
	// candidate; MeanVerified their mean walk+stumble candidates.
	Connected    float64
	MeanVerified float64
	// Published is how many messages the workload has published so far.
	Published int
	// SentPerSecond, DeliveredPerSecond and BytesPerSecond are packets
	// sent, packets delivered and payload bytes delivered per virtual
	// second; DropsPerSecond drops per second, in total and by reason
	// (simnet.DropReason order).
	SentPerSecond      float64
	DeliveredPerSecond float64
	BytesPerSecond     float64
	DropsPerSecond     float64
	Drops              [simnet.NumDropReasons]float64
	// EventsPerSecond is simulator events per virtual second.
	EventsPerSecond float64
}

// seriesState samples the time series.
type seriesState struct {
	every  time.Duration
	last   simnet.Stats
	lastT  time.Duration
	points []TimePoint
}

func newSeriesState(r *run) *seriesState {
	return &seriesState{every: r.s.Metrics.Interval}
}

// tick is called once per whole virtual second; it samples when an
// interval has passed since the last sample (an interval that is not a
// whole number of seconds is sampled at the next whole second).
func (ss *seriesState) tick(r *run, now time.Duration) {
	if ss.every > 0 && now-ss.lastT >= ss.every {
		ss.sample(r, now)
	}
}

// sample takes one sample at now.
func (ss *seriesState) sample(r *run, now time.Duration) {
	st := r.net.Stats()
	dt := (now - ss.lastT).Seconds()
	if dt <= 0 {
		return
	}
	connected, verified := r.walkerCounts()
	p := TimePoint{T: now, Online: r.online, Published: r.sync.published,
		SentPerSecond:      float64(st.PacketsSent-ss.last.PacketsSent) / dt,
		DeliveredPerSecond: float64(st.PacketsDelivered-ss.last.PacketsDelivered) / dt,
		BytesPerSecond:     float64(st.BytesDelivered-ss.last.BytesDelivered) / dt,
		EventsPerSecond:    float64(st.Events-ss.last.Events) / dt,
	}
	if r.sync.started {
		p.Coverage = r.sync.all.value(int64(r.workloadTotal))
	}
	if r.online > 0 {
		p.Connected = float64(connected) / float64(r.online)
		p.MeanVerified = float64(verified) / float64(r.online)
	}
	for i := range st.Dropped {
		p.Drops[i] = float64(st.Dropped[i]-ss.last.Dropped[i]) / dt
		p.DropsPerSecond += p.Drops[i]
	}
	ss.points = append(ss.points, p)
	ss.last, ss.lastT = st, now
}

// finish takes a last sample at the end of the run, unless one was just
// taken.
func (ss *seriesState) finish(r *run, end time.Duration) []TimePoint {
	if ss.every > 0 && end > ss.lastT {
		ss.sample(r, end)
	}
	return ss.points
}

// walkerCounts counts, over the online peers, those with a non-tracker
// walk candidate, and their walk and stumble candidates.
func (r *run) walkerCounts() (connected, verified int) {
	cid := r.communityID()
	for _, nd := range r.peers {
		if !nd.online {
			continue
		}
		n := nd.node
		c := n.Community(cid)
		if c == nil {
			continue
		}
		now := n.Now()
		cfg := n.Config()
		ok := false
		for _, x := range c.Candidates() {
			switch x.Category(now, cfg) {
			case protocol.CategoryWalk:
				verified++
				ok = ok || !x.Tracker
			case protocol.CategoryStumble:
				verified++
			}
		}
		if ok {
			connected++
		}
	}
	return connected, verified
}

// capture hands f the packets delivered to or sent by the given peers
// (every packet when peers is nil).
func (r *run) capture(f func(simnet.Capture), peers []int) {
	if peers == nil {
		r.net.OnCapture(f)
		return
	}
	peers = slices.Clone(peers)
	slices.Sort(peers)
	want := func(host int) bool {
		if host >= len(r.nodes) || r.nodes[host].peer < 0 {
			return false
		}
		_, ok := slices.BinarySearch(peers, r.nodes[host].peer)
		return ok
	}
	r.net.OnCapture(func(c simnet.Capture) {
		if want(c.SrcHost) || want(c.DstHost) {
			f(c)
		}
	})
}
