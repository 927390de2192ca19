package simnet

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// DefaultPort is the UDP port every simulated host binds unless
// Config.Port says otherwise (Dispersy's customary port).
const DefaultPort = 7759

// DefaultLANLatency is the delay of a packet that never crosses the public
// Internet (same LAN, same carrier-grade NAT realm, or hairpinned).
const DefaultLANLatency = 500 * time.Microsecond

// DefaultInternetLatency is the constant one-way Internet delay used when
// Config.Latency is nil.
const DefaultInternetLatency = 50 * time.Millisecond

// Config is what a Network is built from.
type Config struct {
	// Seed determines every random choice of the run.
	Seed uint64
	// Latency is the one-way delay distribution of pairs of public
	// endpoints; nil means ConstantLatency{DefaultInternetLatency}.
	Latency Latency
	// Loss is the independent probability, 0 <= Loss < 1, that a packet
	// crossing the public Internet is lost. LAN and hairpinned packets are
	// never lost.
	Loss float64
	// LANLatency is the delay inside one realm; 0 means DefaultLANLatency.
	LANLatency time.Duration
	// Port is the UDP port of every host; 0 means DefaultPort.
	Port uint16
	// NoTrace turns off the trace hash (saves ~100 ns per delivered packet).
	NoTrace bool
	// Trace, if set, is the hash the trace is fed into instead of a fresh
	// SHA-256 (for example one that hashes on another goroutine, in order).
	// TraceHash returns its Sum. Ignored with NoTrace.
	Trace hash.Hash
	// Seal, if set, is called once for every datagram a host sends: with
	// the network's own copy of it when the datagram goes in flight, or
	// with nil when it is dropped at once. It may keep modifying the copy
	// on another goroutine (the runner fills in signatures on worker
	// goroutines this way); the returned function, if not nil, must block
	// until it is done, and the network calls it before the datagram is
	// hashed, delivered, dropped on arrival or recycled. Whatever Seal
	// writes must depend only on the datagram, so runs stay deterministic.
	Seal func(pkt []byte) (wait func())
}

// Network is a deterministic discrete-event simulation of hosts, NAT boxes
// and the links between them. It is single-threaded: all of its methods, and
// all callbacks it makes, run on the caller's goroutine, and none may be
// called concurrently.
type Network struct {
	seed     uint64
	lat      Latency
	latKey   uint64
	loss     float64
	lossRand *rand.Rand
	lanDelay int64
	port     uint16

	q       *queue
	now     int64
	seq     uint64
	running bool

	timers     []timerSlot
	freeTimers []int32
	epochs     []uint32 // per host: bumped by Host.Reset, which cancels the host's timers
	pkts       []pktSlot
	freePkts   []int32
	waits      []func() // per packet slot, when Config.Seal is set
	seal       func(pkt []byte) func()
	bufs       bufPool

	hostChunks []*[1 << hostChunkBits]Host
	numHosts   int
	boxes      []box
	pubOwner   []int32    // public address index -> host id, or -(box id)-1
	lanHost    []lanEntry // LAN address index -> host and its realm
	cgnBox     []int32    // carrier-grade realm address index -> box id
	shared     map[string]*sharedBox

	profiles   []string         // profile names by index
	profileIdx map[string]int32 // and back

	pubGroup []uint8 // partition group per public address index; nil: no partition

	stats    Stats
	trace    hash.Hash
	traceHdr [24]byte
	halt     bool // Halt was called: RunUntil returns after the current event

	onDeliver func(srcHost, dstHost int)
	onCapture func(c Capture)
	onDrop    func(srcHost int, reason DropReason)
	progEvery int64
	progNext  int64
	progFn    func(now time.Duration)
}

