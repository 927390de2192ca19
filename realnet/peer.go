package realnet

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
	"github.com/dispersy-go/dispersy/realnet/sqlstore"
)

// PeerConfig configures a Peer.
type PeerConfig struct {
	// Listen is the UDP address to bind, e.g. "0.0.0.0:6421" or "127.0.0.1:0".
	Listen string
	// Tracker makes the peer a bootstrap tracker.
	Tracker bool
	// Trackers are the bootstrap trackers to walk from.
	Trackers []netip.AddrPort
	// Communities are joined at start.
	Communities []wire.CID
	// Config is the protocol configuration (protocol.DefaultConfig() if zero).
	Config protocol.Config
	// Key is the member key; nil generates a fresh ed25519 key from OS entropy.
	Key protocol.PrivateKey
	// Logger receives what the peer finds; nil discards.
	Logger *slog.Logger
	// StorePath is the SQLite database file of the peer's messages; empty
	// keeps them in memory (trackers store nothing).
	StorePath string
	// FlushDelay bounds how long a received message waits for its commit
	// (a publish is committed before it is acknowledged, whatever this
	// says); 0 means DefaultFlushDelay.
	FlushDelay time.Duration
	// TrackerCleanup and TrackerStrikes set a tracker's unload rule (0:
	// protocol.DefaultTrackerCleanupInterval and DefaultTrackerStrikes).
	TrackerCleanup time.Duration
	TrackerStrikes int
	// Masters are community master keys: the peer serves each one's
	// community (its id is the key's SHA-1) and founds it, its member
	// getting every permission from the master (protocol.Community.Found;
	// done once, kept in the store).
	Masters []protocol.PrivateKey
}

// timeNow is the wall clock of the group commit's timing.
var timeNow = time.Now

// DefaultFlushDelay is how long received messages may wait for a commit.
const DefaultFlushDelay = time.Second

// MaxPayload is the largest payload a publish accepts, so that the signed
// packet fits one datagram.
const MaxPayload = MaxDatagram - 1024

// Peer is one protocol node on a real UDP socket, with its store, metrics
// and control operations.
type Peer struct {
	env     *Env
	node    *protocol.Node
	db      *sqlstore.DB
	cleanup *protocol.TrackerCleanup
	metrics *Metrics
	def     *protocol.Definition
	addr    netip.AddrPort
	cfg     PeerConfig
	log     *slog.Logger
	started time.Time
	cancel  context.CancelFunc

	// loop only
	waiters    []chan error
	firstWait  time.Time
	flushTimer protocol.Timer
	failed     bool
}

