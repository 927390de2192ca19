package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// Observer receives a node's events. The simulator aggregates them, realnet
// logs or exports them. Calls happen on the node's loop, synchronously: keep
// them cheap. Address arguments are values; nothing passed may be retained
// beyond the call unless copied.
type Observer interface {
	// PacketSent is called for every datagram the node sends.
	PacketSent(t wire.Type, size int)
	// PacketDropped is called for every received datagram the node rejects.
	PacketDropped(r wire.Reason)
	// Introduced is called when an introduction-response introduces the
	// peer at introduced (the address we will talk to it at) to us.
	Introduced(cid wire.CID, via, introduced netip.AddrPort)
	// Introducing is called on the introducer when it answers requester's
	// introduction-request by introducing the candidate at introduced (and
	// sends that candidate a puncture-request).
	Introducing(cid wire.CID, requester, introduced netip.AddrPort)
	// ConnTypeChanged is called when the node's own connection type changes.
	ConnTypeChanged(ct wire.ConnType)
	// MessageStored is called when the node stores a message, created or
	// received (r is valid only during the call).
	MessageStored(cid wire.CID, r *Record)
	// DirectReceived is called for every accepted direct community message.
	DirectReceived(cid wire.CID, t wire.Type, payload []byte)
	// SyncRequested is called when an introduction-request carries a sync
	// block of size bytes (header and filter).
	SyncRequested(cid wire.CID, size int)
	// SyncAnswered is called after the node answered a sync block; a is
	// valid only during the call.
	SyncAnswered(cid wire.CID, a *SyncAnswer)
}

// NopObserver ignores every event. Embed it to implement only some methods.
type NopObserver struct{}

// PacketSent implements Observer.
func (NopObserver) PacketSent(wire.Type, int) {}

// PacketDropped implements Observer.
func (NopObserver) PacketDropped(wire.Reason) {}

// Introduced implements Observer.
func (NopObserver) Introduced(wire.CID, netip.AddrPort, netip.AddrPort) {}

// Introducing implements Observer.
func (NopObserver) Introducing(wire.CID, netip.AddrPort, netip.AddrPort) {}

// ConnTypeChanged implements Observer.
func (NopObserver) ConnTypeChanged(wire.ConnType) {}

// MessageStored implements Observer.
func (NopObserver) MessageStored(wire.CID, *Record) {}

// DirectReceived implements Observer.
func (NopObserver) DirectReceived(wire.CID, wire.Type, []byte) {}

// SyncRequested implements Observer.
func (NopObserver) SyncRequested(wire.CID, int) {}

// SyncAnswered implements Observer.
func (NopObserver) SyncAnswered(wire.CID, *SyncAnswer) {}

var _ Observer = NopObserver{}

// Options configure a node.
type Options struct {
	Env    Env
	Config Config
	Scheme Scheme
	Key    PrivateKey
	// LAN is the address the node's socket is bound to, as peers on its own
	// LAN reach it. It is also the initial WAN address (Dispersy's start).
	LAN netip.AddrPort
	// LANPrefixes are the node's own subnets: a source inside one is "on our
	// LAN". Nil means Dispersy's fallback: the private IPv4 ranges.
	LANPrefixes []netip.Prefix
	// Trackers are the bootstrap trackers, inserted as discovered candidates.
	Trackers []netip.AddrPort
	// Tracker makes this node a bootstrap tracker: it joins any community it
	// receives a packet for, never walks, and answers introduction-requests.
	Tracker bool
	// Observer receives events; nil means none.
	Observer Observer
	// Definition is the message types of every community the node joins;
	// nil means DefaultDefinition. Trackers define none: they store nothing.
	Definition *Definition
	// OpenStore returns the store of a community the node joins; nil means
	// a MemStore of its own. Not called on trackers.
	OpenStore func(cid wire.CID) (Store, error)
	// CoSign decides the signature requests for double-signed messages
	// naming the node's member as co-signer; nil refuses them all.
	CoSign CoSignFunc
	// Scratch is the working memory for one call into the node; nil gives
	// the node its own. Nodes that never run concurrently (all nodes of one
	// simulation) may share one, which keeps it in the CPU cache.
	Scratch *Scratch
}

