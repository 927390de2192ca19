package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/protocol/wire"
	"github.com/dispersy-go/dispersy/realnet"
	"github.com/dispersy-go/dispersy/realnet/sqlstore"

	"github.com/dispersy-go/dispersy/internal/testutil"
)

// These tests build cmd/peer with `go build` and drive the binary as an
// operator would: processes, flags, the control socket, signals.

const walk = 200 * time.Millisecond // every duration scaled by 1/25

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// peerBinary builds the peer once per test run.
func peerBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: cannot build the peer binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "peer-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "peer")
		out, err := exec.Command(goBin, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type proc struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	stderr  *testutil.SyncBuffer
	data    string
	control string
	done    chan error
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PEER_") {
			env = append(env, kv)
		}
	}
	return env
}

// startProc starts the peer binary with args.
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, stderr: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(peerBinary(t), args...)
	p.cmd.Env = cleanEnv()
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Fatalf("%s exited with %v after SIGTERM; stderr:\n%s", p.name, err, p.stderr.String())
		}
	case <-time.After(10 * time.Second):
		p.t.Fatalf("%s did not stop within 10 s of SIGTERM", p.name)
	}
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// startTracker starts a tracker on a free loopback port.
func startTracker(t *testing.T) (*proc, string) {
	addr := fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t))
	tr := startProc(t, "tracker", "tracker", "--listen", addr, "--walk-interval", walk.String())
	return tr, addr
}

// startPeer starts a peer with its data in dir.
func startPeer(t *testing.T, name, dir, tracker, community string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"run", "--listen", "127.0.0.1:0", "--tracker", tracker, "--community", community,
		"--data", dir, "--walk-interval", walk.String(), "--fast-walker=false"}, extra...)
	p := startProc(t, name, args...)
	p.data, p.control = dir, filepath.Join(dir, "peer.sock")
	p.waitControl()
	return p
}