// NewPeer binds the socket, opens the store and builds the node; Run
// starts it.
func NewPeer(pc PeerConfig) (*Peer, error) {
	ua, err := net.ResolveUDPAddr("udp4", pc.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", pc.Listen, err)
	}
	conn, err := net.ListenUDP("udp4", ua)
	if err != nil {
		return nil, fmt.Errorf("listen on %q: %w", pc.Listen, err)
	}
	ok := false
	defer func() {
		if !ok {
			conn.Close()
		}
	}()
	bound := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	bound = netip.AddrPortFrom(bound.Addr().Unmap(), bound.Port())
	lan, prefixes := lanAddress(bound)
	if pc.Config == (protocol.Config{}) {
		pc.Config = protocol.DefaultConfig()
	}
	if pc.FlushDelay <= 0 {
		pc.FlushDelay = DefaultFlushDelay
	}
	key := pc.Key
	if key == nil {
		var seed [32]byte
		if _, err := crand.Read(seed[:]); err != nil {
			return nil, fmt.Errorf("key generation: %w", err)
		}
		key = protocol.Ed25519{}.NewKey(seed)
	}
	log := pc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, k := range pc.Masters {
		if cid := wire.CID(protocol.IDOf(k.Public())); !slices.Contains(pc.Communities, cid) && !pc.Tracker {
			pc.Communities = append(pc.Communities, cid)
		}
	}
	p := &Peer{addr: lan, cfg: pc, log: log, def: PeerDefinition()}
	p.env = NewEnv(conn)
	p.env.AfterCall = p.afterCall
	p.metrics = newMetrics(p.typeName, p.snapshot)
	p.metrics.log = log.Info
	p.env.OnDrop = func(reason string) {
		if reason == DropOversize {
			p.metrics.oversize.Inc()
		} else {
			p.metrics.queueFull.Inc()
		}
	}
	var open func(wire.CID) (protocol.Store, error)
	if pc.StorePath != "" && !pc.Tracker {
		if p.db, err = sqlstore.Open(pc.StorePath); err != nil {
			return nil, err
		}
		open = func(cid wire.CID) (protocol.Store, error) { return p.db.Community(cid) }
	}
	node, err := protocol.NewNode(protocol.Options{
		Env: p.env, Config: pc.Config, Scheme: protocol.Ed25519{}, Key: key,
		LAN: lan, LANPrefixes: prefixes, Trackers: pc.Trackers, Tracker: pc.Tracker,
		Observer: p.metrics, Definition: p.def, OpenStore: open,
	})
	if err != nil {
		p.closeDB()
		return nil, err
	}
	p.node = node
	if pc.Tracker {
		interval, strikes := pc.TrackerCleanup, pc.TrackerStrikes
		if interval <= 0 {
			interval = protocol.DefaultTrackerCleanupInterval
		}
		if strikes <= 0 {
			strikes = protocol.DefaultTrackerStrikes
		}
		p.cleanup, err = protocol.NewTrackerCleanup(node, interval, strikes, func(cid wire.CID) {
			p.metrics.unloaded.Inc()
			log.Info("community unloaded", "community", hex.EncodeToString(cid[:]), "strikes", strikes)
		})
		if err != nil {
			p.closeDB()
			return nil, err
		}
	}
	// Joined before the loop runs (nothing else touches the node yet), so
	// a community is there for the first call and a store that cannot be
	// opened fails NewPeer.
	for _, cid := range pc.Communities {
		if _, err := node.Join(cid); err != nil {
			node.Stop()
			p.closeDB()
			return nil, fmt.Errorf("community %s: %w", hex.EncodeToString(cid[:]), err)
		}
	}
	for _, k := range pc.Masters {
		if pc.Tracker {
			break
		}
		cid := wire.CID(protocol.IDOf(k.Public()))
		if err := node.Community(cid).Found(k); err != nil {
			node.Stop()
			p.closeDB()
			return nil, fmt.Errorf("community %s: %w", hex.EncodeToString(cid[:]), err)
		}
		log.Info("founded community", "community", hex.EncodeToString(cid[:]))
	}
	ok = true
	return p, nil
}

// Close releases a peer whose Run was never called (Run releases
// everything itself when it returns).
func (p *Peer) Close() error {
	p.node.Stop()
	p.env.once.Do(func() { close(p.env.done) })
	p.env.conn.Close()
	if p.db != nil {
		return p.db.Close()
	}
	return nil
}

func (p *Peer) closeDB() {
	if p.db != nil {
		p.db.Close()
	}
}

// typeName names a message type byte: the community's message names,
// Dispersy's own names, "invalid" for the byte of a datagram too short to
// have one (0).
func (p *Peer) typeName(t wire.Type) string {
	if t < wire.FirstReservedType {
		if m := p.def.MetaOf(t); m != nil {
			return m.Name
		}
		if t == 0 {
			return "invalid"
		}
	}
	return t.String()
}

// Addr returns the peer's LAN address (the bound address, with an
// unspecified IP replaced by the machine's LAN IP).
func (p *Peer) Addr() netip.AddrPort { return p.addr }

// Metrics returns the peer's metrics.
func (p *Peer) Metrics() *Metrics { return p.metrics }

