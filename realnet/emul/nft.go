package emul

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Interface names inside the namespaces the run creates. Every veth is
// created with its ends directly in their namespaces, so names only need
// to be unique per namespace.
const (
	wanIf    = "wan0" // a NAT router's Internet side
	lanIf    = "lan0" // a NAT router's LAN side
	hostIf   = "eth0" // a host's only interface
	bridgeIf = "br0"  // the Internet's bridge
)

// Names of the nftables objects the run installs.
const (
	natTable     = "dgoemu_nat"
	fwTable      = "dgoemu_fw"
	delayTable   = "dgoemu_delay"
	dropCounter  = "unsolicited_dropped"
	inputCounter = "unsolicited"
)

// ifname is an interface name as nftables compares it (NUL padded to 16).
func ifname(n string) []byte {
	b := make([]byte, 16)
	copy(b, n)
	return b
}

func matchIf(key expr.MetaKey, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(name)},
	}
}

func matchUDP() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_UDP}},
	}
}

// ctNew matches packets of a connection conntrack has not seen before.
func ctNew() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// nftConn opens an nftables connection in namespace ns.
func nftConn(ns netns.NsHandle) (*nftables.Conn, error) {
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return c, nil
}

// installNAT programs a NAT router namespace: the translation of k, and
// the WAN input firewall when k.InputDrop. host is the LAN host's address
// (the DNAT target of the cone modes).
//
// In nft syntax (what `nft list ruleset` shows in the namespace):
//
//	table ip dgoemu_nat {
//	  set mapped { type inet_service; flags dynamic,timeout; timeout T; }    # full cone
//	  set contacted { type ipv4_addr . inet_service; flags dynamic,timeout; timeout T; }  # restricted cone
//	  set flows { type ipv4_addr . inet_service . inet_service; flags dynamic,timeout; timeout T; }  # other modes, OutboundRefresh
//	  chain track { type filter hook forward priority filter;
//	    oifname "wan0" meta l4proto udp update @mapped { udp sport }   # or @contacted { ip daddr . udp sport },
//	                                                                   # or @flows { ip daddr . udp dport . udp sport }
//	    iifname "wan0" meta l4proto udp udp dport != @mapped counter drop }  # OutboundRefresh; or ip saddr . udp dport
//	                                                                   # != @contacted, or ip saddr . udp sport . udp dport != @flows
//	  chain pre { type nat hook prerouting priority dstnat;
//	    iifname "wan0" meta l4proto udp udp dport @mapped dnat to HOST }  # or ip saddr . udp dport @contacted
//	  chain post { type nat hook postrouting priority srcnat;
//	    oifname "wan0" masquerade [fully-random] }
//	}
//	table ip dgoemu_fw {
//	  counter unsolicited; counter unsolicited_dropped
//	  chain input { type filter hook input priority filter;
//	    iifname "wan0" ct state new counter name unsolicited [counter name unsolicited_dropped drop] }
//	}
func installNAT(ns netns.NsHandle, k kernelNAT, host netip.Addr) error {
	c, err := nftConn(ns)
	if err != nil {
		return err
	}
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: natTable})
	post := c.AddChain(&nftables.Chain{Name: "post", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: cat(matchIf(expr.MetaKeyOIFNAME, wanIf),
		[]expr.Any{&expr.Masq{FullyRandom: k.Mode == modeRandom}})})

	// the set that outbound packets refresh: keyed by the mapping's port
	// (udp sport going out, udp dport coming in) for the full cone, and the
	// remote address too for the restricted cone, so that each mapping lets
	// in the addresses it has sent to; by the whole flow (remote address
	// and port, inside port) for OutboundRefresh in the other modes
	var set *nftables.Set
	var keyOut, keyIn []expr.Any
	// concatenations fill 32-bit registers: reg 1 (= reg32 8) holds the
	// address, reg32 9 and 10 the ports
	switch {
	case k.Mode == modeFullCone:
		set = &nftables.Set{Table: t, Name: "mapped", KeyType: nftables.TypeInetService,
			HasTimeout: true, Dynamic: true, Timeout: k.SetTimeout}
		keyOut = []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2}}
		keyIn = []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}}
	case k.Mode == modeRestricted:
		set = &nftables.Set{Table: t, Name: "contacted", KeyType: nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService),
			Concatenation: true, HasTimeout: true, Dynamic: true, Timeout: k.SetTimeout}
		keyOut = []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		}
		keyIn = []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		}
	case k.OutboundRefresh:
		set = &nftables.Set{Table: t, Name: "flows", KeyType: nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService, nftables.TypeInetService),
			Concatenation: true, HasTimeout: true, Dynamic: true, Timeout: k.SetTimeout}
		keyOut = []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		}
		keyIn = []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
			&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		}
	}
	if set != nil {
		if err := c.AddSet(set, nil); err != nil {
			return fmt.Errorf("nftables set %s: %w", set.Name, err)
		}
		// the forward hook sees the inside port both ways: before SNAT
		// going out, after the reply's (or DNAT's) translation coming in
		track := c.AddChain(&nftables.Chain{Name: "track", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
		c.AddRule(&nftables.Rule{Table: t, Chain: track, Exprs: cat(matchIf(expr.MetaKeyOIFNAME, wanIf), matchUDP(),
			keyOut, []expr.Any{&expr.Dynset{SrcRegKey: 1, SetName: set.Name, SetID: set.ID,
				Operation: uint32(unix.NFT_DYNSET_OP_UPDATE), Timeout: k.SetTimeout}})})
		if k.OutboundRefresh {
			// conntrack keeps a flow that only inbound packets refresh:
			// refuse them once outbound packets stopped refreshing the set
			c.AddRule(&nftables.Rule{Table: t, Chain: track, Exprs: cat(matchIf(expr.MetaKeyIIFNAME, wanIf), matchUDP(),
				keyIn, []expr.Any{&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID, Invert: true},
					&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}})})
		}
	}
	if k.Mode == modeFullCone || k.Mode == modeRestricted {
		// the cone: a new inbound flow to a live mapping goes to the host
		// (before DNAT the mapping's port is the udp dport, as after it)
		pre := c.AddChain(&nftables.Chain{Name: "pre", Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
		h := host.As4()
		c.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: cat(matchIf(expr.MetaKeyIIFNAME, wanIf), matchUDP(),
			keyIn, []expr.Any{&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
				&expr.Immediate{Register: 1, Data: h[:]},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1}})})
	}

	fw := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: fwTable})
	c.AddObj(&nftables.CounterObj{Table: fw, Name: inputCounter})
	input := c.AddChain(&nftables.Chain{Name: "input", Table: fw, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter})
	rule := cat(matchIf(expr.MetaKeyIIFNAME, wanIf), ctNew(),
		[]expr.Any{&expr.Objref{Type: unix.NFT_OBJECT_COUNTER, Name: inputCounter}})
	if k.InputDrop {
		c.AddObj(&nftables.CounterObj{Table: fw, Name: dropCounter})
		rule = append(rule, &expr.Objref{Type: unix.NFT_OBJECT_COUNTER, Name: dropCounter},
			&expr.Verdict{Kind: expr.VerdictDrop})
	}
	c.AddRule(&nftables.Rule{Table: fw, Chain: input, Exprs: rule})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables rules (%v): %w", k.Mode, err)
	}
	return nil
}

