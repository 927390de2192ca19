package simnet

import (
	"math/bits"
	"net/netip"
	"time"

	"github.com/dispersy-go/dispersy/natmodels"
)

// MaxDatagram is the largest UDP payload a host can send (IPv4); larger
// packets are dropped with reason "oversize".
const MaxDatagram = 65507

// pktSlot is the payload of a packet-arrival event: the packet as it
// travels after outbound translation (32 bytes, no pointers).
type pktSlot struct {
	srcIP, dstIP     uint32
	srcPort, dstPort uint16
	owner            int32 // owner of dstIP in the realm the packet arrives in (see ownerIn)
	last             int32 // box the packet last came out of (hairpin check), -1 none
	srcHost          int32
	buf              int32 // index into the buffer pool
	n                int32 // length
}

// send routes pkt from h towards to: outbound NAT translation happens now,
// inbound translation and filtering when the packet arrives.
func (n *Network) send(h *Host, to netip.AddrPort, pkt []byte) {
	if !n.enqueue(h, to, pkt) && n.seal != nil {
		n.seal(nil)
	}
}

// enqueue routes pkt and schedules its arrival; it reports whether the
// packet went in flight (false: dropped at once).
func (n *Network) enqueue(h *Host, to netip.AddrPort, pkt []byte) bool {
	n.stats.PacketsSent++
	if !h.online {
		n.drop(h.id, DropOffline)
		return false
	}
	if len(pkt) > MaxDatagram {
		n.drop(h.id, DropOversize)
		return false
	}
	a := to.Addr().Unmap()
	if !a.Is4() {
		n.drop(h.id, DropNoRoute)
		return false
	}
	dst, dport := ipv4(a), to.Port()
	src, sport := h.ip, h.port
	realm, last := h.realm, int32(-1)
	var owner int32
	for {
		o, ok := n.ownerIn(realm, dst)
		if ok {
			owner = o
			break
		}
		if realm == 0 {
			n.drop(h.id, DropNoRoute)
			return false
		}
		b := realm - 1
		bx := &n.boxes[b]
		m, ok := bx.nat.Outbound(time.Duration(n.now), addrPort(src, sport), netip.AddrPortFrom(a, dport))
		if !ok {
			n.drop(h.id, DropPortExhausted)
			return false
		}
		src, sport = ipv4(m.Addr().Unmap()), m.Port()
		realm, last = bx.outerRealm, b
	}
	delay := n.lanDelay
	if realm == 0 && src != dst {
		// Crosses the Internet: the only place packets get lost or cut off.
		if n.pubGroup != nil {
			if gs, gd := n.groupOf(src), n.groupOf(dst); gs != gd && gs != 0 && gd != 0 {
				n.drop(h.id, DropPartitioned)
				return false
			}
		}
		if n.loss > 0 && n.lossRand.Float64() < n.loss {
			n.drop(h.id, DropLoss)
			return false
		}
		delay = int64(n.lat.Quantile(pairProbability(n.latKey, src, dst)))
		if delay < 0 {
			delay = 0
		}
	}
	bi := n.bufs.get(len(pkt))
	copy(n.bufs.bytes(bi, len(pkt)), pkt)
	var idx int32
	if k := len(n.freePkts); k > 0 {
		idx = n.freePkts[k-1]
		n.freePkts = n.freePkts[:k-1]
	} else {
		if len(n.pkts) > refMask {
			panic("simnet: too many packets in flight")
		}
		idx = int32(len(n.pkts))
		n.pkts = append(n.pkts, pktSlot{})
	}
	n.pkts[idx] = pktSlot{
		srcIP: src, dstIP: dst, srcPort: sport, dstPort: dport,
		owner: owner, last: last, srcHost: h.id, buf: bi, n: int32(len(pkt)),
	}
	if n.seal != nil {
		if len(n.waits) < len(n.pkts) {
			n.waits = append(n.waits, make([]func(), len(n.pkts)-len(n.waits))...)
		}
		n.waits[idx] = n.seal(n.bufs.bytes(bi, len(pkt)))
	}
	n.push(addSat(n.now, delay), kindPacket|uint64(idx))
	return true
}

