// Package emul is the emulation testbed: it runs a scenario file on real
// Linux kernels with real NATs. Every tracker and peer is a real `peer`
// process (cmd/peer) in its own network namespace, every NATed peer sits
// behind its own router namespace whose NAT is the kernel's (nftables and
// conntrack), and all of them hang on one Internet namespace. The run
// writes the simulator's summary (runner.Summary) from what the peers and
// the wire report, so `sim run --backend netns FILE` and `sim run FILE`
// can be compared field by field.
//
// # Topology
//
//	peer (10.I.J.2) ─eth0──lan0─ router (wan0 100.64.x.y/32) ─┐
//	peer (10.K.L.2) ─eth0──lan0─ router (wan0 100.64.x.z/32) ─┤ pN   Internet namespace:
//	public peer (eth0 100.64.x.w/32) ─────────────────────────┤      bridge br0 + NFQUEUE
//	tracker (eth0 100.64.0.2/32) ─────────────────────────────┘      delay/loss stage
//
// Namespaces are named dgoemu-PID-START-SEQ-ROLE (see Cleanup); veths are
// created with both ends directly in their namespaces, so the host's own
// namespace gets no interface, route, rule or sysctl. Addresses: the
// emulated Internet is 100.64.0.0/10 (each uplink a /32 with an on-link
// route, so a public peer sees no neighbours on its own subnet, as in the
// simulator), router i's LAN 10.(i/256).(i%256).0/24. Every neighbour
// entry is static and permanent (no ARP): permanent entries are exempt
// from the neighbour-table limit that all namespaces share with the host
// (gc_thresh3, 1,024), which n uplinks talking to each other would pass
// from about 32 hosts on. One bridge holds at most 1,023 ports, so a run
// has at most MaxAttachments hosts.
//
// # Kernel NAT presets
//
// kernelNATFor translates a natmodels profile into router rules from its
// Behavior (not its name), and refuses what the kernel cannot express:
//
//	profile                  kernel (router namespace)                                    measured (TestKernelNATBehaviour)
//	public                   no router                                                     -
//	full-cone                masquerade + DNAT of UDP to a port in @mapped (set of ports   EIM, EIF, port kept
//	                         the host sent from, refreshed by outbound packets, timeout)
//	restricted-cone          masquerade + DNAT of UDP from (address . port) in @contacted  EIM, ADF, port kept
//	                         (the addresses each mapping sent to)
//	port-restricted-cone     masquerade; conntrack UDP timeouts = the mapping timeout      EIM, APDF, port kept
//	symmetric                masquerade fully-random                                       APDM, APDF, random ports
//	linux-masquerade         masquerade, conntrack's 30 s / 120 s                          EIM, APDF, port kept
//	linux-masquerade-nofw    the same without the WAN input drop                           EIM, APDF (+ collisions)
//	cgnat                    refused: a NAT chain shared by 64 hosts
//
// Every router but linux-masquerade-nofw also drops new inbound packets to
// itself (`iifname "wan0" ct state new drop`), as home routers do: without
// it an unsolicited punch leaves an UNREPLIED conntrack entry that makes
// the router move the host's next flow to another port (the collision of
// shared/research/emulation-feasibility.md §4, which the simulator models
// as linux-masquerade-nofw). Conntrack timeouts are per namespace: each
// router gets its profile's (mapping_timeout included) in
// nf_conntrack_udp_timeout and nf_conntrack_udp_timeout_stream.
//
// # The wire
//
// This kernel has no netem, so delay and loss are a userspace stage after
// every NAT: the Internet namespace's forward hook sends each bridged
// packet to an NFQUEUE (the xtables NFQUEUE target through nft_compat: the
// kernel lacks nft's own queue statement), where delayStage holds it for
// its pair's one-way delay (a quantile of the scenario's distribution,
// fixed per pair of public addresses, as in simnet) or drops it with the
// scenario's loss probability.
//
// # Measurement
//
// The walker block comes from each peer's control socket (status, polled
// every Options.Poll), the sync block from the stored-message counts in
// the same status and from the peers' Prometheus counters, the puncture
// matrix from packet sockets on every host's interface (an introduction is
// the puncture-request an introducer sends; a pair punctured if both
// received from each other within runner.PunctureWindow), the drops from
// the wire stage and the routers' nftables counters. The NAT assignment
// and the workload come from the seed exactly as in the simulator.
//
// # Where it does not use netlink
//
// Namespaces, links, addresses, routes, neighbours and conntrack listing go
// through github.com/vishvananda/netlink and netns, every nftables object
// through github.com/google/nftables, the queue through
// github.com/florianl/go-nfqueue: no nft, iptables, ip or conntrack binary
// is run, so nothing needs installing. Sysctls are written to /proc/sys
// from a thread inside the namespace (the per-namespace files have no
// netlink interface), processes are forked from such a thread (the child
// inherits the namespace; no `ip netns exec`), and BuildPeer runs `go
// build` once when no peer binary is given.
package emul