// waitControl waits for the control socket to answer.
func (p *proc) waitControl() {
	p.t.Helper()
	c := realnet.NewClient(p.control)
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Status(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case err := <-p.done:
			p.t.Fatalf("%s exited (%v); stderr:\n%s", p.name, err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: control socket does not answer: %v; stderr:\n%s", p.name, err, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cli runs the peer binary to completion and returns stdout, stderr and
// the exit code.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(peerBinary(t), args...)
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCLILoopback is the run from the command line alone: a
// tracker and five peers find each other, and a message published with
// `peer publish` on one is listed by `peer messages` on all others within
// a few walk steps.
func TestCLILoopback(t *testing.T) {
	_, trackerAddr := startTracker(t)
	root := t.TempDir()
	var peers []*proc
	for i := range 5 {
		peers = append(peers, startPeer(t, fmt.Sprintf("peer%d", i), filepath.Join(root, fmt.Sprint(i)), trackerAddr, "cli-loopback"))
	}
	for _, p := range peers {
		ok := eventually(20*walk, func() bool {
			out, _, code := cli(t, "status", "--control", p.control, "--json")
			var st realnet.Status
			if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Communities) != 1 {
				return false
			}
			others := 0
			for _, x := range st.Communities[0].Peers {
				if !x.Tracker && (x.Category == "walk" || x.Category == "stumble") {
					others++
				}
			}
			return others >= 2
		})
		if !ok {
			t.Fatalf("%s did not verify two other peers within 20 walk steps", p.name)
		}
	}
	out, errb, code := cli(t, "publish", "--control", peers[0].control, "hello from the command line")
	if code != 0 {
		t.Fatalf("peer publish: exit %d: %s", code, errb)
	}
	id := strings.TrimSpace(out)
	if !strings.Contains(id, ":") || len(id) < 42 {
		t.Fatalf("peer publish printed %q, want MEMBER:GLOBALTIME", out)
	}
	start := time.Now()
	for _, p := range peers[1:] {
		ok := eventually(15*walk, func() bool {
			out, _, _ := cli(t, "messages", "--control", p.control)
			return strings.Contains(out, id+"\ttext\thello from the command line")
		})
		if !ok {
			out, _, _ := cli(t, "status", "--control", p.control)
			t.Fatalf("%s does not list %s within 15 walk steps; status:\n%s", p.name, id, out)
		}
	}
	t.Logf("the message was listed on every peer %v after its publish returned", time.Since(start).Round(10*time.Millisecond))
	for _, p := range peers {
		p.stop()
		if _, err := os.Stat(p.control); !os.IsNotExist(err) {
			t.Errorf("%s left its control socket behind (%v)", p.name, err)
		}
	}
}

// TestKillDuringPublishBurst kills a peer with SIGKILL in the middle of a
// burst of 1,000 publishes, restarts it, and checks that every publish
// that returned is stored, that the database passes integrity_check, and
// that the peer goes on syncing with the other peer.
func TestKillDuringPublishBurst(t *testing.T) {
	_, trackerAddr := startTracker(t)
	root := t.TempDir()
	const community = "durability"
	aDir := filepath.Join(root, "a")
	a := startPeer(t, "a", aDir, trackerAddr, community)
	b := startPeer(t, "b", filepath.Join(root, "b"), trackerAddr, community)

	c := realnet.NewClient(a.control)
	defer c.Close()
	const total, workers, killAt = 1000, 16, 300
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	next := make(chan int)
	killed := make(chan struct{})
	var once sync.Once
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				m, err := c.Publish(ctx, realnet.PublishRequest{Payload: []byte(fmt.Sprintf("burst %d", i))})
				cancel()
				if err != nil {
					continue
				}
				mu.Lock()
				acked = append(acked, m.ID)
				n := len(acked)
				mu.Unlock()
				if n == killAt {
					once.Do(func() {
						_ = a.cmd.Process.Kill() // SIGKILL: no shutdown code runs
						close(killed)
					})
				}
			}
		}()
	}
	for i := range total {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("only %d publishes returned before the burst ended: the peer was never killed", len(acked))
	}
	<-a.done
	t.Logf("%d of %d publishes returned before and around the SIGKILL", len(acked), total)

	db, err := sqlstore.Open(filepath.Join(aDir, "peer.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.IntegrityCheck(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	a2 := startPeer(t, "a-restarted", aDir, trackerAddr, community)
	ca := realnet.NewClient(a2.control)
	defer ca.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := ca.AllMessages(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, m := range msgs {
		have[m.ID] = true
	}
	lost := 0
	for _, id := range acked {
		if !have[id] {
			lost++
		}
	}
	t.Logf("after restart: %d messages stored, %d acknowledged, %d acknowledged ones missing", len(msgs), len(acked), lost)
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged publishes are missing after the restart", lost, len(acked))
	}
	// The restarted peer goes on: a new message reaches b, and b ends
	// with every acknowledged message.
	m, err := ca.Publish(ctx, realnet.PublishRequest{Payload: []byte("after the restart")})
	if err != nil {
		t.Fatal(err)
	}
	cb := realnet.NewClient(b.control)
	defer cb.Close()
	var bHas map[string]bool
	ok := eventually(60*walk, func() bool {
		// each listing gets its own deadline: the phase outlasts ctx's
		lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer lcancel()
		got, err := cb.AllMessages(lctx, "", 0)
		if err != nil {
			return false
		}
		bHas = map[string]bool{}
		for _, x := range got {
			bHas[x.ID] = true
		}
		if !bHas[m.ID] {
			return false
		}
		for _, id := range acked {
			if !bHas[id] {
				return false
			}
		}
		return true
	})
	if !ok {
		missing := 0
		for _, id := range acked {
			if !bHas[id] {
				missing++
			}
		}
		t.Fatalf("b has the post-restart message: %v; misses %d of the %d acknowledged ones after 60 walk steps", bHas[m.ID], missing, len(acked))
	}
	a2.stop()
	b.stop()
}

// TestOperatorErrors checks that each operator mistake ends the process
// with a one-line error naming the problem and a non-zero exit code.
func TestOperatorErrors(t *testing.T) {
	dir := t.TempDir()
	taken, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenAddr := taken.LocalAddr().String()
	garbageKey := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbageKey, []byte("-----BEGIN NOTHING-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badConfig := filepath.Join(dir, "peer.yaml")
	if err := os.WriteFile(badConfig, []byte("listen: 127.0.0.1:0\nwalk-intervall: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, trackerAddr := startTracker(t)
	p := startPeer(t, "peer", filepath.Join(dir, "running"), trackerAddr, "errors")
	other := sha1.Sum([]byte("another community"))
	runArgs := func(data string, extra ...string) []string {
		return append([]string{"run", "--tracker", trackerAddr, "--community", "errors", "--data", filepath.Join(dir, data)}, extra...)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"key file is a directory", runArgs("k1", "--listen", "127.0.0.1:0", "--key", dir), "key file"},
		{"key file is not a key", runArgs("k2", "--listen", "127.0.0.1:0", "--key", garbageKey), "not a PEM"},
		{"port taken", runArgs("port", "--listen", takenAddr), "address already in use"},
		{"bad config key", runArgs("cfg", "--config", badConfig), `peer.yaml:2: unknown setting "walk-intervall"`},
		{"unknown community (publish)", []string{"publish", "--control", p.control, "--community", hex.EncodeToString(other[:]), "x"}, "community not served"},
		{"unknown community (messages)", []string{"messages", "--control", p.control, "--community", "another community"}, "community not served"},
		{"data directory in use", runArgs("running", "--listen", "127.0.0.1:0"), "in use by another peer"},
		{"no peer", []string{"status", "--control", filepath.Join(dir, "none.sock")}, "is the peer running?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errb, code := cli(t, tt.args...)
			lines := strings.Split(strings.TrimRight(errb, "\n"), "\n")
			last := lines[len(lines)-1]
			if code == 0 || !strings.HasPrefix(last, "peer: ") || !strings.Contains(last, tt.want) {
				t.Fatalf("exit %d, stderr %q; want a non-zero exit and a last line \"peer: ...%s...\"", code, errb, tt.want)
			}
			// the error is the only line but for the startup log lines of run
			for _, l := range lines[:len(lines)-1] {
				if !strings.Contains(l, "level=") {
					t.Fatalf("stderr has more than the one error line: %q", errb)
				}
			}
		})
	}
	p.stop()
}

// procMemory returns a process's resident and peak resident set, in KiB.
func procMemory(t *testing.T, pid int) (rss, hwm int) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc/PID/status to measure memory: %v", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			fmt.Sscan(f[1], &rss)
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			fmt.Sscan(f[1], &hwm)
		}
	}
	return rss, hwm
}

