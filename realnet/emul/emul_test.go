package emul

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/dispersy-go/dispersy/runner"
	"github.com/dispersy-go/dispersy/scenarios"
)

func load(t *testing.T, path string) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertClean checks that run id left no namespace behind.
func assertClean(t *testing.T, id string) {
	t.Helper()
	if id == "" {
		t.Fatal("no run id")
	}
	if left := listNS(namePrefix + id + "-"); len(left) > 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
}

// pairRate is a matrix cell's success rate (and whether it was seen).
func pairRate(ps runner.PunctureSummary, key string) (introductions int64, rate float64) {
	st := ps.Pairs[key]
	if st == nil || st.Introductions == 0 {
		return 0, 0
	}
	return st.Introductions, float64(st.Successes) / float64(st.Introductions)
}

// TestEmulationCI runs a tracker and ten real peers behind four kernel NAT
// kinds and checks the pairs that must puncture and those that must not,
// the connection types the peers detect, and that the message reached
// every peer.
func TestEmulationCI(t *testing.T) {
	needKernel(t)
	t.Parallel()
	sum, rep, err := Run(context.Background(), load(t, "testdata/ci.yaml"), Options{PeerBinary: peerBin})
	if err != nil {
		t.Fatal(err)
	}
	assertClean(t, rep.RunID)
	mustNot := map[string]bool{"port-restricted-cone/symmetric": true, "symmetric/symmetric": true}
	punched := 0
	for key, st := range sum.Puncture.Pairs {
		n, rate := pairRate(sum.Puncture, key)
		if mustNot[key] {
			if st.Successes != 0 || st.WalkerReached != 0 {
				t.Errorf("%s: %d of %d introductions punctured (%d reached the walker); these NATs cannot puncture", key, st.Successes, n, st.WalkerReached)
			}
			continue
		}
		if rate < 0.8 {
			t.Errorf("%s: %d of %d introductions punctured; these NATs must", key, st.Successes, n)
		}
		punched++
	}
	if n, _ := pairRate(sum.Puncture, "port-restricted-cone/symmetric"); n < 3 {
		t.Errorf("only %d introductions of port-restricted-cone/symmetric pairs: the negative case was not tested", n)
	}
	if punched < 6 {
		t.Errorf("only %d pair kinds punctured (%v)", punched, sum.Puncture.Pairs)
	}
	if sum.Walker.ConnectionTypeAccuracy != 1 {
		t.Errorf("connection types %v, want symmetric-NAT behind symmetric NATs and unknown behind cones", sum.Walker.ConnectionTypes)
	}
	// Full coverage is not asserted: with ten peers of which three are
	// symmetric, the walk splits the network into groups in about one
	// run in eight, in the simulator too (seed 3 of this file: coverage
	// 0.45); the messages must still spread past their publishers.
	if sum.Sync.Messages != 10 || sum.Sync.Coverage < 0.3 {
		t.Errorf("sync coverage %v, t100 %v: the %d messages did not spread (publish errors %v, status misses %d, by profile %+v)",
			sum.Sync.Coverage, sum.Sync.Convergence.T100, sum.Sync.Messages, rep.PublishErrors, rep.StatusMisses, sum.Sync.ByProfile)
	}
	if sum.PacketsDelivered == 0 || rep.Delay.Passed == 0 || rep.Delay.Errors != 0 {
		t.Errorf("delivered %d, wire %+v", sum.PacketsDelivered, rep.Delay)
	}
}

// conntrackHas reports whether the conntrack table of namespace ns holds
// a UDP flow between local and remote (either direction).
func conntrackHas(ns netns.NsHandle, local netip.Addr, remote netip.AddrPort) (bool, error) {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return false, err
	}
	defer h.Close()
	flows, err := h.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
	if err != nil {
		return false, err
	}
	for _, f := range flows {
		if f.Forward.Protocol != unix.IPPROTO_UDP {
			continue
		}
		if f.Forward.SrcIP.Equal(local.AsSlice()) && f.Forward.DstIP.Equal(remote.Addr().AsSlice()) && f.Forward.DstPort == remote.Port() {
			return true, nil
		}
		if f.Forward.SrcIP.Equal(remote.Addr().AsSlice()) && f.Forward.SrcPort == remote.Port() {
			return true, nil
		}
	}
	return false, nil
}

