// Package simnet is the deterministic discrete-event network simulator: a
// virtual clock, one event queue, hosts with IPv4 addresses behind chains of
// NAT boxes (natmodels), per-pair Internet latency, random loss, and a trace
// hash that proves two runs identical.
//
// # Determinism
//
// Everything runs on the caller's goroutine; the package starts no
// goroutine, reads no clock and uses no global random source. Events are
// ordered by (virtual time, sequence number), the sequence number being a
// global insertion counter, so events at the same instant run in the order
// they were scheduled. Every consumer of randomness has its own stream from
// NewRand(seed, label, index): host i ("node", i), NAT box i ("nat", i), the
// loss process ("loss", 0); a driver takes its own with Network.Rand. A
// pair's latency is a hash of (seed, the two public addresses), not a draw.
// The same seed and the same driver therefore give the same run, byte for
// byte, whatever GOMAXPROCS is; TraceHash (SHA-256 over every delivered
// packet: arrival time, source, destination, length, bytes) shows it.
//
// # Driver contract
//
//   - Build the network with New, add hosts with AddHost (host IDs are
//     0, 1, 2, ... in order of creation), build one node per host with
//     host.Env() and register its packet handler with host.SetHandler.
//   - Schedule node starts, workload and churn with At (absolute virtual
//     time) or After; stagger starts with a driver stream, e.g.
//     n.Rand("start", 0). Then call RunUntil, as often as needed; between
//     calls the driver may inspect nodes and schedule more events.
//   - Buffers: Env.Send copies the packet into a pooled buffer, so the
//     caller may reuse its slice at once. The pkt slice a handler receives
//     is that pooled buffer: it is valid only during the call and is reused
//     after the handler returns, so a node copies whatever it keeps (the
//     handler may modify it in place meanwhile).
//   - Timers: Env.AfterFunc and At return a *Timer whose Stop reports
//     whether the call was still pending. A stopped timer costs nothing more
//     and its slot is recycled when its time comes. Timers of an offline
//     host still fire; Host.Reset (what a host that goes down loses) cancels
//     every timer its Env scheduled and clears its own NAT boxes.
//   - Partitions: SetGroup puts a host's public address into a group;
//     packets between different non-zero groups are dropped
//     ("partitioned") until Heal. SetLoss and SetLatency change the network
//     mid-run; Halt stops a RunUntil from inside a callback.
//   - Nothing may call into a Network concurrently, and RunUntil may not be
//     called from inside a callback.
//
// # Routing
//
// The public Internet is realm 0; each NAT box owns an inner realm. Public
// hosts and outermost NATs get sequential addresses from 20.0.0.1, hosts
// behind NATs get 10/8 addresses and NATs behind a carrier-grade NAT get
// 100.64/10 addresses; every address is unique in the whole run. A packet
// leaves through the sender's NATs (Outbound, at send time) until its
// destination address is owned in the current realm, crosses the Internet
// with its pair's latency and the loss probability, and on arrival goes in
// through the destination's NATs (Inbound, at arrival time, so filtering
// sees the state of that moment), hairpinning where a NAT allows it.
// Packets that never reach the public realm, or come back to where they
// left it (hairpin), take Config.LANLatency and are never lost. Every drop
// is counted by reason (Stats.Dropped, DropReason).
//
// # Costs
//
// A packet costs no allocation in steady state; a timer costs one small
// allocation (its *Timer handle). The event queue is a calendar queue with
// a radix-sorted current bucket (tens of ns per event at a million pending
// events). With 100,000 hosts most of the remaining cost is cache misses on
// host, node and NAT state. The trace hash costs about 1 ns per byte
// delivered (Config.NoTrace turns it off); the OnDeliver, OnDrop and
// OnProgress hooks cost one nil check when unset and one indirect call when
// set.
package simnet