// readCounter returns the packets counted by the named counter object of
// table (0 if it does not exist).
func readCounter(ns netns.NsHandle, table, name string) (uint64, error) {
	c, err := nftConn(ns)
	if err != nil {
		return 0, err
	}
	objs, err := c.GetObj(&nftables.CounterObj{Table: &nftables.Table{Family: nftables.TableFamilyIPv4, Name: table}, Name: name})
	if err != nil {
		return 0, fmt.Errorf("nftables counter %s: %w", name, err)
	}
	for _, o := range objs {
		if co, ok := o.(*nftables.CounterObj); ok && co.Name == name {
			return co.Packets, nil
		}
	}
	return 0, nil
}

// nfqInfo is xt_NFQ_info_v3 {u16 queuenum; u16 queues_total; u16 flags},
// padded to 8 bytes, in host byte order.
func nfqInfo(queue uint16) *xt.Unknown {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint16(b[0:], queue)
	binary.NativeEndian.PutUint16(b[2:], 1)
	u := xt.Unknown(b)
	return &u
}

// installDelayQueue sends every IPv4 packet the Internet bridge forwards
// to NFQUEUE queue, where the delay stage holds it. This kernel has no
// nft `queue` statement (NFT_QUEUE is not built in), so the rule uses the
// xtables NFQUEUE target through nft_compat, as iptables-nft does.
//
//	table ip dgoemu_delay {
//	  chain fwd { type filter hook forward priority filter; counter; xt target NFQUEUE --queue-num Q }
//	}
func installDelayQueue(ns netns.NsHandle, queue uint16) error {
	c, err := nftConn(ns)
	if err != nil {
		return err
	}
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: delayTable})
	fwd := c.AddChain(&nftables.Chain{Name: "fwd", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
	c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: []expr.Any{
		&expr.Counter{},
		&expr.Target{Name: "NFQUEUE", Rev: 3, Info: nfqInfo(queue)},
	}})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables NFQUEUE rule: %w", err)
	}
	return nil
}