// Scratch is the working memory a node uses while it handles one call: the
// decoded packet and the encode buffer. Nothing in it survives the call.
type Scratch struct {
	pkt  wire.Packet
	buf  []byte
	dups []*Candidate
	sync wire.SyncBlock
	rf   syncFilter // the filter of the sync request being answered
	own  syncFilter // the answering node's own filter of the same kind
	dig  []DigestEntry
	pos  positives        // the packets the answered filter showed
	seq  iter.Seq[uint64] // pos.all, made once
	ans  SyncAnswer       // what the observer is told of the answer
	negs []uint64         // the packets the answered filter did not show
	put  Record           // the record being stored by onMessage
	aux  wire.Packet      // stored packets decoded while verdicts are computed
	made wire.Packet      // packets the node creates, decoded
	in   wire.Packet      // the inner packet of a signature request or response
	gts  []uint64
	sel  []selItem
	recs []Record

	// the member of the packet being handled and the message it already
	// stores at the packet's global time (stored types only)
	member  MemberID
	old     Record
	haveOld bool
}

// NewScratch returns working memory for one node, or for several nodes
// that never run concurrently.
func NewScratch() *Scratch {
	s := &Scratch{buf: make([]byte, 0, 1500)}
	s.seq = s.pos.all
	return s
}

// Node is one Dispersy instance: one socket, one member key, any number of
// communities. It is a single-threaded state machine: the driver must never
// call it concurrently (see doc.go).
type Node struct {
	env      Env
	cfg      Config
	scheme   Scheme
	key      PrivateKey
	pub      []byte
	mid      MemberID
	obs      Observer
	def      *Definition
	open     func(cid wire.CID) (Store, error)
	cosign   CoSignFunc
	resume   []resumed
	prefixes []netip.Prefix
	trackers []netip.AddrPort
	tracker  bool

	lan, wan netip.AddrPort
	connType wire.ConnType
	votes    votes

	communities []*Community // sorted by cid
	solo        *Community   // the only community, when there is exactly one
	pubHead     uint64       // the first 8 bytes of pub (big-endian), beside solo in the cache
	stopped     bool

	s       *Scratch
	stats   Stats
	dropped uint64 // sum of stats.Dropped, kept so the hot path need not add it up
}

// ownKey reports whether k is the node's public key. Its first 8 bytes,
// kept in the Node, rule out nearly every other key without reading pub.
func (n *Node) ownKey(k []byte) bool {
	if len(k) >= 8 && len(n.pub) >= 8 && binary.BigEndian.Uint64(k) != n.pubHead {
		return false
	}
	return bytes.Equal(k, n.pub)
}

// resumed is a delayed packet whose dependency arrived.
type resumed struct {
	from    netip.AddrPort
	pkt     []byte
	delayed *delayedMsg // what it was waiting as
}

// Stats are a node's counters.
type Stats struct {
	Received uint64                  // datagrams handed to HandlePacket
	Accepted uint64                  // datagrams processed without a drop
	Sent     uint64                  // datagrams sent
	Dropped  [wire.NumReasons]uint64 // rejected datagrams by reason
	Delayed  uint64                  // received messages held back for something missing (a later drop counts again)
}

// TotalDropped sums the drops over all reasons.
func (s *Stats) TotalDropped() uint64 {
	var t uint64
	for _, d := range s.Dropped {
		t += d
	}
	return t
}

var errOptions = errors.New("protocol: invalid options")

// NewNode builds a node. It sends nothing until a community is joined.
func NewNode(o Options) (*Node, error) {
	if o.Env == nil || o.Scheme == nil || o.Key == nil {
		return nil, fmt.Errorf("%w: Env, Scheme and Key are required", errOptions)
	}
	if !o.LAN.IsValid() {
		return nil, fmt.Errorf("%w: LAN address %v is not valid", errOptions, o.LAN)
	}
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if len(o.Key.Public()) != KeyLen {
		return nil, fmt.Errorf("%w: public key has %d bytes, want %d", errOptions, len(o.Key.Public()), KeyLen)
	}
	obs := o.Observer
	if obs == nil {
		obs = NopObserver{}
	}
	def := o.Definition
	if def == nil && !o.Tracker {
		def = DefaultDefinition()
	}
	if o.Tracker {
		def = nil
	}
	n := &Node{
		env: o.Env, cfg: o.Config, scheme: o.Scheme, key: o.Key, pub: o.Key.Public(), mid: IDOf(o.Key.Public()),
		obs: obs, def: def, open: o.OpenStore, cosign: o.CoSign,
		prefixes: o.LANPrefixes, trackers: slices.Clone(o.Trackers), tracker: o.Tracker,
		lan: o.LAN, wan: o.LAN, connType: wire.ConnUnknown,
		s: o.Scratch,
	}
	if len(n.pub) >= 8 {
		n.pubHead = binary.BigEndian.Uint64(n.pub)
	}
	if n.s == nil {
		n.s = NewScratch()
	}
	return n, nil
}

// Config returns the node's configuration.
func (n *Node) Config() *Config { return &n.cfg }

