package simnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/natmodels"
	"github.com/dispersy-go/dispersy/protocol"
)

// Address plan. Every address is unique in the whole simulation, so a
// packet sent to an address that is not in the sender's realm chain fails
// with no_route instead of reaching a look-alike host.
const (
	pubBase = 20<<24 | 1           // 20.0.0.1: public hosts and outermost NATs, sequentially
	pubMax  = 100<<24 - pubBase    // up to 99.255.255.255 (stays clear of 100.64/10)
	lanBase = 10<<24 | 1           // 10.0.0.1: hosts behind a NAT
	lanMax  = 1<<24 - 2            // within 10/8
	cgnBase = 100<<24 | 64<<16 | 1 // 100.64.0.1: NATs behind a carrier-grade NAT
	cgnMax  = 1<<22 - 2            // within 100.64/10
)

// Host is one simulated machine with one UDP socket at Addr. Its node talks
// to the network through Env and receives packets through the handler set
// with SetHandler.
//
// The struct is exactly one 64-byte cache line: delivering a packet to a
// host reads it, and with 100,000 hosts that read is usually a cache miss.
type Host struct {
	handler func(from netip.AddrPort, pkt []byte)
	net     *Network
	rng     *rand.Rand
	id      int32
	realm   int32  // realm the host lives in: 0 public, b+1 inside box b
	ip      uint32 // own address in its realm
	pubIP   uint32 // address of the host or its outermost NAT on the Internet
	profile int32  // index into Network.profiles
	boxLo   int32  // first of the NAT boxes only this host is behind
	port    uint16
	online  bool
	boxN    uint8 // how many boxes from boxLo are this host's own
	_       [11]byte
}

// box is one NAT box with its place in the realm tree. Its inner realm is
// its index + 1.
type box struct {
	nat        *natmodels.Box
	ip         uint32 // outside address, in outerRealm
	outerRealm int32
	hairpin    bool
}

// sharedBox tracks the outermost box of a ShareOuter profile being filled.
type sharedBox struct {
	box   int32
	users int
}

// lanEntry is the owner of a 10/8 address.
type lanEntry struct {
	host, realm int32
}

// ID returns the host's index, 0 for the first host added.
func (h *Host) ID() int { return int(h.id) }

// Addr returns the host's own endpoint in its LAN (its public endpoint if it
// is not behind a NAT): what its node binds to and advertises as its LAN
// address.
func (h *Host) Addr() netip.AddrPort { return addrPort(h.ip, h.port) }

// PublicAddr returns the host's address as the Internet sees it: its own
// for a public host, its outermost NAT's otherwise. The port a NAT maps to
// is not known until the host sends.
func (h *Host) PublicAddr() netip.Addr { return addr4(h.pubIP) }

// Behind reports whether the host is behind at least one NAT.
func (h *Host) Behind() bool { return h.realm != 0 }

// Profile returns the name of the NAT profile the host was built from.
func (h *Host) Profile() string { return h.net.profiles[h.profile] }

// Online reports whether the host is connected.
func (h *Host) Online() bool { return h.online }

// SetOnline connects or disconnects the host. An offline host's outgoing
// and incoming packets are dropped with reason "offline"; its timers still
// fire and its NAT state ages normally. Churn policy (stopping the node,
// restarting it) is the caller's; Reset is what a host that goes down loses.
func (h *Host) SetOnline(on bool) { h.online = on }

// Reset is what a host loses when it goes down: every timer scheduled
// through its Env that has not fired yet is cancelled (it never runs, even
// if the host comes back before its time), and every NAT box only this host
// is behind forgets its mappings and filter state (natmodels.Box.Reset). A
// NAT shared with other hosts (the carrier-grade NAT of ShareOuter profiles)
// keeps its state, which ages out as usual; with the host's own NAT reset,
// nothing reaches the host through it anyway. Reset does not change
// Online, the handler or the host's addresses.
func (h *Host) Reset() {
	n := h.net
	n.epochs[h.id]++
	for b := h.boxLo; b < h.boxLo+int32(h.boxN); b++ {
		n.boxes[b].nat.Reset()
	}
}

// SetHandler sets the function that receives the host's packets: from is
// the source as a socket would see it (after every NAT on the way), pkt is
// the datagram. pkt is only valid during the call: the network reuses its
// buffer afterwards, so the handler must copy what it keeps. A nil handler
// discards packets (they still count as delivered).
func (h *Host) SetHandler(f func(from netip.AddrPort, pkt []byte)) { h.handler = f }

