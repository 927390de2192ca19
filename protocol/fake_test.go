package protocol

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

// fakeNet is a tiny deterministic event loop for protocol tests: public
// hosts only, constant latency, optional drop filter.
type fakeNet struct {
	now    Time
	seq    uint64
	events []fakeEvent
	nodes  map[netip.AddrPort]*Node
	lat    time.Duration
	// drop, when set, decides whether a packet from->to is lost.
	drop func(from, to netip.AddrPort, pkt []byte) bool
	sent []sentPacket
	keep bool // record sent packets
}

type sentPacket struct {
	from, to netip.AddrPort
	pkt      []byte
}

type fakeEvent struct {
	at   Time
	seq  uint64
	f    func()
	dead *bool
}

func newFakeNet() *fakeNet {
	return &fakeNet{nodes: map[netip.AddrPort]*Node{}, lat: 20 * time.Millisecond}
}

func (f *fakeNet) schedule(at Time, fn func()) *bool {
	dead := new(bool)
	f.seq++
	f.events = append(f.events, fakeEvent{at: at, seq: f.seq, f: fn, dead: dead})
	return dead
}

// run processes events until the clock passes until.
func (f *fakeNet) run(until Time) {
	for {
		if len(f.events) == 0 {
			f.now = until
			return
		}
		i := 0
		for j := range f.events {
			e, b := f.events[j], f.events[i]
			if c := cmp.Compare(e.at, b.at); c < 0 || (c == 0 && e.seq < b.seq) {
				i = j
			}
		}
		e := f.events[i]
		if e.at > until {
			f.now = until
			return
		}
		f.events = slices.Delete(f.events, i, i+1)
		f.now = e.at
		if !*e.dead {
			e.f()
		}
	}
}

type fakeEnv struct {
	net  *fakeNet
	addr netip.AddrPort
	rng  *rand.Rand
}

type fakeTimer struct{ dead *bool }

func (t fakeTimer) Stop() bool {
	was := !*t.dead
	*t.dead = true
	return was
}

func (e *fakeEnv) Now() Time        { return e.net.now }
func (e *fakeEnv) Rand() *rand.Rand { return e.rng }
func (e *fakeEnv) AfterFunc(d time.Duration, f func()) Timer {
	return fakeTimer{e.net.schedule(e.net.now.Add(d), f)}
}
func (e *fakeEnv) Send(to netip.AddrPort, pkt []byte) {
	cp := append([]byte(nil), pkt...)
	from := e.addr
	if e.net.keep {
		e.net.sent = append(e.net.sent, sentPacket{from, to, cp})
	}
	if e.net.drop != nil && e.net.drop(from, to, cp) {
		return
	}
	e.net.schedule(e.net.now.Add(e.net.lat), func() {
		if n := e.net.nodes[to]; n != nil {
			n.HandlePacket(from, cp)
		}
	})
}

func testSeed(label string, i int) [32]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return sha256.Sum256(append([]byte(label), b[:]...))
}

// addNode adds a node at 1.0.0.x:7759 (or the given address).
func (f *fakeNet) addNode(t testing.TB, addr netip.AddrPort, mod func(*Options)) *Node {
	t.Helper()
	env := &fakeEnv{net: f, addr: addr, rng: rand.New(rand.NewPCG(uint64(len(f.nodes)), 7))}
	o := Options{Env: env, Config: DefaultConfig(), Scheme: NewFast(1), LAN: addr,
		LANPrefixes: []netip.Prefix{netip.PrefixFrom(addr.Addr(), 32)}}
	o.Key = o.Scheme.NewKey(testSeed("node", len(f.nodes)))
	if mod != nil {
		mod(&o)
	}
	n, err := NewNode(o)
	if err != nil {
		t.Fatal(err)
	}
	f.nodes[addr] = n
	return n
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

var testCID = wire.CID{1, 2, 3}

// mustJoin joins the test community; joining with a MemStore cannot fail.
func mustJoin(n *Node) *Community {
	c, err := n.Join(testCID)
	if err != nil {
		panic(err)
	}
	return c
}
