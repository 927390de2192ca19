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
type Env struct {
	conn  PacketConn
	start time.Time
	rng   *rand.Rand
	calls chan func()
	done  chan struct{}
	once  sync.Once

	// SendErrors counts failed writes (only read on the loop).
	SendErrors uint64
}

var _ protocol.Env = (*Env)(nil)

// NewEnv returns an Env on conn with a random stream seeded from OS entropy.
func NewEnv(conn PacketConn) *Env {
	var seed [16]byte
	_, _ = crand.Read(seed[:]) // crypto/rand.Read never fails on supported platforms
	return &Env{
		conn:  conn,
		start: time.Now(),
		rng:   rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))),
		calls: make(chan func(), 1024),
		done:  make(chan struct{}),
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
		buf := make([]byte, 65536)
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
			pkt := append([]byte(nil), buf[:n]...)
			from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			if !e.post(func() { handle(from, pkt) }) {
				readerDone <- nil
				return
			}
		}
	}()
	var readErr error
loop:
	for {
		select {
		case f := <-e.calls:
			f()
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