// New returns an empty network at virtual time 0.
func New(cfg Config) (*Network, error) {
	lat := cfg.Latency
	if lat == nil {
		lat = ConstantLatency{D: DefaultInternetLatency}
	}
	if v, ok := lat.(validator); ok {
		if err := v.validate(); err != nil {
			return nil, fmt.Errorf("simnet: latency: %w", err)
		}
	}
	if !(cfg.Loss >= 0 && cfg.Loss < 1) {
		return nil, fmt.Errorf("simnet: loss %v: %w", cfg.Loss, errors.New("must be in [0, 1)"))
	}
	if cfg.LANLatency < 0 {
		return nil, fmt.Errorf("simnet: LAN latency %v: %w", cfg.LANLatency, errors.New("negative"))
	}
	n := &Network{
		seed:     cfg.Seed,
		lat:      prepare(lat),
		loss:     cfg.Loss,
		lossRand: NewRand(cfg.Seed, "loss", 0),
		lanDelay: int64(cfg.LANLatency),
		port:     cfg.Port,
		seal:     cfg.Seal,
		q:        newQueue(defaultBucketShift, defaultBucketBits),
		shared:   make(map[string]*sharedBox),

		profileIdx: make(map[string]int32),
	}
	if n.lanDelay == 0 {
		n.lanDelay = int64(DefaultLANLatency)
	}
	if n.port == 0 {
		n.port = DefaultPort
	}
	k1, _ := streamSeed(cfg.Seed, "latency", 0)
	n.latKey = k1
	if !cfg.NoTrace {
		n.trace = cfg.Trace
		if n.trace == nil {
			n.trace = sha256.New()
		}
	}
	return n, nil
}

// Now returns the current virtual time.
func (n *Network) Now() time.Duration { return time.Duration(n.now) }

// Seed returns the run's seed.
func (n *Network) Seed() uint64 { return n.seed }

// Rand returns a new stream NewRand(seed, label, index) for a consumer
// outside the network (a workload or churn driver). Labels "node", "nat" and
// "loss" are the network's own.
func (n *Network) Rand(label string, index int) *rand.Rand {
	return NewRand(n.seed, label, index)
}

// Pending returns the number of queued events, stopped timers included
// until their time comes.
func (n *Network) Pending() int { return n.q.Len() }

// timerSlot is the payload of a timer event.
type timerSlot struct {
	fn    func()
	gen   uint32
	host  int32  // host whose Env scheduled it, -1 for a driver's At/After
	epoch uint32 // the host's epoch then: a Reset since cancels the timer
	state uint8
}

const (
	slotFree uint8 = iota
	slotPending
	slotStopped
)

// Timer is a pending callback scheduled by At, After or a host's
// Env.AfterFunc. It implements protocol.Timer.
type Timer struct {
	n   *Network
	idx int32
	gen uint32
}

// Stop cancels the callback and reports whether it was still pending (false
// if it already ran or was stopped before).
func (t *Timer) Stop() bool {
	if t == nil || t.n == nil {
		return false
	}
	s := &t.n.timers[t.idx]
	if s.gen != t.gen || s.state != slotPending {
		return false
	}
	s.state = slotStopped
	s.fn = nil // let the closure be collected now; the slot is freed when its event pops
	t.n.stats.TimersStopped++
	return true
}

// schedule queues f at absolute time at (clamped to now) for a driver.
func (n *Network) schedule(at int64, f func()) *Timer { return n.scheduleFor(at, f, -1) }

// scheduleFor queues f at absolute time at (clamped to now) on behalf of
// host (-1: a driver): a Reset of the host cancels it.
func (n *Network) scheduleFor(at int64, f func(), host int32) *Timer {
	if f == nil {
		panic("simnet: nil timer function")
	}
	if at < n.now {
		at = n.now
	}
	var idx int32
	if k := len(n.freeTimers); k > 0 {
		idx = n.freeTimers[k-1]
		n.freeTimers = n.freeTimers[:k-1]
	} else {
		if len(n.timers) > refMask {
			panic("simnet: too many pending timers")
		}
		idx = int32(len(n.timers))
		n.timers = append(n.timers, timerSlot{})
	}
	s := &n.timers[idx]
	s.fn = f
	s.state = slotPending
	s.host = host
	if host >= 0 {
		s.epoch = n.epochs[host]
	}
	n.push(at, uint64(idx))
	return &Timer{n: n, idx: idx, gen: s.gen}
}

// freeTimer returns a timer slot to the free list; stale handles stop
// matching it.
func (n *Network) freeTimer(idx int32) {
	s := &n.timers[idx]
	s.fn = nil
	s.state = slotFree
	s.gen++
	n.freeTimers = append(n.freeTimers, idx)
}

// push queues an event with the next sequence number.
func (n *Network) push(at int64, ref uint64) {
	if n.seq > maxSeq {
		panic("simnet: event sequence number overflow")
	}
	n.q.push(event{t: at, key: n.seq<<seqShift | ref})
	n.seq++
}

