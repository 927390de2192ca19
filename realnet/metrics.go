package realnet

import (
	"encoding/hex"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Drop reasons of datagrams the peer rejects before the node sees them,
// beside the node's own (wire.Reason names).
const (
	DropQueueFull = "queue_full" // the receive queue held MaxQueuedBytes
	DropOversize  = "oversize"   // longer than MaxDatagram
)

// Metrics is a peer's Prometheus registry and the protocol.Observer that
// feeds it. Counters are updated on the node's loop; gauges (candidates,
// stored messages, global time) are read from the node when scraped. It
// holds its own registry: nothing is registered globally.
type Metrics struct {
	protocol.NopObserver
	Registry *prometheus.Registry

	sent, sentBytes, recv, recvBytes [256]prometheus.Counter
	dropped                          [wire.NumReasons]prometheus.Counter
	stored                           [256]prometheus.Counter
	syncReqs, syncReqBytes           prometheus.Counter
	syncAnswers, syncPkts, syncBytes prometheus.Counter
	unloaded                         prometheus.Counter
	queueFull, oversize              prometheus.Counter

	// per community, for the status report (loop only)
	sync     map[wire.CID]*SyncStats
	answerB  uint64 // bytes of stored-type packets sent since the last introduction-response
	typeName func(wire.Type) string
	log      func(msg string, args ...any)
}

// SyncStats are one community's bloom-filter sync counters.
type SyncStats struct {
	// RequestsSent counts introduction-requests that carried a sync block,
	// RequestBytes the bytes of those blocks.
	RequestsSent uint64 `json:"requests_sent"`
	RequestBytes uint64 `json:"request_bytes"`
	// Answers counts sync blocks answered, AnswerPackets and AnswerBytes
	// what the answers sent.
	Answers       uint64 `json:"answers"`
	AnswerPackets uint64 `json:"answer_packets"`
	AnswerBytes   uint64 `json:"answer_bytes"`
	// Stored counts messages stored, created or received.
	Stored uint64 `json:"stored"`
}

// newMetrics builds the registry; typeName names a message type byte for
// the kind label; snapshot, called at each scrape from the scraping
// goroutine, returns the gauges (false if the node is gone).
func newMetrics(typeName func(wire.Type) string, snapshot func() (*Status, bool)) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{Registry: reg, sync: make(map[wire.CID]*SyncStats), typeName: typeName}
	byKind := func(name, help string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dispersy", Name: name, Help: help}, []string{"kind"})
		reg.MustRegister(v)
		return v
	}
	sent := byKind("packets_sent_total", "Datagrams sent, by message kind.")
	sentB := byKind("sent_bytes_total", "Bytes of datagrams sent, by message kind.")
	recv := byKind("packets_received_total", "Datagrams received, by message kind (as the type byte says, before any check).")
	recvB := byKind("received_bytes_total", "Bytes of datagrams received, by message kind.")
	stored := byKind("messages_stored_total", "Messages stored (created or received), by message type.")
	for t := range 256 {
		k := typeName(wire.Type(t))
		m.sent[t], m.sentBytes[t] = sent.WithLabelValues(k), sentB.WithLabelValues(k)
		m.recv[t], m.recvBytes[t] = recv.WithLabelValues(k), recvB.WithLabelValues(k)
		m.stored[t] = stored.WithLabelValues(k)
	}
	drops := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dispersy", Name: "packets_dropped_total",
		Help: "Received datagrams rejected, by reason."}, []string{"reason"})
	reg.MustRegister(drops)
	for r := range wire.NumReasons {
		if r != wire.ReasonNone {
			m.dropped[r] = drops.WithLabelValues(r.String())
		}
	}
	m.queueFull, m.oversize = drops.WithLabelValues(DropQueueFull), drops.WithLabelValues(DropOversize)
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "dispersy", Name: name, Help: help})
		reg.MustRegister(c)
		return c
	}
	m.syncReqs = counter("sync_requests_sent_total", "Introduction-requests sent with a sync block.")
	m.syncReqBytes = counter("sync_request_bytes_total", "Bytes of the sync blocks (header and bloom filter) sent.")
	m.syncAnswers = counter("sync_answers_total", "Sync blocks received and answered.")
	m.syncPkts = counter("sync_answer_packets_total", "Packets sent in answer to sync blocks.")
	m.syncBytes = counter("sync_answer_bytes_total", "Bytes of the packets sent in answer to sync blocks.")
	m.unloaded = counter("tracker_communities_unloaded_total", "Communities a tracker left after three strikes.")
	reg.MustRegister(&gauges{snapshot: snapshot}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) syncOf(cid wire.CID) *SyncStats {
	s := m.sync[cid]
	if s == nil {
		s = &SyncStats{}
		m.sync[cid] = s
	}
	return s
}