// PublicKey returns the node's member key.
func (n *Node) PublicKey() []byte { return n.pub }

// LAN returns the node's LAN address.
func (n *Node) LAN() netip.AddrPort { return n.lan }

// WAN returns the node's current WAN address (by vote).
func (n *Node) WAN() netip.AddrPort { return n.wan }

// ConnType returns the node's detected connection type.
func (n *Node) ConnType() wire.ConnType { return n.connType }

// IsTracker reports whether the node is a bootstrap tracker.
func (n *Node) IsTracker() bool { return n.tracker }

// Stats returns a copy of the node's counters.
func (n *Node) Stats() Stats { return n.stats }

// Communities returns the joined communities, sorted by cid.
func (n *Node) Communities() []*Community { return n.communities }

// Community returns the joined community cid, or nil.
func (n *Node) Community(cid wire.CID) *Community {
	if c := n.solo; c != nil {
		if c.cid == cid {
			return c
		}
		return nil
	}
	i, ok := slices.BinarySearchFunc(n.communities, cid, func(c *Community, id wire.CID) int {
		return bytes.Compare(c.cid[:], id[:])
	})
	if ok {
		return n.communities[i]
	}
	return nil
}

// MemberID returns the node's member id (SHA-1 of its key).
func (n *Node) MemberID() MemberID { return n.mid }

// Join joins community cid (idempotent) and, unless the node is a tracker,
// creates its identity there and starts walking after a random delay in
// [0, StartJitter). It fails only if the community's store cannot be opened.
func (n *Node) Join(cid wire.CID) (*Community, error) {
	if c := n.Community(cid); c != nil {
		return c, nil
	}
	c := newCommunity(n, cid)
	if !n.tracker {
		c.def = n.def
		var st Store
		if n.open != nil {
			var err error
			if st, err = n.open(cid); err != nil {
				return nil, fmt.Errorf("join %x: open store: %w", cid[:4], err)
			}
		} else {
			st = NewMemStore(nil)
		}
		c.store = st
		c.gt = st.GlobalTime()
		c.loadPermissions()
		c.loadDestroyed()
		found := false
		st.ScanMember(n.mid, wire.TypeIdentity, func(*Record) bool { found = true; return false })
		if !found {
			if _, err := c.create(&identityMeta, nil); err != nil {
				return nil, fmt.Errorf("join %x: create identity: %w", cid[:4], err)
			}
		}
	}
	i, _ := slices.BinarySearchFunc(n.communities, cid, func(c *Community, id wire.CID) int {
		return bytes.Compare(c.cid[:], id[:])
	})
	n.communities = slices.Insert(n.communities, i, c)
	n.solo = nil
	if len(n.communities) == 1 {
		n.solo = c
	}
	c.start()
	return c, nil
}

// Stop cancels every timer; the node ignores packets afterwards.
func (n *Node) Stop() {
	n.stopped = true
	for _, c := range n.communities {
		c.stop()
	}
}

func (n *Node) drop(r wire.Reason) {
	n.stats.Dropped[r]++
	n.dropped++
	n.obs.PacketDropped(r)
}

func (n *Node) send(to netip.AddrPort, t wire.Type, pkt []byte) {
	n.stats.Sent++
	n.obs.PacketSent(t, len(pkt))
	n.env.Send(to, pkt)
}