// At schedules f to run at virtual time t (a time before Now runs at Now).
// It is meant for drivers: node starts, workload, churn, measurements. Events
// at the same instant run in the order they were scheduled.
func (n *Network) At(t time.Duration, f func()) *Timer {
	return n.schedule(int64(t), f)
}

// After schedules f to run d after Now.
func (n *Network) After(d time.Duration, f func()) *Timer {
	if d < 0 {
		d = 0
	}
	return n.schedule(addSat(n.now, int64(d)), f)
}

func addSat(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

// OnProgress arranges for f(now) to be called each time virtual time reaches
// a multiple of every (after Now), before the events of that instant. Pass
// every <= 0 or f == nil to remove the hook. It costs one comparison per
// event.
func (n *Network) OnProgress(every time.Duration, f func(now time.Duration)) {
	if every <= 0 || f == nil {
		n.progFn = nil
		return
	}
	n.progEvery = int64(every)
	n.progNext = (n.now/n.progEvery + 1) * n.progEvery
	n.progFn = f
}

// OnDeliver sets a hook called for every delivered packet with the sending
// and receiving host IDs, just before the receiver's handler. nil removes it.
// When unset it costs one nil check per delivery.
func (n *Network) OnDeliver(f func(srcHost, dstHost int)) { n.onDeliver = f }

// OnDrop sets a hook called for every dropped packet with the sending host
// and the reason. nil removes it.
func (n *Network) OnDrop(f func(srcHost int, reason DropReason)) { n.onDrop = f }

// Capture is one delivered packet as the receiving host's socket sees it:
// Src is the source after every NAT on the way, Dst the receiver's own
// endpoint. Payload is only valid during the OnCapture call.
type Capture struct {
	Time             time.Duration // virtual time of the delivery
	Src, Dst         netip.AddrPort
	SrcHost, DstHost int // host IDs of sender and receiver
	Payload          []byte
}

// OnCapture sets a hook called for every delivered packet with its
// addresses and bytes (for packet captures), just before the receiver's
// handler. nil removes it; unset it costs one nil check per delivery.
func (n *Network) OnCapture(f func(c Capture)) { n.onCapture = f }

// ErrHalted is returned by RunUntil when Halt stopped it early.
var ErrHalted = errors.New("simnet: run halted")

// Halt makes the RunUntil in progress return ErrHalted right after the
// current event, with the clock at that event's time. It is meant to be
// called from inside a callback (a progress hook seeing an interrupt).
func (n *Network) Halt() { n.halt = true }

// SetLoss changes the loss probability of packets sent from now on.
func (n *Network) SetLoss(p float64) error {
	if !(p >= 0 && p < 1) {
		return fmt.Errorf("simnet: loss %v: %w", p, errors.New("must be in [0, 1)"))
	}
	n.loss = p
	return nil
}

// SetLatency changes the latency distribution of packets sent from now on
// (packets in flight keep their delay); nil means the default.
func (n *Network) SetLatency(l Latency) error {
	if l == nil {
		l = ConstantLatency{D: DefaultInternetLatency}
	}
	if v, ok := l.(validator); ok {
		if err := v.validate(); err != nil {
			return fmt.Errorf("simnet: latency: %w", err)
		}
	}
	n.lat = prepare(l)
	return nil
}

// MaxGroup is the largest partition group.
const MaxGroup = 255

// SetGroup puts the public address host h is reached at (its own, or its
// outermost NAT's, shared by every host behind that NAT) into partition
// group g: from now on packets that cross the Internet between addresses
// of two different non-zero groups are dropped with reason "partitioned".
// Group 0, every address's default, reaches every group. Packets already
// in flight are not affected.
func (n *Network) SetGroup(h *Host, g int) error {
	if g < 0 || g > MaxGroup {
		return fmt.Errorf("simnet: partition group %d: %w", g, fmt.Errorf("must be in [0, %d]", MaxGroup))
	}
	i := int(h.pubIP - pubBase)
	for len(n.pubGroup) <= i {
		n.pubGroup = append(n.pubGroup, 0)
	}
	n.pubGroup[i] = uint8(g)
	return nil
}

// Group returns the partition group of h's public address (0 when none).
func (n *Network) Group(h *Host) int { return int(n.groupOf(h.pubIP)) }

// groupOf returns the partition group of public address ip.
func (n *Network) groupOf(ip uint32) uint8 {
	if i := ip - pubBase; i < uint32(len(n.pubGroup)) {
		return n.pubGroup[i]
	}
	return 0
}

// Heal ends every partition: all addresses go back to group 0.
func (n *Network) Heal() { n.pubGroup = nil }

// RunUntil processes events in (time, sequence) order until the next one is
// later than t, then sets the clock to t. It must not be called from inside
// a callback of the same network.
func (n *Network) RunUntil(t time.Duration) error {
	if n.running {
		return errors.New("simnet: RunUntil: called from inside the run")
	}
	until := int64(t)
	if until < n.now {
		return fmt.Errorf("simnet: RunUntil %v: %w", t, fmt.Errorf("clock is already at %v", time.Duration(n.now)))
	}
	n.running = true
	n.halt = false
	defer func() { n.running = false }()
	for {
		if n.halt {
			n.halt = false
			return ErrHalted
		}
		limit := until
		if n.progFn != nil && n.progNext-1 < limit {
			limit = n.progNext - 1
		}
		if e, ok := n.q.popUntil(limit); ok {
			n.now = e.t
			n.prefetch()
			idx := int32(e.key & refMask)
			if e.key&kindPacket != 0 {
				n.arrive(idx)
			} else {
				n.fire(idx)
			}
			continue
		}
		if n.progFn != nil && n.progNext <= until {
			n.now = n.progNext
			n.progNext += n.progEvery
			n.progFn(time.Duration(n.now))
			continue
		}
		break
	}
	n.now = until
	return nil
}

// Look-ahead distances of prefetch, in events of the current bucket.
const (
	prefetchSlot    = 16 // the event's slot
	prefetchDest    = 8  // a packet's destination host and buffer (read from the slot)
	prefetchHandler = 3  // the destination's handler closure (read from the host)
)

// prefetch asks the CPU, a few events ahead in the current bucket, for
// the memory an event will touch: its slot; for a packet, a little later
// (once the slot is in cache), its destination host and payload buffer,
// and later still the host's handler closure. With 100,000 hosts each of
// these is a cache miss when the event comes; prefetched, the misses of
// several events overlap with the work of the events before them. The
// hints change nothing the program can observe.
func (n *Network) prefetch() {
	q := n.q
	if i := q.pos + prefetchSlot; i < len(q.cur) {
		e := q.cur[i]
		idx := e.key & refMask
		if e.key&kindPacket != 0 {
			prefetchLine(uintptr(unsafe.Pointer(&n.pkts[idx])))
		} else {
			prefetchLine(uintptr(unsafe.Pointer(&n.timers[idx])))
		}
	}
	if i := q.pos + prefetchDest; i < len(q.cur) {
		if e := q.cur[i]; e.key&kindPacket != 0 {
			p := &n.pkts[e.key&refMask]
			if p.owner >= 0 {
				prefetchLine(uintptr(unsafe.Pointer(n.host(p.owner))))
			}
			prefetchLine(uintptr(unsafe.Pointer(unsafe.SliceData(n.bufs.bytes(p.buf, 1)))))
		}
	}
	if i := q.pos + prefetchHandler; i < len(q.cur) {
		if e := q.cur[i]; e.key&kindPacket != 0 {
			if o := n.pkts[e.key&refMask].owner; o >= 0 {
				// A func value points to its closure.
				prefetchLine(uintptr(*(*unsafe.Pointer)(unsafe.Pointer(&n.host(o).handler))))
			}
		}
	}
}

// fire runs a timer event.
func (n *Network) fire(idx int32) {
	s := &n.timers[idx]
	if s.state != slotPending {
		n.freeTimer(idx)
		return
	}
	if s.host >= 0 && n.epochs[s.host] != s.epoch {
		n.stats.TimersStopped++ // cancelled by the host's Reset
		n.freeTimer(idx)
		return
	}
	f := s.fn
	n.freeTimer(idx)
	n.stats.Events++
	n.stats.TimersFired++
	f()
}

// DropReason says why a packet was not delivered.
type DropReason uint8

// Drop reasons. Their String forms are the names used in results.
const (
	DropLoss          DropReason = iota // random loss on the Internet path
	DropNATFiltered                     // a NAT's filter refused the source
	DropNoMapping                       // no live NAT mapping for the destination port
	DropNoRoute                         // destination address not reachable (e.g. private, from outside)
	DropHairpin                         // a NAT without hairpinning got a packet for its own outside
	DropPortExhausted                   // a NAT could not allocate an outside port
	DropOffline                         // sender or receiver offline
	DropClosedPort                      // host reached on a port it does not listen on
	DropOversize                        // datagram larger than MaxDatagram
	DropPartitioned                     // sender and receiver in different partition groups
	NumDropReasons                      // number of drop reasons
)

// String returns the reason's name, e.g. "nat_filtered".
func (r DropReason) String() string {
	switch r {
	case DropLoss:
		return "loss"
	case DropNATFiltered:
		return "nat_filtered"
	case DropNoMapping:
		return "no_mapping"
	case DropNoRoute:
		return "no_route"
	case DropHairpin:
		return "hairpin"
	case DropPortExhausted:
		return "port_exhausted"
	case DropOffline:
		return "offline"
	case DropClosedPort:
		return "closed_port"
	case DropOversize:
		return "oversize"
	case DropPartitioned:
		return "partitioned"
	}
	return fmt.Sprintf("DropReason(%d)", uint8(r))
}

// Stats counts what the network did.
type Stats struct {
	Events           int64                 // events processed: packet arrivals plus timer and driver callbacks run
	TimersFired      int64                 // timer and driver callbacks run
	TimersStopped    int64                 // timers cancelled while pending (Stop, or a host's Reset)
	PacketsSent      int64                 // Send calls
	PacketsDelivered int64                 // packets handed to a host
	BytesDelivered   int64                 // payload bytes handed to hosts
	InFlight         int64                 // packets sent and not yet arrived
	Dropped          [NumDropReasons]int64 // drops, indexed by DropReason
}

// DropCount is one entry of Stats.Drops.
type DropCount struct {
	Reason DropReason // why
	Count  int64      // how many packets
}

// Drops returns every drop reason with its count, sorted by reason name.
func (s Stats) Drops() []DropCount {
	out := make([]DropCount, 0, NumDropReasons)
	for r := DropReason(0); r < NumDropReasons; r++ {
		out = append(out, DropCount{Reason: r, Count: s.Dropped[r]})
	}
	slices.SortFunc(out, func(a, b DropCount) int { return strings.Compare(a.Reason.String(), b.Reason.String()) })
	return out
}

// DropsByName returns the drop counts keyed by reason name (for JSON output;
// iterate Drops for a deterministic order).
func (s Stats) DropsByName() map[string]int64 {
	m := make(map[string]int64, NumDropReasons)
	for r := DropReason(0); r < NumDropReasons; r++ {
		m[r.String()] = s.Dropped[r]
	}
	return m
}

// TotalDropped returns the sum of all drops.
func (s Stats) TotalDropped() int64 {
	var t int64
	for _, c := range s.Dropped {
		t += c
	}
	return t
}

// Stats returns a snapshot of the counters.
func (n *Network) Stats() Stats {
	s := n.stats
	s.InFlight = int64(len(n.pkts) - len(n.freePkts))
	return s
}

// TraceHash returns the SHA-256 over every delivered packet so far: arrival
// time, source and destination endpoints, length and bytes, in delivery
// order. Two runs with the same seed and driver give the same hash. It is
// all zeros when Config.NoTrace is set.
func (n *Network) TraceHash() [32]byte {
	var out [32]byte
	if n.trace != nil {
		n.trace.Sum(out[:0])
	}
	return out
}

// traceDelivery feeds one delivered packet into the trace hash.
func (n *Network) traceDelivery(srcIP uint32, srcPort uint16, dstIP uint32, dstPort uint16, pkt []byte) {
	h := n.traceHdr[:]
	binary.BigEndian.PutUint64(h[0:], uint64(n.now))
	binary.BigEndian.PutUint32(h[8:], srcIP)
	binary.BigEndian.PutUint16(h[12:], srcPort)
	binary.BigEndian.PutUint32(h[14:], dstIP)
	binary.BigEndian.PutUint16(h[18:], dstPort)
	binary.BigEndian.PutUint32(h[20:], uint32(len(pkt)))
	n.trace.Write(h)
	n.trace.Write(pkt)
}

// drop counts a dropped packet.
func (n *Network) drop(srcHost int32, r DropReason) {
	n.stats.Dropped[r]++
	if n.onDrop != nil {
		n.onDrop(int(srcHost), r)
	}
}
