package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// readSummary decodes dir/summary.json.
func readSummary(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRunOutputs: a run writes the time series, the coverage, the PNG
// plots and prints the walker, puncture and sync tables and the files.
func TestRunOutputs(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if err := run([]string{"run", "testdata/sync.yaml", "--out", dir}, &out, &errb); err != nil {
		t.Fatalf("run: %v\n%s", err, errb.String())
	}
	for _, f := range []string{"timeseries.csv", "coverage.csv", "timeseries.png", "traffic.png", "cdf-delivery.png", "cdf-candidates.png"} {
		path := filepath.Join(dir, f)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if strings.HasSuffix(f, ".png") && !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("%s is not a PNG", f)
		}
		if !strings.Contains(out.String(), path) {
			t.Errorf("the output does not name %s", path)
		}
	}
	ts, _ := os.ReadFile(filepath.Join(dir, "timeseries.csv"))
	lines := strings.Split(strings.TrimSpace(string(ts)), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], "t_seconds,online,coverage,connected_fraction") {
		t.Fatalf("timeseries.csv: %d lines, header %q", len(lines), lines[0])
	}
	last := strings.Split(lines[6], ",")
	if last[0] != "60" || last[1] != "30" || last[2] != "1.000000" {
		t.Errorf("last sample %v, want t=60 s, 30 online, coverage 1", last[:3])
	}
	for _, want := range []string{"walker (online peers at the end)", "NAT pair", "sync (online peers)", "delivery delay p50"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q table in the output:\n%s", want, out.String())
		}
	}
	m := readSummary(t, dir)
	sync := m["sync"].(map[string]any)
	if sync["counting"] == "" || m["interrupted"] != false {
		t.Errorf("summary: counting %v, interrupted %v", sync["counting"], m["interrupted"])
	}
	if errb.Len() == 0 || strings.Contains(errb.String(), "\r") {
		t.Errorf("stderr is no terminal: want the header line and no progress bar, got %q", errb.String())
	}
}

// TestProgressBar: on a terminal the bar shows virtual time, events per
// second, online peers and an ETA, redrawn in place.
func TestProgressBar(t *testing.T) {
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, terminal: true, interrupted: func() bool { return false }}
	if err := e.main([]string{"run", "testdata/public.yaml", "--out", t.TempDir(), "--no-plots"}); err != nil {
		t.Fatal(err)
	}
	s := errb.String()
	for _, want := range []string{"\r[", "30/30 s virtual", "ev/s", "online 20", "ETA"} {
		if !strings.Contains(s, want) {
			t.Errorf("progress bar %q has no %q", s, want)
		}
	}
}

// TestInterrupt: Ctrl-C stops the run, which writes what it has, marks it
// interrupted and says so.
func TestInterrupt(t *testing.T) {
	dir := t.TempDir()
	polls := 0
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, interrupted: func() bool { polls++; return polls > 12 }}
	err := e.main([]string{"run", "testdata/sync.yaml", "--out", dir, "--no-plots"})
	if !errors.Is(err, errInterrupted) {
		t.Fatalf("error %v, want an interruption", err)
	}
	m := readSummary(t, dir)
	if m["interrupted"] != true || m["virtual_seconds"].(float64) >= 60 || m["virtual_seconds"].(float64) < 10 {
		t.Fatalf("summary: interrupted %v at %v s", m["interrupted"], m["virtual_seconds"])
	}
	if !strings.Contains(out.String(), "interrupted at") || !strings.Contains(err.Error(), dir) {
		t.Errorf("the output does not say it was interrupted:\n%s\n%v", out.String(), err)
	}
}

// frame is one decoded packet of a capture.
type frame struct {
	src, dst netip.AddrPort
	payload  []byte
}

// readPcap decodes a capture with gopacket, checking every frame's
// Ethernet, IPv4 and UDP headers and checksums.
func readPcap(t *testing.T, path string) []frame {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("link type %v", r.LinkType())
	}
	var out []frame
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if ip == nil || udp == nil || p.ErrorLayer() != nil {
			t.Fatalf("frame %d does not decode as Ethernet/IPv4/UDP: %v", len(out), p)
		}
		if ci.CaptureLength != len(data) || int(ip.Length) != len(data)-14 || int(udp.Length) != len(udp.Payload)+8 {
			t.Fatalf("frame %d: lengths capture %d, IP %d, UDP %d", len(out), ci.CaptureLength, ip.Length, udp.Length)
		}
		if onesSum(data[14:34]) != 0xffff {
			t.Fatalf("frame %d: bad IPv4 header checksum", len(out))
		}
		pseudo := append(append(append([]byte{}, data[26:34]...), 0, 17), byte(udp.Length>>8), byte(udp.Length))
		if onesSum(append(pseudo, data[34:]...)) != 0xffff {
			t.Fatalf("frame %d: bad UDP checksum", len(out))
		}
		src, _ := netip.AddrFromSlice(ip.SrcIP)
		dst, _ := netip.AddrFromSlice(ip.DstIP)
		out = append(out, frame{netip.AddrPortFrom(src, uint16(udp.SrcPort)), netip.AddrPortFrom(dst, uint16(udp.DstPort)), udp.Payload})
	}
	return out
}

