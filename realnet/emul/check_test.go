package emul

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/natmodels"
	"github.com/dispersy-go/dispersy/scenarios"
)

const base = `name: t
duration: 1m
nodes: 4
nat:
  mix: {full-cone: 0.5, symmetric: 0.5}
`

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		want        []string // each must appear in the error; none: no error
		nodes       string
	}{
		{name: "ok", extra: "protocol: {walk_interval: 2s}\nworkload:\n  - at: 10s\n    publish: {message: text, count: 2}\n"},
		{name: "fast crypto", extra: "crypto: fast\n", want: []string{"t.yaml: crypto: \"fast\""}},
		{name: "cgnat", extra: "", nodes: "nat:\n  mix: {cgnat: 1}\n", want: []string{"nat.mix.cgnat: the kernel cannot express it"}},
		{name: "too many", nodes: "nodes: 1023\n", want: []string{"nodes: 1023 peers and 1 trackers", "at most 1023 ports"}},
		{name: "community", extra: "community:\n  messages:\n    - name: chat\n      distribution: {kind: full-sync}\n", want: []string{"community: the peer daemon serves the default community only"}},
		{name: "protocol", extra: "protocol: {walk_intervall: 2s}\n", want: []string{"protocol.walk_intervall"}},
		{name: "metrics interval", extra: "metrics: {interval: 5s}\n", want: []string{"t.yaml: metrics: not supported"}},
		{name: "churn", extra: "churn:\n  session: {distribution: exponential, mean: 5m}\n  downtime: {distribution: exponential, mean: 1m}\n", want: []string{"t.yaml: churn: not supported"}},
		{name: "timeline", extra: "timeline:\n  - at: 20s\n    partition: {groups: [0.5, 0.5]}\n", want: []string{"t.yaml: timeline: not supported"}},
		{name: "several", extra: "crypto: fast\n", nodes: "nat:\n  mix: {cgnat: 1}\n", want: []string{"crypto", "cgnat"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := base
			if tc.nodes != "" {
				lines := strings.Split(doc, "\n")
				key := strings.SplitN(tc.nodes, ":", 2)[0]
				var kept []string
				skip := false
				for _, l := range lines {
					if strings.HasPrefix(l, key+":") {
						skip = true
						continue
					}
					if skip && strings.HasPrefix(l, "  ") {
						continue
					}
					skip = false
					kept = append(kept, l)
				}
				doc = strings.Join(kept, "\n") + tc.nodes
			}
			s, err := scenarios.Parse("t.yaml", []byte(doc+tc.extra))
			if err != nil {
				t.Fatal(err)
			}
			err = Check(s)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check accepted it, want errors %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestPlanAddresses(t *testing.T) {
	names := []string{natmodels.ProfilePublic, natmodels.ProfilePublic, natmodels.ProfileSymmetric, natmodels.ProfileFullCone}
	nats := make([]kernelNAT, len(names))
	for i, n := range names {
		p, _ := natmodels.LookupProfile(n)
		nats[i], _ = kernelNATFor(p)
	}
	p, err := newPlan("1-2-3", 1, names, nats)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]bool{}
	inet := netip.MustParsePrefix("100.64.0.0/10")
	lan := netip.MustParsePrefix("10.0.0.0/8")
	for i, h := range p.Hosts {
		if h.Tracker != (i == 0) || (h.Tracker && h.Port != trackerPort) {
			t.Errorf("host %d: tracker %v port %d", i, h.Tracker, h.Port)
		}
		if !inet.Contains(h.Public) {
			t.Errorf("host %d: public %v outside %v", i, h.Public, inet)
		}
		if h.natted() != (h.NATNS != "") || h.natted() != lan.Contains(h.LAN) {
			t.Errorf("host %d: NAT %v, namespace %q, LAN %v", i, h.NAT.Mode, h.NATNS, h.LAN)
		}
		for _, a := range []netip.Addr{h.Public, h.LAN, h.Gateway} {
			if a.IsValid() && a != h.Public && seen[a] {
				t.Errorf("host %d: address %v used twice", i, a)
			}
			seen[a] = true
		}
	}
	ns := p.namespaces()
	if len(ns) != 1+4+2 || ns[0] != nsName("1-2-3", "inet") {
		t.Errorf("namespaces %v", ns)
	}
	for _, n := range ns {
		if !strings.HasPrefix(n, namePrefix+"1-2-3-") {
			t.Errorf("namespace %q lacks the run's prefix", n)
		}
	}
	if _, err := newPlan("x", 1, make([]string, MaxAttachments+1), make([]kernelNAT, MaxAttachments+1)); err == nil {
		t.Error("a plan beyond the bridge's ports was accepted")
	}
}

// TestSchedule: the workload is laid out from the seed, as the simulator
// lays it out: the same seed the same publishers and payloads.
func TestSchedule(t *testing.T) {
	s, err := scenarios.Parse("t.yaml", []byte(base+"workload:\n  - at: 10s\n    publish: {message: text, count: 5, rate: 2/s, size: 20}\n  - at: 5s\n    publish: {message: text, count: 1, from: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r1 := &emuRun{s: s, seed: 7}
	r2 := &emuRun{s: s, seed: 7}
	r3 := &emuRun{s: s, seed: 8}
	a, b, c := r1.schedule(), r2.schedule(), r3.schedule()
	if len(a) != 6 || a[0].from != 3 || a[0].at.Seconds() != 5 || a[5].at.Seconds() != 12 {
		t.Fatalf("schedule %+v", a)
	}
	same := func(x, y []publication) bool {
		for i := range x {
			if x[i].from != y[i].from || string(x[i].payload) != string(y[i].payload) || x[i].at != y[i].at {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("the same seed gave two schedules")
	}
	if same(a, c) {
		t.Error("another seed gave the same schedule")
	}
	for _, p := range a {
		if p.from < 0 || p.from >= s.Nodes || (p.at.Seconds() >= 10 && len(p.payload) != 20) {
			t.Errorf("publication %+v", p)
		}
	}
}

func TestOwnerAlive(t *testing.T) {
	if !ownerAlive(nsName(runID(), "h0")) {
		t.Error("this process's run counts as dead")
	}
	if ownerAlive(namePrefix + "999999999-5-1-h0") {
		t.Error("a run of a missing pid counts as alive")
	}
	if !ownerAlive("dgoemu-garbage") || !ownerAlive("other") {
		t.Error("a name that does not parse counts as dead")
	}
}

// TestShippedScenarios: the emulation scenarios in scenarios/emulation
// parse, and the netns backend can run them.
func TestShippedScenarios(t *testing.T) {
	files, err := filepath.Glob("../../scenarios/emulation/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("scenarios/emulation: %v %v", files, err)
	}
	for _, f := range files {
		s, err := scenarios.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(s); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