// Env returns the host's view of the world for its node: virtual time, its
// socket, timers and its own random stream ("node", ID).
func (h *Host) Env() protocol.Env { return (*hostEnv)(h) }

// Rand returns the host's random stream, the same one Env().Rand returns.
func (h *Host) Rand() *rand.Rand { return h.rng }

// hostEnv is a Host seen as a protocol.Env.
type hostEnv Host

func (e *hostEnv) Now() protocol.Time { return protocol.Time(e.net.now) }

func (e *hostEnv) Send(to netip.AddrPort, pkt []byte) { e.net.send((*Host)(e), to, pkt) }

func (e *hostEnv) AfterFunc(d time.Duration, f func()) protocol.Timer {
	if d < 0 {
		d = 0
	}
	return e.net.scheduleFor(addSat(e.net.now, int64(d)), f, e.id)
}

func (e *hostEnv) Rand() *rand.Rand { return e.rng }

// Host returns host id, or nil if there is no such host.
func (n *Network) Host(id int) *Host {
	if id < 0 || id >= n.numHosts {
		return nil
	}
	return n.host(int32(id))
}

// hostChunkBits sizes the fixed blocks hosts live in: their addresses never
// change, and finding one is a single load.
const hostChunkBits = 10

func (n *Network) host(id int32) *Host {
	return &n.hostChunks[id>>hostChunkBits][id&(1<<hostChunkBits-1)]
}

// newHost returns the zeroed slot of the next host.
func (n *Network) newHost() *Host {
	id := n.numHosts
	if id>>hostChunkBits == len(n.hostChunks) {
		n.hostChunks = append(n.hostChunks, new([1 << hostChunkBits]Host))
	}
	return n.host(int32(id))
}

// NumHosts returns the number of hosts added.
func (n *Network) NumHosts() int { return n.numHosts }

// NumBoxes returns the number of NAT boxes created.
func (n *Network) NumBoxes() int { return len(n.boxes) }

// AddHost creates an online host built from profile: a public host when
// profile.Chain is empty, otherwise a host with a private 10/8 address
// behind its own chain of NATs (Chain[0] innermost). When
// profile.ShareOuter > 0 the outermost NAT is shared by up to ShareOuter
// consecutive hosts of that profile (by name), as a carrier-grade NAT is;
// inner NATs behind it get addresses in 100.64/10. NAT box i draws from the
// stream ("nat", i) and host i from ("node", i). On error the network is
// unchanged.
func (n *Network) AddHost(profile natmodels.Profile) (*Host, error) {
	id := int32(n.numHosts)
	h := &Host{
		net:     n,
		rng:     NewRand(n.seed, "node", int(id)),
		profile: n.profileIndex(profile.Name),
		id:      id,
		port:    n.port,
		online:  true,
	}
	commit := func() *Host {
		slot := n.newHost()
		*slot = *h
		n.numHosts++
		n.epochs = append(n.epochs, 0)
		return slot
	}
	if len(profile.Chain) == 0 {
		if len(n.pubOwner) >= pubMax {
			return nil, fmt.Errorf("simnet: add host %q: %w", profile.Name, errors.New("public addresses exhausted"))
		}
		h.ip = pubBase + uint32(len(n.pubOwner))
		h.pubIP = h.ip
		n.pubOwner = append(n.pubOwner, id)
		return commit(), nil
	}
	if len(n.lanHost) >= lanMax {
		return nil, fmt.Errorf("simnet: add host %q: %w", profile.Name, errors.New("LAN addresses exhausted"))
	}
	// Remember what to roll back to if a NAT cannot be built.
	nBoxes, nPub, nCGN := len(n.boxes), len(n.pubOwner), len(n.cgnBox)
	undo := func(err error) (*Host, error) {
		n.boxes, n.pubOwner, n.cgnBox = n.boxes[:nBoxes], n.pubOwner[:nPub], n.cgnBox[:nCGN]
		return nil, fmt.Errorf("simnet: add host %q: %w", profile.Name, err)
	}
	outer := len(profile.Chain) - 1
	var b int32
	reuse := false
	if profile.ShareOuter > 0 {
		if sb := n.shared[profile.Name]; sb != nil && sb.users < profile.ShareOuter {
			b, reuse = sb.box, true
		}
	}
	if !reuse {
		var err error
		if b, err = n.newBox(profile.Chain[outer], 0); err != nil {
			return undo(err)
		}
	}
	outerBox := b
	// The boxes made from here on (the outer one unless shared) are the
	// host's own: they are consecutive.
	h.boxLo = int32(len(n.boxes))
	if !reuse && profile.ShareOuter == 0 {
		h.boxLo = b
	}
	realm := b + 1
	for i := outer - 1; i >= 0; i-- {
		var err error
		if b, err = n.newBox(profile.Chain[i], realm); err != nil {
			return undo(err)
		}
		realm = b + 1
	}
	// Commit.
	if profile.ShareOuter > 0 {
		if reuse {
			n.shared[profile.Name].users++
		} else {
			n.shared[profile.Name] = &sharedBox{box: outerBox, users: 1}
		}
	}
	h.boxN = uint8(int32(len(n.boxes)) - h.boxLo)
	h.realm = realm
	h.ip = lanBase + uint32(len(n.lanHost))
	h.pubIP = n.boxes[outerBox].ip
	n.lanHost = append(n.lanHost, lanEntry{host: id, realm: realm})
	return commit(), nil
}

