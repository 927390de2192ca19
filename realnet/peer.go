package realnet

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
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
}

// Peer is one protocol node on a real UDP socket.
type Peer struct {
	env  *Env
	node *protocol.Node
	conn *net.UDPConn
	addr netip.AddrPort
	cfg  PeerConfig
	log  *slog.Logger
}

// NewPeer binds the socket and builds the node; Run starts it.
func NewPeer(pc PeerConfig) (*Peer, error) {
	ua, err := net.ResolveUDPAddr("udp4", pc.Listen)
	if err != nil {
		return nil, fmt.Errorf("realnet: listen address %q: %w", pc.Listen, err)
	}
	conn, err := net.ListenUDP("udp4", ua)
	if err != nil {
		return nil, fmt.Errorf("realnet: listen on %q: %w", pc.Listen, err)
	}
	bound := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	bound = netip.AddrPortFrom(bound.Addr().Unmap(), bound.Port())
	lan, prefixes := lanAddress(bound)
	if pc.Config == (protocol.Config{}) {
		pc.Config = protocol.DefaultConfig()
	}
	key := pc.Key
	if key == nil {
		var seed [32]byte
		if _, err := crand.Read(seed[:]); err != nil {
			conn.Close()
			return nil, fmt.Errorf("realnet: key generation: %w", err)
		}
		key = protocol.Ed25519{}.NewKey(seed)
	}
	log := pc.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Peer{conn: conn, addr: lan, cfg: pc, log: log}
	p.env = NewEnv(conn)
	node, err := protocol.NewNode(protocol.Options{
		Env: p.env, Config: pc.Config, Scheme: protocol.Ed25519{}, Key: key,
		LAN: lan, LANPrefixes: prefixes, Trackers: pc.Trackers, Tracker: pc.Tracker,
		Observer: &logObserver{log: log},
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("realnet: %w", err)
	}
	p.node = node
	return p, nil
}

// Addr returns the peer's LAN address (the bound address, with an
// unspecified IP replaced by the machine's LAN IP).
func (p *Peer) Addr() netip.AddrPort { return p.addr }

// Run joins the configured communities and serves until ctx is done.
func (p *Peer) Run(ctx context.Context) error {
	role := "peer"
	if p.cfg.Tracker {
		role = "tracker"
	}
	p.log.Info("listening", "role", role, "addr", p.addr.String(), "member", fmt.Sprintf("%x", protocol.IDOf(p.node.PublicKey())))
	if !p.env.post(func() {
		for _, cid := range p.cfg.Communities {
			if _, err := p.node.Join(cid); err != nil {
				p.log.Error("join failed", "community", fmt.Sprintf("%x", cid[:]), "err", err)
			}
		}
	}) {
		return ErrClosed
	}
	return p.env.Run(ctx, p.node.HandlePacket, p.node.Stop)
}

// Do runs f with the node on the peer's loop and waits for it.
func (p *Peer) Do(f func(n *protocol.Node)) error {
	return p.env.Do(func() { f(p.node) })
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

// logObserver logs what the node finds.
type logObserver struct {
	protocol.NopObserver
	log *slog.Logger
}

func (o *logObserver) Introduced(cid wire.CID, via, introduced netip.AddrPort) {
	o.log.Info("introduced", "community", fmt.Sprintf("%x", cid[:4]), "via", via.String(), "peer", introduced.String())
}

func (o *logObserver) ConnTypeChanged(ct wire.ConnType) {
	o.log.Info("connection type", "type", ct.String())
}