// received counts a datagram before the node handles it.
func (m *Metrics) received(pkt []byte) {
	t := wire.Type(0)
	if _, tt, ok := wire.Peek(pkt); ok {
		t = tt
	}
	m.recv[t].Inc()
	m.recvBytes[t].Add(float64(len(pkt)))
}

// PacketSent implements protocol.Observer.
func (m *Metrics) PacketSent(t wire.Type, size int) {
	m.sent[t].Inc()
	m.sentBytes[t].Add(float64(size))
	// A sync answer is the last thing the node sends for an
	// introduction-request, after the response: the stored-type packets
	// sent since the response are the answer's.
	switch {
	case t == wire.TypeIntroductionResponse:
		m.answerB = 0
	case t < wire.FirstReservedType || t == wire.TypeIdentity:
		m.answerB += uint64(size)
	}
}

// PacketDropped implements protocol.Observer.
func (m *Metrics) PacketDropped(r wire.Reason) {
	if c := m.dropped[r]; c != nil {
		c.Inc()
	}
}

// MessageStored implements protocol.Observer.
func (m *Metrics) MessageStored(cid wire.CID, r *protocol.Record) {
	m.stored[r.Meta].Inc()
	m.syncOf(cid).Stored++
}

// SyncRequested implements protocol.Observer.
func (m *Metrics) SyncRequested(cid wire.CID, size int) {
	m.syncReqs.Inc()
	m.syncReqBytes.Add(float64(size))
	s := m.syncOf(cid)
	s.RequestsSent++
	s.RequestBytes += uint64(size)
}

// SyncAnswered implements protocol.Observer.
func (m *Metrics) SyncAnswered(cid wire.CID, a *protocol.SyncAnswer) {
	m.syncAnswers.Inc()
	m.syncPkts.Add(float64(len(a.Sent)))
	s := m.syncOf(cid)
	s.Answers++
	s.AnswerPackets += uint64(len(a.Sent))
	if len(a.Sent) > 0 {
		m.syncBytes.Add(float64(m.answerB))
		s.AnswerBytes += m.answerB
	}
	m.answerB = 0
}

// Introduced implements protocol.Observer.
func (m *Metrics) Introduced(cid wire.CID, via, introduced netip.AddrPort) {
	if m.log != nil {
		m.log("introduced", "community", hex.EncodeToString(cid[:4]), "via", via.String(), "peer", introduced.String())
	}
}

// ConnTypeChanged implements protocol.Observer.
func (m *Metrics) ConnTypeChanged(ct wire.ConnType) {
	if m.log != nil {
		m.log("connection type", "type", ct.String())
	}
}

// gauges reads the node's state at scrape time.
type gauges struct {
	snapshot func() (*Status, bool)
}

var (
	descCandidates = prometheus.NewDesc("dispersy_candidates", "Candidates by walker category.", []string{"community", "category"}, nil)
	descMessages   = prometheus.NewDesc("dispersy_messages", "Messages held in the store, by message type.", []string{"community", "type"}, nil)
	descGlobalTime = prometheus.NewDesc("dispersy_global_time", "The community's Lamport clock.", []string{"community"}, nil)
	descCommunity  = prometheus.NewDesc("dispersy_communities", "Communities joined.", nil, nil)
	descConn       = prometheus.NewDesc("dispersy_connection_type", "1 for the connection type the peer detected.", []string{"type"}, nil)
	descPending    = prometheus.NewDesc("dispersy_store_pending_writes", "Writes waiting for the next commit.", nil, nil)
	descCommits    = prometheus.NewDesc("dispersy_store_commits_total", "Store transactions committed.", nil, nil)
)

// Describe implements prometheus.Collector.
func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCandidates, descMessages, descGlobalTime, descCommunity, descConn, descPending, descCommits} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	st, ok := g.snapshot()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(descCommunity, prometheus.GaugeValue, float64(len(st.Communities)))
	ch <- prometheus.MustNewConstMetric(descConn, prometheus.GaugeValue, 1, st.ConnectionType)
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(st.Store.Pending))
	ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(st.Store.Commits))
	for _, c := range st.Communities {
		for _, cat := range []string{"walk", "stumble", "intro", "discovered"} {
			ch <- prometheus.MustNewConstMetric(descCandidates, prometheus.GaugeValue, float64(c.Candidates[cat]), c.ID, cat)
		}
		for name, n := range c.Messages {
			ch <- prometheus.MustNewConstMetric(descMessages, prometheus.GaugeValue, float64(n), c.ID, name)
		}
		ch <- prometheus.MustNewConstMetric(descGlobalTime, prometheus.GaugeValue, float64(c.GlobalTime), c.ID)
	}
}