// TestEmulationExpiry: with 2 s mappings and walks to each other only
// every 5.5 s, the kernel's conntrack flow between two peers expires and
// comes back, the router drops what the other peer sends into the closed
// hole, and the walker punctures the pair again and again, as the
// simulator does on the same file.
func TestEmulationExpiry(t *testing.T) {
	needKernel(t)
	t.Parallel()
	s := load(t, "testdata/expiry.yaml")
	var mu sync.Mutex
	var timeline []bool // is A's flow to B in A's router's conntrack table?
	stop := make(chan struct{})
	var wg sync.WaitGroup
	o := Options{PeerBinary: peerBin, Hook: func(c *Control) {
		a, b := c.r.plan.Hosts[1], c.r.plan.Hosts[2]
		ns := c.r.topo.ns(a.NATNS)
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				has, err := conntrackHas(ns, a.LAN, netip.AddrPortFrom(b.Public, b.Port))
				if err != nil {
					return
				}
				mu.Lock()
				timeline = append(timeline, has)
				mu.Unlock()
			}
		}()
	}}
	sum, rep, err := Run(context.Background(), s, o)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	assertClean(t, rep.RunID)
	// present, gone, present again: the hole closed in the kernel and
	// was punched again
	changes := 0
	for i := 1; i < len(timeline); i++ {
		if timeline[i] != timeline[i-1] {
			changes++
		}
	}
	if changes < 3 {
		t.Errorf("A's conntrack flow to B changed %d times in %d samples: the hole did not close and reopen", changes, len(timeline))
	}
	if rep.NATDropped == 0 {
		t.Error("the routers dropped nothing: no packet met a closed hole")
	}
	const pair = "port-restricted-cone/port-restricted-cone"
	emu := sum.Puncture.Pairs[pair]
	if emu == nil || emu.Successes < 2 {
		t.Fatalf("%s: %+v, want the walker to puncture the pair at least twice", pair, emu)
	}
	// the simulator, on the same file
	simSum, err := runner.Run(s, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sim := simSum.Puncture.Pairs[pair]
	if sim == nil || sim.Successes < 2 || simSum.PacketsDropped["nat_filtered"] == 0 {
		t.Fatalf("simulator: %s %+v, nat_filtered %d: the simulated hole does not close and reopen", pair, sim, simSum.PacketsDropped["nat_filtered"])
	}
	// and with mappings that outlive the walk, far fewer drops there
	s.NAT.MappingTimeout = time.Minute
	long, err := runner.Run(s, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l, sh := long.PacketsDropped["nat_filtered"], simSum.PacketsDropped["nat_filtered"]; l*2 > sh {
		t.Errorf("simulator: %d NAT drops with 60 s mappings, %d with 2 s: expiry makes no difference", l, sh)
	}
	t.Logf("emulation: %s %+v, %d router drops, conntrack flow changed %d times; simulator: %+v, %d drops",
		pair, *emu, rep.NATDropped, changes, *sim, simSum.PacketsDropped["nat_filtered"])
}

// TestEmulationCrash: a peer that dies fails the run, which still removes
// everything.
func TestEmulationCrash(t *testing.T) {
	needKernel(t)
	t.Parallel()
	s := load(t, "testdata/expiry.yaml")
	s.Duration = 30 * time.Second
	killed, id := 0, ""
	o := Options{PeerBinary: peerBin, Hook: func(c *Control) {
		killed, id = c.PID(2), c.RunID()
		go func() {
			time.Sleep(2 * time.Second)
			_ = syscall.Kill(killed, syscall.SIGKILL)
		}()
	}}
	t0 := time.Now()
	_, _, err := Run(context.Background(), s, o)
	if !errors.Is(err, errCrashed) {
		t.Fatalf("run with a killed peer: %v, want a crash error", err)
	}
	if time.Since(t0) > 20*time.Second {
		t.Errorf("the run went on for %v after a peer died", time.Since(t0))
	}
	if !strings.Contains(err.Error(), "host 2") {
		t.Errorf("the error does not name the host: %v", err)
	}
	assertClean(t, id)
	if syscall.Kill(killed, 0) == nil {
		t.Errorf("pid %d still runs", killed)
	}
}

// TestEmulationInterrupt: a cancelled run (Ctrl-C) stops the peers and
// removes everything; a second run right after works.
func TestEmulationInterrupt(t *testing.T) {
	needKernel(t)
	t.Parallel()
	s := load(t, "testdata/expiry.yaml")
	ctx, cancel := context.WithCancel(context.Background())
	var pids []int
	id := ""
	o := Options{PeerBinary: peerBin, Hook: func(c *Control) {
		id = c.RunID()
		for i := range c.Hosts() {
			pids = append(pids, c.PID(i))
		}
		time.AfterFunc(2*time.Second, cancel)
	}}
	_, _, err := Run(ctx, s, o)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	assertClean(t, id)
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("pid %d still runs", pid)
		}
	}
	s.Duration = 5 * time.Second
	_, rep, err := Run(context.Background(), s, Options{PeerBinary: peerBin})
	if err != nil {
		t.Fatalf("a run right after: %v", err)
	}
	assertClean(t, rep.RunID)
}

// TestCleanupLeftovers: namespaces of a process that is gone are removed,
// with what runs in them; those of a live process are not.
func TestCleanupLeftovers(t *testing.T) {
	needKernel(t)
	dead := namePrefix + "999999999-1-1-h0" // no such pid
	live := nsName(runID(), "keep")
	for _, n := range []string{dead, live} {
		h, err := createNS(n)
		if err != nil {
			t.Fatal(err)
		}
		h.Close()
	}
	defer deleteNS(live)
	if _, err := Cleanup(); err != nil {
		t.Fatal(err)
	}
	left := listNS(namePrefix)
	for _, n := range left {
		if n == dead {
			t.Errorf("leftover %s not removed", dead)
		}
	}
	found := false
	for _, n := range left {
		found = found || n == live
	}
	if !found {
		t.Errorf("the live run's namespace %s was removed", live)
	}
}
