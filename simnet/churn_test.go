package simnet

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/natmodels"
)

// TestHostReset: a host's Reset cancels the timers its Env scheduled (also
// when the host comes back before they were due), leaves driver timers and
// other hosts' timers alone, and makes its own NAT forget its mappings.
func TestHostReset(t *testing.T) {
	l := newLab(t, Config{Seed: 5})
	pub := l.host(natmodels.ProfilePublic)
	a := l.host(natmodels.ProfileFullCone)
	other := l.host(natmodels.ProfileFullCone)
	var fired []string
	l.n.At(0, func() {
		a.Env().AfterFunc(2*time.Second, func() { fired = append(fired, "a") })
		other.Env().AfterFunc(2*time.Second, func() { fired = append(fired, "other") })
		l.n.After(2*time.Second, func() { fired = append(fired, "driver") })
	})
	l.send(0, a, pub.Addr, "hello")
	l.run(500 * time.Millisecond)
	mapped := l.mustGet(pub, "hello").from
	l.send(time.Second, pub, func() netip.AddrPort { return mapped }, "before")
	l.run(1500 * time.Millisecond)
	l.mustGet(a, "before")
	a.SetOnline(false)
	a.Reset()
	a.SetOnline(true) // back before the timer's time: it still must not run
	l.send(1600*time.Millisecond, pub, func() netip.AddrPort { return mapped }, "after")
	l.run(5 * time.Second)
	if len(fired) != 2 || fired[0] != "other" || fired[1] != "driver" {
		t.Fatalf("timers fired %v, want [other driver]", fired)
	}
	if _, ok := l.got(a, "after"); ok {
		t.Fatal("a packet reached the host through a mapping its NAT had before Reset")
	}
	if d := l.n.Stats().Dropped[DropNoMapping]; d != 1 {
		t.Fatalf("%d no_mapping drops, want 1", d)
	}
	// New timers after Reset run as usual.
	l.n.At(6*time.Second, func() { a.Env().AfterFunc(time.Second, func() { fired = append(fired, "new") }) })
	l.run(10 * time.Second)
	if len(fired) != 3 || fired[2] != "new" {
		t.Fatalf("timers fired %v, want a new one after Reset", fired)
	}
}

// TestHostResetSharedNAT: behind a shared carrier-grade NAT only the host's
// own home NAT is reset; a neighbour behind the same CGN keeps its path.
func TestHostResetSharedNAT(t *testing.T) {
	l := newLab(t, Config{Seed: 6})
	pub := l.host(natmodels.ProfilePublic)
	a, b := l.host(natmodels.ProfileCGNAT), l.host(natmodels.ProfileCGNAT)
	if a.PublicAddr() != b.PublicAddr() {
		t.Fatal("the two CGNAT hosts do not share their carrier-grade NAT")
	}
	l.send(0, a, pub.Addr, "a")
	l.send(0, b, pub.Addr, "b")
	l.run(time.Second)
	ma, mb := l.mustGet(pub, "a").from, l.mustGet(pub, "b").from
	a.Reset()
	l.send(2*time.Second, pub, func() netip.AddrPort { return ma }, "to-a")
	l.send(2*time.Second, pub, func() netip.AddrPort { return mb }, "to-b")
	l.run(3 * time.Second)
	if _, ok := l.got(a, "to-a"); ok {
		t.Error("the reset host is still reachable through its old mapping")
	}
	l.mustGet(b, "to-b")
}

// TestPartition: packets between hosts of two different groups are dropped
// at the sender, group 0 reaches everyone, hosts behind one NAT share its
// group, packets inside a realm never cross the cut, and Heal ends it.
func TestPartition(t *testing.T) {
	l := newLab(t, Config{Seed: 7})
	a1, a2 := l.host(natmodels.ProfilePublic), l.host(natmodels.ProfileFullCone)
	b1 := l.host(natmodels.ProfilePublic)
	tr := l.host(natmodels.ProfilePublic)
	lan := natmodels.Profile{Name: "lan", ShareOuter: 4, Chain: profile(t, natmodels.ProfileFullCone).Chain}
	c1, c2 := l.hostP(lan), l.hostP(lan)
	for h, g := range map[*Host]int{a1: 1, a2: 1, b1: 2, c1: 2} {
		if err := l.n.SetGroup(h, g); err != nil {
			t.Fatal(err)
		}
	}
	if l.n.Group(c2) != 2 || l.n.Group(tr) != 0 {
		t.Fatalf("groups: c2 %d (shares c1's NAT), tracker %d", l.n.Group(c2), l.n.Group(tr))
	}
	if err := l.n.SetGroup(a1, 256); err == nil {
		t.Fatal("group 256 accepted")
	}
	l.send(0, a2, a1.Addr, "a2>a1")
	l.send(0, a1, b1.Addr, "a1>b1")
	l.send(0, b1, tr.Addr, "b1>tr")
	l.send(0, a1, tr.Addr, "a1>tr")
	l.send(0, c1, c2.Addr, "c1>c2")
	l.run(time.Second)
	l.mustGet(a1, "a2>a1")
	l.mustGet(tr, "b1>tr")
	l.mustGet(tr, "a1>tr")
	l.mustGet(c2, "c1>c2")
	if _, ok := l.got(b1, "a1>b1"); ok {
		t.Fatal("a packet crossed the partition")
	}
	if d := l.n.Stats().Dropped[DropPartitioned]; d != 1 {
		t.Fatalf("%d partitioned drops, want 1", d)
	}
	l.n.Heal()
	l.send(2*time.Second, a1, b1.Addr, "healed")
	l.run(3 * time.Second)
	l.mustGet(b1, "healed")
}

