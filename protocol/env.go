package protocol

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

// Time is a point in time, in nanoseconds since the driver's epoch: 0 at the
// start of a simulation run, the process start in realnet. Protocol code never
// reads a clock; it gets Time from Env.Now.
type Time int64

// Add returns t+d.
func (t Time) Add(d time.Duration) Time { return t + Time(d) }

// Sub returns the duration t-u.
func (t Time) Sub(u Time) time.Duration { return time.Duration(t - u) }

// Seconds returns t as seconds since the epoch.
func (t Time) Seconds() float64 { return float64(t) / 1e9 }

// Never is a Time later than any real one; it marks an unset timestamp.
const Never Time = -1 << 63

// Env is everything a node may touch outside itself. The driver (simnet or
// realnet) implements it; a node is given one Env when it is built and calls
// it only from inside its own callbacks (HandlePacket, timer functions, API
// calls), which the driver never runs concurrently.
type Env interface {
	// Now returns the current time.
	Now() Time
	// Send transmits one UDP datagram. It never blocks and may drop. The
	// driver copies pkt if it keeps it: the caller may reuse pkt at once.
	Send(to netip.AddrPort, pkt []byte)
	// AfterFunc runs f on the node's loop after d. f never runs concurrently
	// with any other call into the node.
	AfterFunc(d time.Duration, f func()) Timer
	// Rand is the node's own random stream (seeded per node in simnet).
	Rand() *rand.Rand
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop cancels the call; it reports whether the call was still pending.
	Stop() bool
}