// Run joins the configured communities and serves until ctx is done or
// the store fails; then it stops the node, commits the store and closes
// it and the socket.
func (p *Peer) Run(ctx context.Context) error {
	ctx, p.cancel = context.WithCancel(ctx)
	defer p.cancel()
	p.started = time.Now()
	role := "peer"
	if p.cfg.Tracker {
		role = "tracker"
	}
	p.log.Info("listening", "role", role, "addr", p.addr.String(), "member", hex.EncodeToString(p.memberID()))
	if !p.env.post(p.start) {
		return ErrClosed
	}
	err := p.env.Run(ctx, p.handle, p.stop)
	if p.db != nil {
		if cerr := p.db.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if err == nil && p.failed {
		err = p.db.Err()
	}
	return err
}

func (p *Peer) memberID() []byte {
	id := p.node.MemberID()
	return id[:]
}

func (p *Peer) start() {
	if p.cleanup != nil {
		p.cleanup.Start()
	}
	if p.db != nil {
		if err := p.db.Flush(); err != nil {
			p.fail(err)
		}
	}
}

func (p *Peer) handle(from netip.AddrPort, pkt []byte) {
	p.metrics.received(pkt)
	p.node.HandlePacket(from, pkt)
}

// stop runs on the loop when Run ends: the last commit, and the answer to
// every publish still waiting for it.
func (p *Peer) stop() {
	p.node.Stop()
	if p.cleanup != nil {
		p.cleanup.Stop()
	}
	if p.flushTimer != nil {
		p.flushTimer.Stop()
		p.flushTimer = nil
	}
	if p.db != nil {
		p.flush()
	}
	for _, w := range p.waiters {
		w <- ErrClosed
	}
	p.waiters = nil
}

func (p *Peer) fail(err error) {
	if !p.failed {
		p.failed = true
		p.log.Error("store failed: stopping", "err", err)
		p.cancel()
	}
}

// flush commits the store and answers the publishes waiting for it.
func (p *Peer) flush() {
	err := p.db.Flush()
	for _, w := range p.waiters {
		w <- err
	}
	clear(p.waiters)
	p.waiters = p.waiters[:0]
	if err != nil {
		p.fail(err)
	}
}

// Group commit: publishes waiting for durability are committed together
// when the loop has nothing else to do, or when many wait or the first
// has waited a few milliseconds under load; received messages are
// committed within FlushDelay.
const (
	groupCommitMax   = 256
	groupCommitDelay = 5 * time.Millisecond
)

func (p *Peer) afterCall(idle bool) {
	if p.db == nil {
		return
	}
	if len(p.waiters) > 0 && (idle || len(p.waiters) >= groupCommitMax || time.Since(p.firstWait) >= groupCommitDelay) {
		p.flush()
	} else if p.db.Pending() > 0 && p.flushTimer == nil && !p.failed {
		p.flushTimer = p.env.AfterFunc(p.cfg.FlushDelay, func() {
			p.flushTimer = nil
			if len(p.waiters) == 0 {
				p.flush()
			}
		})
	}
	if err := p.db.Err(); err != nil {
		p.fail(err)
	}
}

// Do runs f with the node on the peer's loop and waits for it.
func (p *Peer) Do(f func(n *protocol.Node)) error {
	return p.env.Do(func() { f(p.node) })
}

// Errors of the control operations that a client can correct.
var (
	ErrUnknownCommunity = errors.New("community not served by this peer")
	ErrUnknownType      = errors.New("unknown message type")
	ErrTooLarge         = errors.New("payload too large")
)

// Publish creates, signs and stores a message of the type named meta in
// community cid and returns once it is durably stored (committed with
// synchronous=FULL), or ctx is done.
func (p *Peer) Publish(ctx context.Context, cid wire.CID, meta string, payload []byte) (Message, error) {
	if len(payload) > MaxPayload {
		return Message{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(payload), MaxPayload)
	}
	return p.durably(ctx, cid, "publish", func(c *protocol.Community) (protocol.Record, error) {
		m := c.Definition().Meta(meta)
		if m == nil || m.Type >= wire.FirstReservedType {
			return protocol.Record{}, fmt.Errorf("%w %q (this community has %s)", ErrUnknownType, meta, strings.Join(p.typeNames(), ", "))
		}
		return c.Publish(meta, payload)
	})
}

func (p *Peer) typeNames() []string {
	var out []string
	for _, m := range p.def.Metas() {
		out = append(out, m.Name)
	}
	return out
}

// Message is a stored message as the control API shows it.
type Message struct {
	// ID names the message: its creator's member id and global time,
	// "MEMBER:GLOBALTIME".
	ID         string `json:"id"`
	Community  string `json:"community"`
	Member     string `json:"member"`
	GlobalTime uint64 `json:"global_time"`
	Type       string `json:"type"`
	Sequence   uint32 `json:"sequence,omitempty"`
	// Payload is the message's payload; Text repeats it when it is UTF-8,
	// or describes a permission message.
	Payload []byte `json:"payload"`
	Text    string `json:"text,omitempty"`
	// State is the peer's verdict: in-force, undone (by an undo message)
	// or refused (by the permission timeline).
	State string `json:"state"`
}

func (p *Peer) message(c *protocol.Community, r *protocol.Record) Message {
	cid := c.CID()
	m := Message{ID: MessageID(r.Member, r.GlobalTime), Community: hex.EncodeToString(cid[:]),
		Member: hex.EncodeToString(r.Member[:]), GlobalTime: r.GlobalTime, Type: p.typeName(r.Meta), Sequence: r.Sequence,
		State: c.VerdictOf(r.Member, r.GlobalTime).String()}
	var pk wire.Packet
	if err := wire.DecodeWith(r.Packet, protocol.Ed25519{}.SignatureLen(), protocol.KeyLen, p.def.Layouts(), &pk); err == nil {
		m.Payload = bytes.Clone(pk.Payload)
		if d := describe(p.def, &pk); d != "" {
			m.Text = d
		} else if utf8.Valid(m.Payload) {
			m.Text = string(m.Payload)
		}
	}
	return m
}

// MessageID formats a message identifier.
func MessageID(member protocol.MemberID, gt uint64) string {
	return hex.EncodeToString(member[:]) + ":" + strconv.FormatUint(gt, 10)
}

// MessagePage is one page of a community's messages.
type MessagePage struct {
	Messages []Message `json:"messages"`
	// More says that messages with higher global times remain: ask again
	// with since set to the last message's global time.
	More bool `json:"more"`
}

// storedCommunity returns community cid of n if n serves it with a store
// (a tracker stores nothing), or ErrUnknownCommunity.
func storedCommunity(n *protocol.Node, cid wire.CID) (*protocol.Community, error) {
	c := n.Community(cid)
	if c == nil || c.Store() == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownCommunity, hex.EncodeToString(cid[:]))
	}
	return c, nil
}

