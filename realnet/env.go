// Package realnet runs the protocol core on real UDP sockets: an Env backed
// by a socket, the monotonic wall clock and OS entropy, with one loop
// goroutine per node that serialises every call into the node (packets,
// timers and API requests), so the core stays single-threaded exactly as in
// the simulator.
package realnet

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dispersy-go/dispersy/protocol"
)

// PacketConn is the socket surface the Env needs; *net.UDPConn has it.
type PacketConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error)
	Close() error
}

var _ PacketConn = (*net.UDPConn)(nil)

// Env implements protocol.Env over a UDP socket. All node work runs on the
// goroutine that calls Run; other goroutines reach the node through Do.
//
// Received datagrams wait in a queue bounded by MaxQueuedBytes; a datagram
// that finds it full is dropped and counted (QueueDrops), so a flood costs
// bounded memory and never stalls the socket reader, while timers and API
// calls go through a queue of their own that is never dropped from.
type Env struct {
	conn    PacketConn
	start   time.Time
	rng     *rand.Rand
	calls   chan func()
	packets chan datagram
	queued  atomic.Int64 // bytes in packets
	drops   atomic.Uint64
	large   atomic.Uint64
	done    chan struct{}
	once    sync.Once

	// MaxQueuedBytes bounds the received datagrams waiting for the loop
	// (default DefaultMaxQueuedBytes); set it before Run.
	MaxQueuedBytes int64
	// AfterCall, if set, runs on the loop after every packet, timer or
	// call, with idle true when nothing else is waiting; the peer commits
	// its store there.
	AfterCall func(idle bool)

	// OnDrop, if set, is called from the socket reader for every datagram
	// dropped before the loop (reason DropQueueFull or DropOversize).
	OnDrop func(reason string)

	// SendErrors counts failed writes (only read on the loop).
	SendErrors uint64
}

// DefaultMaxQueuedBytes bounds the received datagrams a peer holds before
// its loop handles them.
const DefaultMaxQueuedBytes = 8 << 20

// MaxDatagram is the largest datagram the peer reads (Dispersy's endpoint
// limit: 65,536 minus 60 bytes of headers).
const MaxDatagram = 65536 - 60

type datagram struct {
	from netip.AddrPort
	pkt  []byte
}

// QueueDrops returns how many received datagrams were dropped because the
// queue was full (safe from any goroutine).
func (e *Env) QueueDrops() uint64 { return e.drops.Load() }

func (e *Env) dropped(reason string) {
	if reason == DropOversize {
		e.large.Add(1)
	} else {
		e.drops.Add(1)
	}
	if e.OnDrop != nil {
		e.OnDrop(reason)
	}
}

// OversizeDrops returns how many received datagrams were dropped for
// being longer than MaxDatagram (safe from any goroutine).
func (e *Env) OversizeDrops() uint64 { return e.large.Load() }

var _ protocol.Env = (*Env)(nil)

// NewEnv returns an Env on conn with a random stream seeded from OS entropy.
func NewEnv(conn PacketConn) *Env {
	var seed [16]byte
	_, _ = crand.Read(seed[:]) // crypto/rand.Read never fails on supported platforms
	return &Env{
		conn:    conn,
		start:   time.Now(),
		rng:     rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))),
		calls:   make(chan func(), 1024),
		packets: make(chan datagram, 4096),
		done:    make(chan struct{}),

		MaxQueuedBytes: DefaultMaxQueuedBytes,
	}
}

// Now implements protocol.Env: monotonic time since the Env was made.
func (e *Env) Now() protocol.Time { return protocol.Time(time.Since(e.start)) }

// Send implements protocol.Env. The write is synchronous, so pkt is not kept.
func (e *Env) Send(to netip.AddrPort, pkt []byte) {
	if _, err := e.conn.WriteToUDPAddrPort(pkt, to); err != nil {
		e.SendErrors++
	}
}

// Rand implements protocol.Env.
func (e *Env) Rand() *rand.Rand { return e.rng }

type timer struct {
	t       *time.Timer
	stopped bool // touched only on the loop
	fired   bool // touched only on the loop
}

// Stop implements protocol.Timer; it must be called on the loop (as the
// node does).
func (t *timer) Stop() bool {
	pending := !t.fired && !t.stopped
	t.stopped = true
	t.t.Stop()
	return pending
}

// AfterFunc implements protocol.Env: f runs on the loop after d.
func (e *Env) AfterFunc(d time.Duration, f func()) protocol.Timer {
	tm := &timer{}
	tm.t = time.AfterFunc(d, func() {
		e.post(func() {
			if !tm.stopped {
				tm.fired = true
				f()
			}
		})
	})
	return tm
}

// post queues f for the loop; it gives up once the loop has ended.
func (e *Env) post(f func()) bool {
	select {
	case e.calls <- f:
		return true
	case <-e.done:
		return false
	}
}

// ErrClosed is returned by Do once the loop has ended.
var ErrClosed = errors.New("realnet: peer is closed")

// Do runs f on the loop and waits for it to finish.
func (e *Env) Do(f func()) error {
	finished := make(chan struct{})
	if !e.post(func() { f(); close(finished) }) {
		return ErrClosed
	}
	select {
	case <-finished:
		return nil
	case <-e.done:
		return ErrClosed
	}
}

// Run reads datagrams into handle and runs queued calls, all on the calling
// goroutine, until ctx is done; then it runs stop (on the loop), closes the
// socket and waits for the reader to exit.
func (e *Env) Run(ctx context.Context, handle func(from netip.AddrPort, pkt []byte), stop func()) error {
	readerDone := make(chan error, 1)
	go func() {
		buf := make([]byte, MaxDatagram+1)
		for {
			n, from, err := e.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					readerDone <- nil
				} else {
					readerDone <- err
				}
				return
			}
			if n > MaxDatagram {
				e.dropped(DropOversize)
				continue
			}
			if e.queued.Load()+int64(n) > e.MaxQueuedBytes {
				e.dropped(DropQueueFull)
				continue
			}
			d := datagram{from: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), pkt: append([]byte(nil), buf[:n]...)}
			e.queued.Add(int64(n))
			select {
			case e.packets <- d:
			case <-e.done:
				readerDone <- nil
				return
			default:
				e.queued.Add(-int64(n))
				e.dropped(DropQueueFull)
			}
		}
	}()
	after := func() {
		if e.AfterCall != nil {
			e.AfterCall(len(e.calls) == 0 && len(e.packets) == 0)
		}
	}
	var readErr error
loop:
	for {
		select {
		case f := <-e.calls:
			f()
			after()
		case d := <-e.packets:
			e.queued.Add(-int64(len(d.pkt)))
			handle(d.from, d.pkt)
			after()
		case <-ctx.Done():
			break loop
		case readErr = <-readerDone:
			break loop
		}
	}
	if stop != nil {
		stop()
	}
	e.once.Do(func() { close(e.done) })
	cerr := e.conn.Close()
	if readErr == nil {
		readErr = <-readerDone
	}
	if readErr != nil {
		return readErr
	}
	if cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		return cerr
	}
	return nil
}