// isLAN reports whether ip is on one of our own subnets.
func (n *Node) isLAN(ip netip.Addr) bool {
	if len(n.prefixes) == 1 && n.prefixes[0].IsSingleIP() {
		return ip == n.prefixes[0].Addr()
	}
	if n.prefixes == nil {
		return ip.IsPrivate() || ip == n.lan.Addr()
	}
	for _, p := range n.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// estimate corrects a peer's self-reported addresses with the address its
// packet came from (Dispersy's estimate_lan_and_wan_addresses).
func (n *Node) estimate(sock, lan, wan netip.AddrPort) (netip.AddrPort, netip.AddrPort) {
	if n.isLAN(sock.Addr()) {
		return sock, wan
	}
	return lan, sock
}

// vote counts voter's opinion of our WAN address and re-derives our WAN
// address and connection type (Dispersy's wan_address_vote).
func (n *Node) vote(addr, voter netip.AddrPort) {
	// The same vote again leaves the tally as it was: skip the churn, but
	// re-evaluate below, as other voters may have gone since.
	if cur, ok := n.votes.ballotOf(voter); !ok || cur != addr {
		n.votes.unvote(voter)
		if !wire.ValidAddr(addr) || n.isLAN(voter.Addr()) {
			return
		}
		n.votes.add(addr, voter)
	}
	if addr != n.wan && n.votes.count(addr) > n.votes.count(n.wan) {
		n.wan = addr
		// our own addresses must not be candidates
		for _, c := range n.communities {
			c.removeSock(n.wan)
			c.removeSock(n.lan)
		}
	}
	ct := wire.ConnUnknown
	switch {
	case n.votes.addresses() == 1 && n.lan == n.wan:
		ct = wire.ConnPublic
	case n.votes.addresses() > 1 && !n.votes.anyMultiIP():
		ct = wire.ConnSymmetricNAT
	}
	if ct != n.connType {
		n.connType = ct
		n.obs.ConnTypeChanged(ct)
	}
}

// HandlePacket processes one received datagram. pkt is only read during
// the call; the node copies what it keeps.
func (n *Node) HandlePacket(from netip.AddrPort, pkt []byte) {
	if n.stopped {
		return
	}
	n.stats.Received++
	if !wire.ValidAddr(from) {
		n.drop(wire.ReasonInvalidSource)
		return
	}
	cid, _, ok := wire.Peek(pkt)
	if !ok {
		n.drop(wire.ReasonShort)
		return
	}
	c := n.Community(cid)
	if c == nil && !n.tracker {
		if err := wire.Decode(pkt, n.scheme.SignatureLen(), KeyLen, &n.s.pkt); err != nil {
			n.drop(reasonOf(err))
			return
		}
		n.drop(wire.ReasonUnknownCommunity)
		return
	}
	n.handle(c, cid, from, pkt)
	n.drainResume()
}

// drainResume handles the delayed packets whose dependency arrived (they
// may resume others in turn).
func (n *Node) drainResume() {
	for len(n.resume) > 0 {
		r := n.resume[0]
		n.resume = n.resume[1:]
		cid, _, _ := wire.Peek(r.pkt)
		if c := n.Community(cid); c != nil && !n.stopped {
			c.retrying = r.delayed
			n.handle(c, cid, r.from, r.pkt)
			c.retrying = nil
		}
	}
	n.resume = nil
}

func (n *Node) handle(c *Community, cid wire.CID, from netip.AddrPort, pkt []byte) {
	p := &n.s.pkt
	var layouts *wire.Layouts
	if c != nil && c.def != nil {
		layouts = &c.def.layouts
	}
	if err := wire.DecodeWith(pkt, n.scheme.SignatureLen(), KeyLen, layouts, p); err != nil {
		n.drop(reasonOf(err))
		return
	}
	if p.Key != nil {
		if n.ownKey(p.Key) {
			n.drop(wire.ReasonOwnMember)
			return
		}
		// A copy of a stored packet is a duplicate, whatever its
		// signature: it was verified when it was stored.
		n.s.haveOld = false
		if c != nil && c.store != nil && c.def != nil && p.GlobalTime > 0 && storedType(c.def, p.Type) {
			n.s.member = IDOf(p.Key)
			n.s.old, n.s.haveOld = c.store.Get(n.s.member, p.GlobalTime)
			if n.s.haveOld && bytes.Equal(n.s.old.Packet, pkt) {
				if u := n.s.old.Undone; u != 0 && u != UndoneByTimeline {
					c.sendUndoOf(from, &n.s.old)
				}
				n.drop(wire.ReasonDuplicate)
				return
			}
		}
		if !n.scheme.Verify(p.Key, p.Body, p.Signature) ||
			(p.Key2 != nil && !n.scheme.Verify(p.Key2, p.Body, p.Signature2)) {
			n.drop(wire.ReasonBadSignature)
			return
		}
	}
	if c == nil {
		// a tracker joins a community when someone walks to it there
		if p.Type != wire.TypeIntroductionRequest {
			n.drop(wire.ReasonUnknownCommunity)
			return
		}
		var err error
		if c, err = n.Join(cid); err != nil {
			n.drop(wire.ReasonNotWanted) // trackers open no store: cannot happen
			return
		}
	}
	before, delayed := n.dropped, n.stats.Delayed
	c.handle(from, p, pkt)
	if n.dropped == before && n.stats.Delayed == delayed {
		n.stats.Accepted++
	}
}

// storedType reports whether messages of type t are stored in a
// community of definition d.
func storedType(d *Definition, t wire.Type) bool {
	m := d.metaOf(t)
	return m != nil && m.Stored()
}

func reasonOf(err error) wire.Reason {
	var we *wire.Error
	if errors.As(err, &we) {
		return we.Reason
	}
	return wire.ReasonNone
}

// Now returns the node's current time (its Env's clock).
func (n *Node) Now() Time { return n.env.Now() }