// Messages lists up to limit messages of community cid with global time
// above since, in (global time, member) order. A page ends at a whole
// global time unless one global time alone holds more than limit.
func (p *Peer) Messages(cid wire.CID, since uint64, limit int) (MessagePage, error) {
	var page MessagePage
	var perr error
	err := p.Do(func(n *protocol.Node) {
		c, err := storedCommunity(n, cid)
		if err != nil {
			perr = err
			return
		}
		var recs []protocol.Record
		for _, m := range c.Definition().StoredMetas() {
			if m.Type == wire.TypeIdentity || since == ^uint64(0) {
				continue
			}
			got := 0
			c.Store().Scan(m.Type, since+1, ^uint64(0), false, func(r *protocol.Record) bool {
				rr := *r
				rr.Packet = bytes.Clone(r.Packet)
				recs = append(recs, rr)
				got++
				return got <= limit
			})
		}
		slices.SortFunc(recs, func(a, b protocol.Record) int {
			if a.GlobalTime != b.GlobalTime {
				return cmpUint(a.GlobalTime, b.GlobalTime)
			}
			return bytes.Compare(a.Member[:], b.Member[:])
		})
		if len(recs) > limit {
			page.More = true
			cut := recs[limit].GlobalTime
			k := limit
			for k > 0 && recs[k-1].GlobalTime == cut {
				k--
			}
			if k == 0 {
				k = limit
			}
			recs = recs[:k]
		}
		page.Messages = make([]Message, 0, len(recs))
		for i := range recs {
			page.Messages = append(page.Messages, p.message(c, &recs[i]))
		}
	})
	if err != nil {
		return MessagePage{}, err
	}
	return page, perr
}

func cmpUint(a, b uint64) int {
	if a < b {
		return -1
	}
	return 1
}

// lanAddress returns the address peers on our LAN reach us at and our
// subnets. A socket bound to a specific IP uses it; an unspecified one
// uses the first up, non-loopback IPv4 interface address, else loopback.
func lanAddress(bound netip.AddrPort) (netip.AddrPort, []netip.Prefix) {
	var prefixes []netip.Prefix
	var first netip.Addr
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if !ip.Is4() {
				continue
			}
			ones, _ := ipn.Mask.Size()
			prefixes = append(prefixes, netip.PrefixFrom(ip, ones).Masked())
			if !first.IsValid() && !ip.IsLoopback() {
				first = ip
			}
		}
	}
	ip := bound.Addr()
	if ip.IsUnspecified() {
		ip = first
		if !ip.IsValid() {
			ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
	}
	if len(prefixes) == 0 {
		prefixes = nil // fall back to the private ranges
	}
	return netip.AddrPortFrom(ip, bound.Port()), prefixes
}