// kernelDrops returns the kernel's drop count of the UDP socket on port
// (the last column of /proc/net/udp), or -1 if it cannot be read.
func kernelDrops(port uint16) int {
	data, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return -1
	}
	want := fmt.Sprintf(":%04X", port)
	for _, l := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) > 12 && strings.HasSuffix(f[1], want) {
			var n int
			fmt.Sscan(f[len(f)-1], &n)
			return n
		}
	}
	return -1
}

// TestFlood sends a bounded flood (3 s, loopback only) of garbage, of
// well-formed packets with forged signatures, of packets for a community
// the peer does not serve and of oversized datagrams to a running peer: it
// must keep answering `peer status`, stay within a memory bound, and
// account for every datagram: each one the node received was accepted or
// counted under a drop reason, and each one it did not receive was dropped
// by its bounded queue or by the kernel's socket buffer.
func TestFlood(t *testing.T) {
	_, trackerAddr := startTracker(t)
	p := startPeer(t, "flooded", t.TempDir(), trackerAddr, "flood")
	c := realnet.NewClient(p.control)
	defer c.Close()
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	target, err := net.ResolveUDPAddr("udp4", st.LAN)
	if err != nil {
		t.Fatal(err)
	}
	cid, err := realnet.ParseCID(st.Communities[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	rss0, _ := procMemory(t, p.cmd.Process.Pid)
	kdrops0 := kernelDrops(uint16(target.Port))

	const duration, maxPackets = 3 * time.Second, 300000
	var sent [4]int
	var wg sync.WaitGroup
	stop := time.Now().Add(duration)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.DialUDP("udp4", nil, target)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			rng := newRand(uint64(w))
			var local [4]int
			for i := 0; i < maxPackets/2 && time.Now().Before(stop); i++ {
				kind := i % 4
				if kind == 3 && i%400 != 3 {
					kind = i % 3 // oversized ones are rare: they are big
				}
				if _, err := conn.Write(floodPacket(kind, rng, cid)); err == nil {
					local[kind]++
				}
			}
			mu.Lock()
			for k := range sent {
				sent[k] += local[k]
			}
			mu.Unlock()
		}()
	}
	// status keeps answering during the flood
	answered, asked := 0, 0
	for time.Now().Before(stop) {
		asked++
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if _, err := c.Status(sctx); err == nil {
			answered++
		}
		cancel()
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	if answered != asked {
		t.Errorf("peer status answered %d of %d requests during the flood", answered, asked)
	}
	// let the queue drain
	var after *realnet.Status
	eventually(5*time.Second, func() bool {
		a, err := c.Status(ctx)
		if err != nil {
			return false
		}
		done := after != nil && a.Packets.Received == after.Packets.Received
		after = a
		return done
	})
	rss1, hwm := procMemory(t, p.cmd.Process.Pid)
	total := sent[0] + sent[1] + sent[2] + sent[3]
	kd := kernelDrops(uint16(target.Port)) - kdrops0
	var nodeDrops uint64
	for r, n := range after.Drops {
		if r != realnet.DropQueueFull && r != realnet.DropOversize {
			nodeDrops += n
		}
	}
	t.Logf("flood: %d datagrams in %v (%d garbage, %d forged, %d unknown community, %d oversized); node received %d, accepted %d; drops %v; kernel drops %d",
		total, duration, sent[0], sent[1], sent[2], sent[3], after.Packets.Received, after.Packets.Accepted, after.Drops, kd)
	t.Logf("memory: RSS %d KiB before, %d KiB after, peak %d KiB", rss0, rss1, hwm)
	if got := nodeDrops + after.Packets.Accepted; got != after.Packets.Received {
		t.Errorf("node received %d datagrams but accepted %d and counted %d drops", after.Packets.Received, after.Packets.Accepted, nodeDrops)
	}
	for _, r := range []string{"bad_signature", "unknown_community", realnet.DropOversize} {
		if after.Drops[r] == 0 {
			t.Errorf("no drop counted as %q", r)
		}
	}
	if kd >= 0 {
		seen := int(after.Packets.Received) + int(after.Drops[realnet.DropQueueFull]) + int(after.Drops[realnet.DropOversize]) + kd
		if seen < total {
			t.Errorf("%d datagrams sent, but the node, the queue and the kernel account for only %d", total, seen)
		}
	}
	if hwm > 256<<10 {
		t.Errorf("peak RSS %d KiB during the flood, want under 256 MiB", hwm)
	}
	p.stop()
}

var mu sync.Mutex // guards the flood's totals

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0xF100D)) }