// TestSetLossAndLatency: mid-run changes apply to packets sent afterwards.
func TestSetLossAndLatency(t *testing.T) {
	l := newLab(t, Config{Seed: 8, Latency: ConstantLatency{D: 10 * time.Millisecond}})
	a, b := l.host("public"), l.host("public")
	l.send(0, a, b.Addr, "x")
	l.n.At(time.Second, func() {
		if err := l.n.SetLatency(ConstantLatency{D: 300 * time.Millisecond}); err != nil {
			t.Error(err)
		}
		if err := l.n.SetLoss(0.999999); err != nil {
			t.Error(err)
		}
	})
	l.send(2*time.Second, a, b.Addr, "y")
	l.n.At(3*time.Second, func() {
		if err := l.n.SetLoss(0); err != nil {
			t.Error(err)
		}
	})
	l.send(4*time.Second, a, b.Addr, "z")
	l.run(5 * time.Second)
	if got := l.mustGet(b, "x").at; got != 10*time.Millisecond {
		t.Errorf("x arrived at %v", got)
	}
	if _, ok := l.got(b, "y"); ok {
		t.Error("y was not lost at loss 0.999999")
	}
	if got := l.mustGet(b, "z").at; got != 4*time.Second+300*time.Millisecond {
		t.Errorf("z arrived at %v, want 4.3s", got)
	}
	for _, p := range []float64{-0.1, 1} {
		if err := l.n.SetLoss(p); err == nil {
			t.Errorf("SetLoss(%v) accepted", p)
		}
	}
	if err := l.n.SetLatency(UniformLatency{Min: 2, Max: 1}); err == nil {
		t.Error("SetLatency accepted an inverted range")
	}
}

// TestHalt: Halt from a callback stops RunUntil after that event, with the
// clock there; the run can go on afterwards.
func TestHalt(t *testing.T) {
	n := newNet(t, Config{})
	var ran []time.Duration
	for _, at := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		n.At(at, func() {
			ran = append(ran, n.Now())
			if n.Now() == 2*time.Second {
				n.Halt()
			}
		})
	}
	if err := n.RunUntil(10 * time.Second); !errors.Is(err, ErrHalted) {
		t.Fatalf("RunUntil = %v, want ErrHalted", err)
	}
	if n.Now() != 2*time.Second || len(ran) != 2 {
		t.Fatalf("halted at %v after %v", n.Now(), ran)
	}
	if err := n.RunUntil(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if len(ran) != 3 || n.Now() != 10*time.Second {
		t.Fatalf("after resuming: %v at %v", ran, n.Now())
	}
}

// TestCapture: the capture hook sees each delivered packet with the source
// after NAT and the receiver's own address.
func TestCapture(t *testing.T) {
	l := newLab(t, Config{Seed: 9})
	pub, nat := l.host("public"), l.host(natmodels.ProfilePortRestrictedCone)
	var caps []Capture
	l.n.OnCapture(func(c Capture) {
		c.Payload = append([]byte(nil), c.Payload...)
		caps = append(caps, c)
	})
	l.send(0, nat, pub.Addr, "hi")
	l.run(time.Second)
	if len(caps) != 1 {
		t.Fatalf("%d captures", len(caps))
	}
	c := caps[0]
	if c.Src != l.mustGet(pub, "hi").from || c.Dst != pub.Addr() || c.SrcHost != nat.ID() || c.DstHost != pub.ID() ||
		string(c.Payload) != "hi" || c.Time != l.mustGet(pub, "hi").at || c.Src.Addr() != nat.PublicAddr() {
		t.Fatalf("capture %+v", c)
	}
}
