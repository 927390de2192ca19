package emul

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/dispersy-go/dispersy/natmodels"
	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
	"github.com/dispersy-go/dispersy/runner"
)

// The puncture matrix is measured on the wire, as the simulator measures
// it: a packet socket on every host's interface sees each datagram the
// host sends and each one delivered to it (past its NAT). An introduction
// is the puncture-request an introducer sends (the moment the simulator's
// Observer.Introducing marks); a pair punctured when both hosts received
// a datagram from each other within runner.PunctureWindow of it.

// capture reads one host's packet socket.
type capture struct {
	host int
	f    *os.File
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openCapture opens a packet socket on interface ifname in namespace ns.
func openCapture(ns netns.NsHandle, ifname string, host int) (*capture, error) {
	var f *os.File
	err := inNS(ns, func() error {
		// ETH_P_ALL: only taps for every protocol see outgoing packets
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		ifi, err := net.InterfaceByName(ifname)
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
		}
		if err != nil {
			unix.Close(fd)
			return fmt.Errorf("packet socket on %s: %w", ifname, err)
		}
		f = os.NewFile(uintptr(fd), "capture-"+ifname)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &capture{host: host, f: f}, nil
}

// run reads until the socket is closed, handing every UDP datagram to o.
func (c *capture) run(o *observer) {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 2048)
	for {
		var n int
		var from unix.Sockaddr
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil {
			return // closed
		}
		if rerr != nil {
			continue
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || ll.Protocol != htons(unix.ETH_P_IP) {
			continue
		}
		switch ll.Pkttype {
		case unix.PACKET_OUTGOING:
			o.packet(c.host, true, buf[:n], time.Now())
		case unix.PACKET_HOST:
			o.packet(c.host, false, buf[:n], time.Now())
		}
	}
}

func (c *capture) close() { c.f.Close() }

// introRec is one introduction: host y introduced to walker x at t.
type introRec struct {
	x, y int
	t    time.Duration
}

// observer gathers what the captures see.
type observer struct {
	owner    map[netip.Addr]int
	profiles []string // by host
	start    time.Time
	limit    time.Duration // packets after start+limit are not counted

	mu         sync.Mutex
	started    bool
	intros     []introRec
	deliveries map[[2]int32][]time.Duration // (from, to) -> times, in order
	sent       int64
	delivered  int64
	unresolved int64
	sentType   [256]int64
}

func newObserver(owner map[netip.Addr]int, profiles []string) *observer {
	return &observer{owner: owner, profiles: profiles, deliveries: map[[2]int32][]time.Duration{}}
}

// begin sets the run's time zero and its length: only packets between
// them are counted.
func (o *observer) begin(t time.Time, limit time.Duration) {
	o.mu.Lock()
	o.start, o.limit, o.started = t, limit, true
	o.mu.Unlock()
}

// udpPayload returns the source, destination and UDP payload of an IPv4
// packet, or ok=false.
func udpPayload(p []byte) (src, dst netip.Addr, payload []byte, ok bool) {
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != unix.IPPROTO_UDP {
		return src, dst, nil, false
	}
	ihl := int(p[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(p[2:4]))
	if ihl < 20 || total > len(p) || ihl+8 > total {
		return src, dst, nil, false
	}
	if binary.BigEndian.Uint16(p[6:8])&0x1fff != 0 || p[6]&0x20 != 0 {
		return src, dst, nil, false // a fragment
	}
	src = netip.AddrFrom4([4]byte(p[12:16]))
	dst = netip.AddrFrom4([4]byte(p[16:20]))
	return src, dst, p[ihl+8 : total], true
}

func (o *observer) packet(host int, out bool, p []byte, now time.Time) {
	src, dst, payload, ok := udpPayload(p)
	if !ok {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.started {
		return
	}
	t := now.Sub(o.start)
	if t > o.limit {
		return
	}
	if !out {
		from, ok := o.owner[src]
		if !ok || from == host {
			return
		}
		o.delivered++
		k := [2]int32{int32(from), int32(host)}
		o.deliveries[k] = append(o.deliveries[k], t)
		return
	}
	o.sent++
	_, typ, ok := wire.Peek(payload)
	if !ok {
		return
	}
	o.sentType[typ]++
	if typ != wire.TypePunctureRequest {
		return
	}
	var pk wire.Packet
	if wire.Decode(payload, protocol.Ed25519{}.SignatureLen(), protocol.KeyLen, &pk) != nil {
		return
	}
	pr := pk.PunctureRequest
	y, ok1 := o.owner[dst]
	x, ok2 := o.owner[pr.WalkerLAN.Addr()]
	if !ok2 {
		x, ok2 = o.owner[pr.WalkerWAN.Addr()]
	}
	if !ok1 || !ok2 {
		o.unresolved++
		return
	}
	if x != y {
		o.intros = append(o.intros, introRec{x: x, y: y, t: t})
	}
}

// heard reports whether to heard from from within [t, t+window].
func (o *observer) heard(from, to int, t, window time.Duration) bool {
	ts := o.deliveries[[2]int32{int32(from), int32(to)}]
	// first delivery at or after t
	lo, hi := 0, len(ts)
	for lo < hi {
		m := (lo + hi) / 2
		if ts[m] < t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(ts) && ts[lo] <= t+window
}

// puncture tallies the introductions whose window closed by end into the
// summary's NAT-pair matrix.
func (o *observer) puncture(end time.Duration) runner.PunctureSummary {
	o.mu.Lock()
	defer o.mu.Unlock()
	w := runner.PunctureWindow
	ps := runner.PunctureSummary{Pairs: map[string]*runner.PairStats{}, WindowSeconds: w.Seconds(), Unresolved: o.unresolved}
	for _, in := range o.intros {
		if in.t+w > end {
			ps.Truncated++
			continue
		}
		a, b := o.profiles[in.x], o.profiles[in.y]
		if natmodels.Rank(a) > natmodels.Rank(b) {
			a, b = b, a
		}
		st := ps.Pairs[a+"/"+b]
		if st == nil {
			st = &runner.PairStats{}
			ps.Pairs[a+"/"+b] = st
		}
		st.Introductions++
		xy, yx := o.heard(in.y, in.x, in.t, w), o.heard(in.x, in.y, in.t, w)
		if xy && yx {
			st.Successes++
		}
		if xy {
			st.WalkerReached++
		}
	}
	for _, st := range ps.Pairs {
		ps.Overall.Introductions += st.Introductions
		ps.Overall.Successes += st.Successes
		ps.Overall.WalkerReached += st.WalkerReached
	}
	if n := ps.Overall.Introductions; n > 0 {
		ps.SuccessRate = float64(ps.Overall.Successes) / float64(n)
		ps.WalkerReachedRate = float64(ps.Overall.WalkerReached) / float64(n)
	}
	return ps
}
