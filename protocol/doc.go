// Package protocol is the Dispersy protocol core: member keys, the packet
// layout (package wire), communities, the random walker with its candidate
// table, NAT puncturing, and WAN-address voting. It does no I/O, starts no
// goroutine, reads no clock and uses no global randomness: everything from
// outside comes through the Env a Node is built with. The same Node runs in
// the simulator (simnet) and on real UDP sockets (realnet).
//
// # Driver contract
//
// A driver (simnet, realnet, or a test) must:
//
//  1. Implement Env for the node: Now returns the driver's clock (virtual or
//     monotonic wall time) as Time; Send transmits one datagram and copies
//     the bytes if it keeps them; AfterFunc runs a function later on the
//     node's loop; Rand returns the node's own seeded random stream.
//  2. Serialise every call into the node: HandlePacket, timer functions from
//     AfterFunc, and API calls (Join, Stop, Status readers) must never run
//     concurrently. A node is a single-threaded state machine.
//  3. Call HandlePacket(from, pkt) for every datagram the node's socket
//     receives, with from the UDP source address as the socket sees it. The
//     node reads pkt only during the call.
//  4. Call Join(cid) to start walking in a community; the first walk step
//     happens after a random delay in [0, Config.StartJitter) and then every
//     Config.WalkInterval.
//  5. Call Stop to cancel the node's timers before dropping it.
//
// # Behaviour
//
// The walker follows Tribler/dispersy (shared/spec/dispersy-protocol.md §7):
// a walk step every 5 s sends an introduction-request to the eligible
// candidate chosen from the walk, stumble, intro and discovered categories
// with shares 47.5/23.75/23.75/5 %; the responder introduces a walk or
// stumble candidate round-robin and sends it a puncture-request; the
// introduced node punctures toward the walker. Each node elects its WAN
// address from the addresses its peers report and classifies its connection
// as public, unknown or symmetric-NAT. Config.EagerPuncture is an
// improvement over Dispersy, off by default: see its documentation.
//
// Permissions follow Dispersy's timeline (shared/spec §8): the master
// member (the member whose id is the community id) holds everything and
// hands out permit, authorize, revoke and undo per message type with
// dispersy-authorize; dispersy-revoke takes them back, undo messages undo,
// dispersy-dynamic-settings switches a type's policy, and
// dispersy-destroy-community hard-kills the community. Verdicts are a pure
// function of the stored messages (timeline.go, permissions.go), so nodes
// that hold the same messages agree whatever order they arrived in.
//
// Choices where Dispersy is silent or looks wrong are marked in the code
// and listed in README.md.
package protocol