// arrive processes a packet-arrival event: inbound NAT translation and
// filtering down to the destination host, then delivery.
func (n *Network) arrive(idx int32) {
	if n.seal != nil {
		if w := n.waits[idx]; w != nil {
			n.waits[idx] = nil
			w()
		}
	}
	p := n.pkts[idx]
	n.freePkts = append(n.freePkts, idx)
	n.stats.Events++
	dst, dport, last := p.dstIP, p.dstPort, p.last
	o := p.owner // who owns dst in the arrival realm never changes
	for {
		if o >= 0 {
			n.deliver(&p, n.host(o), dport)
			break
		}
		b := -o - 1
		bx := &n.boxes[b]
		if b == last && !bx.hairpin {
			n.drop(p.srcHost, DropHairpin)
			break
		}
		inside, v := bx.nat.Inbound(time.Duration(n.now), addrPort(p.srcIP, p.srcPort), addrPort(dst, dport))
		if v != natmodels.Pass {
			if v == natmodels.Filtered {
				n.drop(p.srcHost, DropNATFiltered)
			} else {
				n.drop(p.srcHost, DropNoMapping)
			}
			break
		}
		ia := inside.Addr().Unmap()
		if !ia.Is4() {
			n.drop(p.srcHost, DropNoRoute)
			break
		}
		dst, dport, last = ipv4(ia), inside.Port(), -1
		var ok bool
		if o, ok = n.ownerIn(b+1, dst); !ok {
			n.drop(p.srcHost, DropNoRoute)
			break
		}
	}
	n.bufs.put(p.buf)
}

// deliver hands p to host h if it is listening.
func (n *Network) deliver(p *pktSlot, h *Host, dport uint16) {
	if dport != h.port {
		n.drop(p.srcHost, DropClosedPort)
		return
	}
	if !h.online {
		n.drop(p.srcHost, DropOffline)
		return
	}
	pkt := n.bufs.bytes(p.buf, int(p.n))
	pkt = pkt[:p.n:p.n]
	n.stats.PacketsDelivered++
	n.stats.BytesDelivered += int64(p.n)
	if n.trace != nil {
		n.traceDelivery(p.srcIP, p.srcPort, h.ip, h.port, pkt)
	}
	if n.onDeliver != nil {
		n.onDeliver(int(p.srcHost), int(h.id))
	}
	if n.onCapture != nil {
		n.onCapture(Capture{Time: time.Duration(n.now), Src: addrPort(p.srcIP, p.srcPort), Dst: addrPort(h.ip, h.port),
			SrcHost: int(p.srcHost), DstHost: int(h.id), Payload: pkt})
	}
	if h.handler != nil {
		h.handler(addrPort(p.srcIP, p.srcPort), pkt)
	}
}

// Packet buffers come in power-of-two size classes from 64 B to 64 KiB.
const (
	minBufShift   = 6
	numBufClasses = 17 - minBufShift
	// bufClassShift places a buffer's class above its slot in a buffer
	// index; a class holds up to 2^bufClassShift buffers.
	bufClassShift = 26
	// bufChunkBytes is the size of the arena chunks buffers are cut from.
	bufChunkBytes = 1 << 20
)

// bufPool recycles packet buffers: Send copies into one, the arrival event
// returns it after the handler. Steady state allocates nothing. The
// buffers of a class are cut from 1 MiB chunks (one buffer per chunk for
// the largest classes), so finding a buffer's bytes reads no per-buffer
// header, only the few chunk headers of its class.
type bufPool struct {
	chunks [numBufClasses][][]byte // per class: the arena chunks
	n      [numBufClasses]int32    // per class: buffers cut so far
	free   [numBufClasses][]int32  // per class: free slots
}

func bufClass(n int) int {
	if n <= 1<<minBufShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minBufShift
}

// perChunk returns how many buffers of class c a chunk holds, as a shift.
func perChunk(c int) uint {
	if s := bufChunkBytes >> (c + minBufShift); s > 1 {
		return uint(bits.Len(uint(s)) - 1)
	}
	return 0
}

// get returns the index of a buffer of at least size bytes.
func (p *bufPool) get(size int) int32 {
	c := bufClass(size)
	if k := len(p.free[c]); k > 0 {
		i := p.free[c][k-1]
		p.free[c] = p.free[c][:k-1]
		return int32(c)<<bufClassShift | i
	}
	i := p.n[c]
	if i >= 1<<bufClassShift {
		panic("simnet: too many packet buffers")
	}
	shift := perChunk(c)
	if int(i>>shift) == len(p.chunks[c]) {
		p.chunks[c] = append(p.chunks[c], make([]byte, (1<<shift)<<(c+minBufShift)))
	}
	p.n[c]++
	return int32(c)<<bufClassShift | i
}

// bytes returns the first n bytes of buffer i.
func (p *bufPool) bytes(i int32, n int) []byte {
	c := int(i >> bufClassShift)
	slot := i & (1<<bufClassShift - 1)
	shift := perChunk(c)
	size := 1 << (c + minBufShift)
	off := int(slot&(1<<shift-1)) * size
	return p.chunks[c][slot>>shift][off : off+n : off+size]
}

// put returns buffer i to its free list.
func (p *bufPool) put(i int32) {
	c := i >> bufClassShift
	p.free[c] = append(p.free[c], i&(1<<bufClassShift-1))
}
