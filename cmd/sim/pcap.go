package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/dispersy-go/dispersy/simnet"
)

// pcapWriter writes delivered packets as Ethernet/IPv4/UDP frames to a
// pcap file (nanosecond timestamps: the virtual time since the run's
// start, counted from the Unix epoch), so tshark and Wireshark show them
// with their addresses and ports as the receiver saw them.
type pcapWriter struct {
	f       *os.File
	buf     *bufio.Writer
	w       *pcapgo.Writer
	ser     gopacket.SerializeBuffer
	id      uint16
	packets int64
	err     error
	closed  bool
}

// pcapSnapLen is the snapshot length: whole datagrams always fit.
const pcapSnapLen = 65535

func createPcap(path string) (*pcapWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	buf := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriterNanos(buf)
	if err := w.WriteFileHeader(pcapSnapLen, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return nil, err
	}
	return &pcapWriter{f: f, buf: buf, w: w, ser: gopacket.NewSerializeBuffer()}, nil
}

// mac is a locally administered MAC address made from an IPv4 address.
func mac(ip [4]byte) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x00, ip[0], ip[1], ip[2], ip[3]}
}

// write is a runner.Options.Capture: it frames one delivered packet. The
// first error is kept and returned by close.
func (p *pcapWriter) write(c simnet.Capture) {
	if p.err != nil {
		return
	}
	src, dst := c.Src.Addr().As4(), c.Dst.Addr().As4()
	p.id++
	eth := &layers.Ethernet{SrcMAC: mac(src), DstMAC: mac(dst), EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: p.id, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP(src[:]), DstIP: net.IP(dst[:])}
	udp := &layers.UDP{SrcPort: layers.UDPPort(c.Src.Port()), DstPort: layers.UDPPort(c.Dst.Port())}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		p.err = err
		return
	}
	if err := gopacket.SerializeLayers(p.ser, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, udp, gopacket.Payload(c.Payload)); err != nil {
		p.err = fmt.Errorf("frame packet %d: %w", p.packets+1, err)
		return
	}
	data := p.ser.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, int64(c.Time)).UTC(), CaptureLength: len(data), Length: len(data)}
	if err := p.w.WritePacket(ci, data); err != nil {
		p.err = err
		return
	}
	p.packets++
}

// close flushes and closes the file; it is idempotent.
func (p *pcapWriter) close() error {
	if p.closed {
		return p.err
	}
	p.closed = true
	if err := p.buf.Flush(); err != nil && p.err == nil {
		p.err = err
	}
	if err := p.f.Close(); err != nil && p.err == nil {
		p.err = err
	}
	return p.err
}
