package protocol

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/protocol/wire"
)

func BenchmarkSign(b *testing.B) {
	msg := make([]byte, 130)
	for _, s := range []Scheme{Ed25519{}, NewFast(1)} {
		b.Run(s.Name(), func(b *testing.B) {
			k := s.NewKey(testSeed("bench", 0))
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				buf = k.AppendSign(buf[:0], msg)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	msg := make([]byte, 130)
	for _, s := range []Scheme{Ed25519{}, NewFast(1)} {
		b.Run(s.Name(), func(b *testing.B) {
			k := s.NewKey(testSeed("bench", 0))
			sig := k.AppendSign(nil, msg)
			b.ReportAllocs()
			for b.Loop() {
				if !s.Verify(k.Public(), msg, sig) {
					b.Fatal("signature does not verify")
				}
			}
		})
	}
}

// nullEnv is an Env whose sends go nowhere and whose timers never fire.
type nullEnv struct {
	now Time
	rng *rand.Rand
}

type nullTimer struct{}

func (nullTimer) Stop() bool { return true }

func (e *nullEnv) Now() Time                             { return e.now }
func (e *nullEnv) Send(netip.AddrPort, []byte)           {}
func (e *nullEnv) AfterFunc(time.Duration, func()) Timer { return nullTimer{} }
func (e *nullEnv) Rand() *rand.Rand                      { return e.rng }

// BenchmarkHandleIntroRequest measures the protocol's cost of answering
// one introduction-request (decode, verify, candidate update, vote,
// introduction, response and puncture-request) with fast signatures.
func BenchmarkHandleIntroRequest(b *testing.B) {
	scheme := NewFast(1)
	env := &nullEnv{rng: rand.New(rand.NewPCG(1, 2))}
	self := ap("20.0.0.1:7759")
	n, err := NewNode(Options{Env: env, Config: DefaultConfig(), Scheme: scheme, Key: scheme.NewKey(testSeed("self", 0)),
		LAN: self, LANPrefixes: []netip.Prefix{netip.PrefixFrom(self.Addr(), 32)}})
	if err != nil {
		b.Fatal(err)
	}
	mustJoin(n)
	// 30 peers, each with a signed request
	var pkts [][]byte
	var from []netip.AddrPort
	for i := 0; i < 30; i++ {
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{30, 0, 0, byte(i + 1)}), 7759)
		k := scheme.NewKey(testSeed("peer", i))
		req := wire.IntroRequest{Destination: self, SourceLAN: a, SourceWAN: a, Advice: true, Identifier: uint16(i)}
		p := wire.AppendHeader(nil, wire.CommunityVersion, testCID, wire.TypeIntroductionRequest)
		p = wire.AppendMember(p, k.Public())
		p = wire.AppendGlobalTime(p, 1)
		p = wire.AppendIntroRequest(p, &req)
		p = k.AppendSign(p, p)
		pkts = append(pkts, p)
		from = append(from, a)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		env.now += Time(time.Millisecond)
		n.HandlePacket(from[i], pkts[i])
		if i++; i == len(pkts) {
			i = 0
		}
	}
	if s := n.Stats(); s.Accepted == 0 || s.TotalDropped() != 0 {
		b.Fatalf("accepted %d, dropped %d", s.Accepted, s.TotalDropped())
	}
}
