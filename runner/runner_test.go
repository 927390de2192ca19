package runner

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/scenarios"
)

func parse(t *testing.T, name, yaml string) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Parse(name+".yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const walkerMix = `
network:
  latency: {distribution: lognormal, median: 60ms, sigma: 0.5}
  loss: 0.01
nat:
  mix: {public: 0.2, full-cone: 0.1, restricted-cone: 0.2, port-restricted-cone: 0.3, symmetric: 0.2}
`

func mustRun(t *testing.T, s *scenarios.Scenario, o Options) *Summary {
	t.Helper()
	sum, err := Run(s, o)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestDeterminism: one scenario and seed give one trace hash, whatever
// GOMAXPROCS is and whether ed25519 is pipelined; another seed gives
// another hash.
func TestDeterminism(t *testing.T) {
	s := parse(t, "det", "name: det\nduration: 90s\nnodes: 120\ncrypto: ed25519\n"+walkerMix+
		"workload:\n  - at: 30s\n    publish: {message: text, count: 20, rate: 10/s}\n")
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	one := mustRun(t, s, Options{})
	runtime.GOMAXPROCS(2)
	two := mustRun(t, s, Options{})
	plain := mustRun(t, s, Options{NoPipeline: true})
	if one.TraceHash != two.TraceHash || one.TraceHash != plain.TraceHash {
		t.Fatalf("trace hashes differ: GOMAXPROCS=1 %s, =2 %s, unpipelined %s", one.TraceHash, two.TraceHash, plain.TraceHash)
	}
	if one.PacketsDelivered == 0 {
		t.Fatalf("no packet delivered")
	}
	seed := uint64(2)
	other := mustRun(t, s, Options{Seed: &seed})
	if other.TraceHash == one.TraceHash {
		t.Fatalf("seeds 1 and 2 give the same trace hash %s", one.TraceHash)
	}
	if other.Seed != 2 {
		t.Fatalf("summary seed = %d, want 2", other.Seed)
	}
}

// TestWalker: the walker mix connects everyone and detects connection
// types as Dispersy does (a scaled-down walker-10k).
func TestWalker(t *testing.T) {
	s := parse(t, "walker", "name: walker\nduration: 4m\nnodes: 1000\ncrypto: fast\n"+walkerMix)
	sum := mustRun(t, s, Options{})
	if sum.Walker.ConnectedFraction < 0.99 {
		t.Errorf("connected_fraction = %.4f, want >= 0.99", sum.Walker.ConnectedFraction)
	}
	if sum.Walker.ConnectionTypeAccuracy < 0.95 {
		t.Errorf("connection_type_accuracy = %.4f, want >= 0.95 (%v)", sum.Walker.ConnectionTypeAccuracy, sum.Walker.ConnectionTypes)
	}
	if got := sum.Walker.ConnectionTypes["symmetric"]["symmetric-NAT"]; got < 190 {
		t.Errorf("%d of 200 symmetric-NAT nodes detected as such", got)
	}
	if sum.PacketsDropped["loss"] == 0 || sum.Crypto != "fast" {
		t.Errorf("loss drops %d, crypto %q: the scenario was not applied", sum.PacketsDropped["loss"], sum.Crypto)
	}
	if sum.Events == 0 || sum.PacketsSent < sum.PacketsDelivered || sum.TraceHash == "" {
		t.Errorf("implausible accounting: %+v", sum)
	}
}

const matrix = `
duration: 5m
nodes: 1000
crypto: fast
network:
  latency: {distribution: lognormal, median: 60ms, sigma: 0.5}
nat:
  mix: {public: 0.2, full-cone: 0.2, restricted-cone: 0.2, port-restricted-cone: 0.2, symmetric: 0.2}
`

// impossible are the pairs hole punching without port prediction cannot open.
var impossible = map[string]bool{"port-restricted-cone/symmetric": true, "symmetric/symmetric": true}

// TestPunctureMatrix runs the equal-share NAT mix with Dispersy's own
// puncture flow and with eager puncture: eager reaches what hole punching
// can do (>= 95% where possible, <= 5% where impossible) and never does
// worse than Dispersy's flow.
func TestPunctureMatrix(t *testing.T) {
	dispersy := mustRun(t, parse(t, "matrix", "name: matrix\n"+matrix), Options{})
	eager := mustRun(t, parse(t, "matrix-eager", "name: matrix-eager\nprotocol: {eager_puncture: true}\n"+matrix), Options{})
	if len(eager.Puncture.Pairs) != 15 {
		t.Fatalf("eager matrix has %d cells, want all 15 pairs of 5 presets: %v", len(eager.Puncture.Pairs), PairOrder(eager.Puncture.Pairs))
	}
	var report strings.Builder
	for _, k := range PairOrder(eager.Puncture.Pairs) {
		e := eager.Puncture.Pairs[k]
		d := dispersy.Puncture.Pairs[k]
		if e.Introductions < 50 {
			t.Errorf("%s: only %d introductions, too few to judge", k, e.Introductions)
			continue
		}
		er := float64(e.Successes) / float64(e.Introductions)
		dr := 0.0
		if d != nil && d.Introductions > 0 {
			dr = float64(d.Successes) / float64(d.Introductions)
		}
		fmt.Fprintf(&report, "%-42s dispersy %.3f eager %.3f\n", k, dr, er)
		switch {
		case impossible[k] && (er > 0.05 || dr > 0.05):
			t.Errorf("%s: eager %.3f, dispersy %.3f, want <= 0.05 (needs port prediction)", k, er, dr)
		case !impossible[k] && er < 0.95:
			t.Errorf("%s: eager %.3f, want >= 0.95", k, er)
		case !impossible[k] && er < dr:
			t.Errorf("%s: eager %.3f below Dispersy's flow %.3f", k, er, dr)
		}
	}
	t.Logf("puncture success by NAT pair:\n%s", report.String())
}