// profileIndex interns a profile name.
func (n *Network) profileIndex(name string) int32 {
	i, ok := n.profileIdx[name]
	if !ok {
		i = int32(len(n.profiles))
		n.profiles = append(n.profiles, name)
		n.profileIdx[name] = i
	}
	return i
}

// newBox creates a NAT box whose outside lives in outerRealm.
func (n *Network) newBox(beh natmodels.Behavior, outerRealm int32) (int32, error) {
	id := int32(len(n.boxes))
	var ip uint32
	if outerRealm == 0 {
		if len(n.pubOwner) >= pubMax {
			return 0, errors.New("public addresses exhausted")
		}
		ip = pubBase + uint32(len(n.pubOwner))
	} else {
		if len(n.cgnBox) >= cgnMax {
			return 0, errors.New("carrier-grade NAT addresses exhausted")
		}
		ip = cgnBase + uint32(len(n.cgnBox))
	}
	nb, err := natmodels.NewBox(beh, addr4(ip), NewRand(n.seed, "nat", int(id)))
	if err != nil {
		return 0, fmt.Errorf("NAT box %d: %w", id, err)
	}
	if outerRealm == 0 {
		n.pubOwner = append(n.pubOwner, -id-1)
	} else {
		n.cgnBox = append(n.cgnBox, id)
	}
	n.boxes = append(n.boxes, box{nat: nb, ip: ip, outerRealm: outerRealm, hairpin: nb.Behavior().Hairpin})
	return id, nil
}

// ownerIn returns who owns ip in realm: a host id (>= 0) or -(box id)-1.
func (n *Network) ownerIn(realm int32, ip uint32) (int32, bool) {
	if i := ip - pubBase; i < uint32(len(n.pubOwner)) {
		return n.pubOwner[i], realm == 0
	}
	if i := ip - lanBase; i < uint32(len(n.lanHost)) {
		e := n.lanHost[i]
		return e.host, e.realm == realm
	}
	if i := ip - cgnBase; i < uint32(len(n.cgnBox)) {
		b := n.cgnBox[i]
		return -b - 1, n.boxes[b].outerRealm == realm
	}
	return 0, false
}

// ResolvePublic reports which host the endpoint ap, as seen on the public
// Internet, leads to right now: a public host's own endpoint, or a NAT
// mapping (followed through every NAT on the way, with no side effects on
// their state). It is for measurement, e.g. to know whom a node was
// introduced to.
func (n *Network) ResolvePublic(ap netip.AddrPort) (hostID int, ok bool) {
	a := ap.Addr().Unmap()
	if !a.Is4() {
		return -1, false
	}
	ip, port := ipv4(a), ap.Port()
	realm := int32(0)
	for {
		o, ok := n.ownerIn(realm, ip)
		if !ok {
			return -1, false
		}
		if o >= 0 {
			if port != n.host(o).port {
				return -1, false
			}
			return int(o), true
		}
		b := -o - 1
		inside, ok := n.boxes[b].nat.Lookup(time.Duration(n.now), addrPort(ip, port))
		if !ok {
			return -1, false
		}
		ia := inside.Addr().Unmap()
		if !ia.Is4() {
			return -1, false
		}
		realm, ip, port = b+1, ipv4(ia), inside.Port()
	}
}

// addr4 converts a host-order IPv4 address.
func addr4(ip uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)})
}

func addrPort(ip uint32, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(addr4(ip), port)
}

// ipv4 returns an IPv4 address in host order.
func ipv4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