// onesSum is the RFC 1071 ones' complement sum of b.
func onesSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// TestPcap: --pcap writes every delivered packet with the addresses the
// receiver saw; --pcap-nodes keeps only a peer's packets; two runs write
// the same bytes.
func TestPcap(t *testing.T) {
	dir := t.TempDir()
	all := filepath.Join(dir, "all.pcap")
	var out, errb bytes.Buffer
	if err := run([]string{"run", "testdata/tiny.yaml", "--out", dir, "--no-plots", "--pcap", all}, &out, &errb); err != nil {
		t.Fatalf("run: %v\n%s", err, errb.String())
	}
	frames := readPcap(t, all)
	m := readSummary(t, dir)
	if d := m["packets_delivered"].(float64); float64(len(frames)) != d || d == 0 {
		t.Fatalf("%d frames for %v delivered packets", len(frames), d)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("(%d packets)", len(frames))) {
		t.Errorf("the output does not count the frames:\n%s", out.String())
	}
	nat, lan := 0, 0
	for _, f := range frames {
		if f.dst.Port() != 7759 || len(f.payload) == 0 {
			t.Fatalf("frame %v -> %v with %d bytes", f.src, f.dst, len(f.payload))
		}
		if f.src.Port() != 7759 {
			nat++ // a NAT that did not keep the port
		}
		if f.dst.Addr().Is4() && f.dst.Addr().As4()[0] == 10 {
			lan++ // delivered behind a NAT, to the receiver's own address
		}
	}
	if lan == 0 {
		t.Errorf("no frame was delivered to a 10/8 address: NAT receivers are missing")
	}
	t.Logf("%d frames, %d to LAN addresses, %d from remapped ports", len(frames), lan, nat)

	// The same run again writes the same capture.
	again := filepath.Join(dir, "again.pcap")
	if err := run([]string{"run", "testdata/tiny.yaml", "--out", dir, "--no-plots", "--pcap", again}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(all)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Error("two runs of one scenario and seed wrote different captures")
	}

	// Only peer 3's packets (public peers: one address both ways).
	one := filepath.Join(dir, "one.pcap")
	if err := run([]string{"run", "testdata/public.yaml", "--out", dir, "--no-plots", "--pcap", one, "--pcap-nodes", "3"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	fs := readPcap(t, one)
	if len(fs) == 0 {
		t.Fatal("no frame of peer 3")
	}
	count := map[netip.Addr]int{}
	for _, f := range fs {
		count[f.src.Addr()]++
		if f.dst.Addr() != f.src.Addr() {
			count[f.dst.Addr()]++
		}
	}
	peer := netip.Addr{}
	for a, n := range count {
		if n == len(fs) {
			peer = a
		}
	}
	if !peer.IsValid() {
		t.Fatalf("no address is in all %d frames: %v", len(fs), count)
	}
}

// TestPcapTshark: tshark reads the capture and lists the same UDP packets
// with the same addresses as gopacket does.
func TestPcapTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed (make test installs it with apt-get where it can); the capture is still checked by TestPcap")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "run.pcap")
	var out, errb bytes.Buffer
	if err := run([]string{"run", "testdata/tiny.yaml", "--out", dir, "--no-plots", "--pcap", path}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	frames := readPcap(t, path)
	cmd := exec.Command(tshark, "-n", "-r", path, "-T", "fields", "-E", "separator=,",
		"-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst", "-e", "udp.dstport", "-e", "udp.length")
	cmd.Env = append(os.Environ(), "HOME="+dir) // tshark wants a writable profile directory
	got, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("tshark: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(lines) != len(frames) {
		t.Fatalf("tshark lists %d packets, gopacket %d", len(lines), len(frames))
	}
	for i, f := range frames {
		want := fmt.Sprintf("%s,%d,%s,%d,%d", f.src.Addr(), f.src.Port(), f.dst.Addr(), f.dst.Port(), len(f.payload)+8)
		if lines[i] != want {
			t.Fatalf("packet %d: tshark %q, want %q", i+1, lines[i], want)
		}
	}
}

// TestParseNodeList checks --pcap-nodes lists.
func TestParseNodeList(t *testing.T) {
	got, err := parseNodeList("0, 5,7-9", 10)
	if err != nil || fmt.Sprint(got) != "[0 5 7 8 9]" {
		t.Fatalf("parseNodeList = %v, %v", got, err)
	}
	for _, bad := range []string{"x", "3-1", "10", "-1", "1,,2"} {
		if _, err := parseNodeList(bad, 10); err == nil {
			t.Errorf("parseNodeList(%q) accepted", bad)
		}
	}
}