// floodPacket returns one datagram of the flood: 0 random bytes, 1 a
// well-formed introduction-request or text message of the peer's
// community from a random key with a forged signature, 2 the same for a
// community the peer does not serve, 3 a datagram over MaxDatagram.
func floodPacket(kind int, rng *rand.Rand, cid wire.CID) []byte {
	switch kind {
	case 0:
		b := make([]byte, rng.IntN(1400))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	case 3:
		return make([]byte, realnet.MaxDatagram+20)
	}
	if kind == 2 {
		cid[0] ^= 0xFF
	}
	key := make([]byte, protocol.KeyLen)
	for i := range key {
		key[i] = byte(rng.Uint32())
	}
	var b []byte
	if rng.IntN(2) == 0 {
		b = wire.AppendHeader(nil, wire.CommunityVersion, cid, wire.TypeIntroductionRequest)
		b = wire.AppendMember(b, key)
		b = wire.AppendGlobalTime(b, 1+rng.Uint64N(100))
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(1024+rng.IntN(60000)))
		b = wire.AppendIntroRequest(b, &wire.IntroRequest{Destination: a, SourceLAN: a, SourceWAN: a, Advice: true,
			Identifier: uint16(rng.Uint32())})
	} else {
		b = wire.AppendHeader(nil, wire.CommunityVersion, cid, 1)
		b = wire.AppendMember(b, key)
		b = wire.AppendGlobalTime(b, 1+rng.Uint64N(100))
		b = append(b, "a forged text message"...)
	}
	sig := make([]byte, 64)
	for i := range sig {
		sig[i] = byte(rng.Uint32())
	}
	return append(b, sig...)
}
