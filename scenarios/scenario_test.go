package scenarios

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dispersy-go/dispersy/natmodels"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.err from the current output")

// walkerMix is the NAT mix of walker-10k and its relatives.
func walkerMix() []natmodels.Share {
	return []natmodels.Share{
		{Profile: "public", Fraction: 0.2},
		{Profile: "full-cone", Fraction: 0.1},
		{Profile: "restricted-cone", Fraction: 0.2},
		{Profile: "port-restricted-cone", Fraction: 0.3},
		{Profile: "symmetric", Fraction: 0.2},
	}
}

// TestBadFiles checks every testdata/bad/X.yaml against the exact error
// text in X.err (run with -update to regenerate), and that every error line
// names the file, a line and, for all but file-level problems, a key.
func TestBadFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad scenarios: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			s, err := Load(file)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want an error", file, s)
			}
			if s != nil {
				t.Errorf("Load(%s) returned a scenario along with its error", file)
			}
			got := err.Error() + "\n"
			checkGolden(t, file, got, strings.TrimSuffix(file, ".yaml")+".err")
			// Every joined error is an *Error in file order.
			var errs []*Error
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range j.Unwrap() {
					var se *Error
					if !errors.As(e, &se) {
						t.Fatalf("joined error %v is not an *Error", e)
					}
					errs = append(errs, se)
				}
			}
			if len(errs) == 0 {
				t.Fatalf("error %v joins no *Error", err)
			}
			for i, e := range errs {
				if e.File != file || e.Line < 1 {
					t.Errorf("error %d has File %q Line %d", i, e.File, e.Line)
				}
				if i > 0 && e.Line < errs[i-1].Line {
					t.Errorf("errors out of file order: line %d after line %d", e.Line, errs[i-1].Line)
				}
			}
		})
	}
}

// checkGolden compares the error text got of file with the golden file
// (rewritten with -update), and checks that every line of it names file
// and a line.
func checkGolden(t *testing.T, file, got, golden string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s: error:\n%s\nwant:\n%s", file, got, want)
	}
	lineRE := regexp.MustCompile(`^` + regexp.QuoteMeta(file) + `:[1-9][0-9]*: `)
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if !lineRE.MatchString(l) {
			t.Errorf("error line %q does not start with %s:LINE:", l, file)
		}
	}
}

// TestBadFilesKeys spells out, for each error class, the file:line: key
// prefix it must carry, independently of the golden files.
func TestBadFilesKeys(t *testing.T) {
	tests := []struct {
		file, prefix, contains string
	}{
		{"unknown-key", "3: nodez: ", "allowed keys: name, seed, duration, nodes"},
		{"unknown-key-nested", "5: network.latncy: ", "allowed keys: latency, loss"},
		{"missing-required", "1: name: ", "required key missing"},
		{"latency-missing-param", "5: network.latency.sigma: ", "required key missing"},
		{"latency-missing-distribution", "5: network.latency.distribution: ", "required key missing"},
		{"latency-bad-duration", "8: network.latency.median: ", `invalid duration "6o ms"`},
		{"latency-sigma-negative", "5: network.latency.sigma: ", "negative"},
		{"latency-uniform-min-gt-max", "5: network.latency.min: ", "greater than max"},
		{"latency-unknown-distribution", "5: network.latency.distribution: ", `did you mean "lognormal"`},
		{"wrong-type-nodes", "3: nodes: ", "expected an integer"},
		{"wrong-type-network", "4: network: ", "expected a mapping, got a sequence"},
		{"duration-zero", "2: duration: ", "positive"},
		{"nodes-zero", "3: nodes: ", "at least 1"},
		{"nodes-negative", "3: nodes: ", "at least 1"},
		{"trackers-zero", "4: trackers: ", "at least 1"},
		{"loss-one", "4: network.loss: ", "[0, 1)"},
		{"loss-negative", "5: network.loss: ", "[0, 1)"},
		{"crypto-unknown", "4: crypto: ", "ed25519, fast"},
		{"mix-negative", "5: nat.mix.symmetric: ", "negative"},
		{"mix-sum", "6: nat.mix: ", "sum to 0.9"},
		{"mix-unknown-profile", "5: nat.mix.full_cone: ", `did you mean "full-cone"`},
		{"duplicate-key", "4: nodes: ", "duplicate key (first at line 3)"},
		{"seed-negative", "2: seed: ", "negative"},
		{"syntax-error", "", "invalid YAML"},
		{"community-unknown-kind", "7: community.messages[0].distribution.kind: ", `did you mean "full-sync"`},
		{"community-last-sync-no-history", "7: community.messages[0].distribution.history_size: ", "required key missing"},
		{"community-sequence-numbers-last-sync", "7: community.messages[0].distribution.sequence_numbers: ", "last-sync takes no sequence_numbers"},
		{"community-candidate-full-sync", "8: community.messages[0].destination.kind: ", "full-sync needs destination community"},
		{"community-direct-community", "8: community.messages[0].destination.kind: ", "direct needs destination candidate"},
		{"community-auth-none-full-sync", "7: community.messages[0].authentication: ", "none needs distribution direct"},
		{"community-duplicate-name", "10: community.messages[2].name: ", "(first at line 6)"},
		{"community-reserved-name", "6: community.messages[0].name: ", "reserved"},
		{"community-priority-300", "7: community.messages[0].distribution.priority: ", "between 0 and 255"},
		{"community-too-many", "6: community.messages: ", "at most 200"},
		{"workload-unknown-message", "14: workload[1].publish.message: ", `unknown message "txt"`},
		{"workload-unknown-message-default", "6: workload[0].publish.message: ", "known: text"},
		{"workload-from-out-of-range", "6: workload[0].publish.from: ", "0 to 99"},
		{"workload-bad-rate", "6: workload[0].publish.rate: ", "invalid rate"},
		{"workload-at-beyond-duration", "5: workload[0].at: ", "before the end of the run"},
		{"workload-count-zero", "6: workload[0].publish.count: ", "at least 1"},
		{"workload-no-action", "5: workload[0]: ", "no action"},
		{"churn-unknown-distribution", "5: churn.session.distribution: ", `did you mean "weibull"`},
		{"churn-weibull-missing-shape", "5: churn.session.shape: ", "required key missing"},
		{"churn-trace-and-session", "7: churn.trace: ", "give one or the other"},
		{"churn-missing-downtime", "5: churn.downtime: ", "required key missing"},
		{"churn-trace-missing-file", "5: churn.trace: ", "no-such-trace.csv"},
		{"timeline-unknown-action", "6: timeline[0].crsh: ", `did you mean "crash"`},
		{"timeline-action-in-workload", "6: workload[0].partition: ", "allowed keys: at, publish"},
		{"timeline-heal-without-partition", "7: timeline[1].heal: ", "no partition is in force"},
		{"timeline-partition-groups", "6: timeline[0].partition.groups: ", "sum to 0.9"},
		{"timeline-crash", "6: timeline[0].crash: ", "exactly one of fraction and count"},
		{"timeline-join", "6: timeline[0].join.over: ", "after the run"},
		{"timeline-set", "6: timeline[0].set: ", "changes nothing"},
		{"metrics-interval-zero", "5: metrics.interval: ", "positive"},
	}
	for _, tt := range tests {
		file := filepath.Join("testdata", "bad", tt.file+".yaml")
		_, err := Load(file)
		if err == nil {
			t.Errorf("Load(%s): no error", file)
			continue
		}
		found := false
		for _, line := range strings.Split(err.Error(), "\n") {
			found = found || strings.HasPrefix(line, file+":"+tt.prefix) && strings.Contains(line, tt.contains)
		}
		if !found {
			t.Errorf("Load(%s) = %v\nwant a line with prefix %q containing %q", file, err, file+":"+tt.prefix, tt.contains)
		}
	}
}

// TestShipped parses every scenario file shipped in this directory.
func TestShipped(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"churn-100k.yaml", "partition-10k.yaml", "permissions-10k.yaml", "permissions-2k.yaml", "puncture-matrix-eager.yaml", "puncture-matrix.yaml", "sim-10k.yaml",
		"sweep-sync.yaml", "sync-100k-one.yaml", "sync-100k.yaml", "sync-10k-mix-dispersy.yaml", "sync-10k-mix.yaml", "sync-10k.yaml",
		"sync-1k-100.yaml", "sync-1k-dispersy.yaml", "sync-1k-noskip.yaml", "sync-1k.yaml", "sync-idle-1k-dispersy.yaml",
		"sync-idle-1k-noskip.yaml", "sync-idle-1k.yaml", "walker-100k-1h.yaml", "walker-100k-ed25519.yaml",
		"walker-100k-fast.yaml", "walker-10k.yaml", "walker-1m.yaml", "walker-small.yaml"}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("shipped files %v, want %v", files, want)
	}
	for _, file := range files {
		s, err := Load(file)
		if err != nil {
			t.Errorf("Load(%s): %v", file, err)
			continue
		}
		if s.Name != strings.TrimSuffix(file, ".yaml") {
			t.Errorf("%s: name %q does not match the file name", file, s.Name)
		}
		if s.File != file {
			t.Errorf("%s: File = %q", file, s.File)
		}
	}
}

// TestWalker10k checks every field of the reference scenario.
func TestWalker10k(t *testing.T) {
	s, err := Load("walker-10k.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Scenario{
		Name:     "walker-10k",
		Seed:     1,
		Duration: 10 * time.Minute,
		Nodes:    10000,
		Trackers: 1,
		Network: Network{
			Latency: Latency{Distribution: DistLognormal, Median: 60 * time.Millisecond, Sigma: 0.5},
			Loss:    0.01,
		},
		NAT:       NAT{Mix: walkerMix(), MappingTimeout: time.Minute},
		Crypto:    CryptoEd25519,
		Community: DefaultCommunity(),
		Metrics:   Metrics{Interval: DefaultMetricsInterval},
		File:      "walker-10k.yaml",
	}
	got := *s
	if len(got.Protocol) != 1 || got.Protocol[0].Key != "walk_interval" || got.Protocol[0].Value.Value != "5s" || got.Protocol[0].Line != 13 {
		t.Errorf("Protocol = %+v, want walk_interval: 5s at line 13", got.Protocol)
	}
	got.Protocol = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("walker-10k.yaml parsed as\n%+v\nwant\n%+v", got, want)
	}
}

// TestShippedVariants checks what distinguishes the other shipped files.
func TestShippedVariants(t *testing.T) {
	load := func(file string) *Scenario {
		t.Helper()
		s, err := Load(file)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, c := range []struct{ file, crypto string }{{"walker-100k-fast.yaml", CryptoFast}, {"walker-100k-ed25519.yaml", CryptoEd25519}} {
		s := load(c.file)
		if s.Nodes != 100000 || s.Crypto != c.crypto || s.Duration != 10*time.Minute || s.Trackers != 1 ||
			s.Network.Loss != 0.01 || !reflect.DeepEqual(s.NAT.Mix, walkerMix()) || s.Network.Latency.Distribution != DistLognormal {
			t.Errorf("%s: %+v", c.file, s)
		}
	}
	equal := []natmodels.Share{{Profile: "public", Fraction: 0.2}, {Profile: "full-cone", Fraction: 0.2},
		{Profile: "restricted-cone", Fraction: 0.2}, {Profile: "port-restricted-cone", Fraction: 0.2}, {Profile: "symmetric", Fraction: 0.2}}
	for _, file := range []string{"puncture-matrix.yaml", "puncture-matrix-eager.yaml"} {
		s := load(file)
		if s.Nodes != 1000 || s.Duration != 10*time.Minute || s.Network.Loss != 0 || s.Crypto != CryptoEd25519 || !reflect.DeepEqual(s.NAT.Mix, equal) {
			t.Errorf("%s: %+v", file, s)
		}
	}
	if p := load("puncture-matrix.yaml").Protocol; len(p) != 0 {
		t.Errorf("puncture-matrix overrides %+v, want none", p)
	}
	if p := load("puncture-matrix-eager.yaml").Protocol; len(p) != 1 || p[0].Key != "eager_puncture" || p[0].Value.Value != "true" {
		t.Errorf("puncture-matrix-eager overrides %+v, want eager_puncture: true", p)
	}
	if s := load("walker-small.yaml"); s.Nodes != 200 || s.Duration != 3*time.Minute || !reflect.DeepEqual(s.NAT.Mix, walkerMix()) {
		t.Errorf("walker-small: %+v", s)
	}
	for _, file := range []string{"puncture-matrix.yaml", "puncture-matrix-eager.yaml", "walker-100k-ed25519.yaml",
		"walker-100k-fast.yaml", "walker-10k.yaml", "walker-small.yaml"} {
		if s := load(file); !reflect.DeepEqual(s.Community, DefaultCommunity()) || s.Workload != nil {
			t.Errorf("%s: community %+v, workload %+v; want the default and none", file, s.Community, s.Workload)
		}
	}
}

// TestChurnScenarios checks the scenarios with churn: make sim's default
// and the 100,000-peer speed scenario.
func TestChurnScenarios(t *testing.T) {
	for _, c := range []struct {
		file     string
		nodes    int
		messages int
	}{{"sim-10k.yaml", 10000, 300}, {"churn-100k.yaml", 100000, 1000}} {
		s, err := Load(c.file)
		if err != nil {
			t.Fatal(err)
		}
		ch := s.Churn
		if s.Nodes != c.nodes || s.Crypto != CryptoFast || s.Network.Loss != 0.01 || !reflect.DeepEqual(s.NAT.Mix, walkerMix()) ||
			s.Network.Latency.Distribution != DistLognormal || s.Duration != 10*time.Minute {
			t.Errorf("%s: %+v", c.file, s)
		}
		if ch == nil || ch.Session.Distribution != DistWeibull || ch.Downtime.Distribution != DistExponential || !ch.KeepStore {
			t.Errorf("%s: churn %+v", c.file, ch)
		}
		if len(s.Workload) != 1 || s.Workload[0].Publish.Count != c.messages {
			t.Errorf("%s: workload %+v", c.file, s.Workload)
		}
	}
}

// TestSync1k checks every field of the sync convergence scenario, which
// runs the defaults, and what its two comparison runs change.
func TestSync1k(t *testing.T) {
	s, err := Load("sync-1k.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Scenario{
		Name:      "sync-1k",
		Seed:      1,
		Duration:  5 * time.Minute,
		Nodes:     1000,
		Trackers:  1,
		Network:   Network{Latency: Latency{Distribution: DistConstant, Value: 50 * time.Millisecond}},
		NAT:       NAT{Mix: []natmodels.Share{{Profile: "public", Fraction: 1}}},
		Crypto:    CryptoFast,
		Community: DefaultCommunity(),
		Workload: []Event{{At: time.Minute, Line: 14,
			Publish: &Publish{Message: "text", Count: 1, From: FromRandom, Size: DefaultSize}}},
		Metrics: Metrics{Interval: DefaultMetricsInterval},
		File:    "sync-1k.yaml",
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("sync-1k.yaml parsed as\n%+v\nwant\n%+v", s, want)
	}
	for file, keys := range map[string][]string{
		"sync-1k-dispersy.yaml": {"sync_skip_mode=dispersy", "tracker_introduces_public=false"},
		"sync-1k-noskip.yaml":   {"sync_skip=false"},
	} {
		v, err := Load(file)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range v.Protocol {
			got = append(got, o.Key+"="+o.Value.Value)
		}
		if !reflect.DeepEqual(got, keys) {
			t.Errorf("%s: protocol overrides %v, want %v", file, got, keys)
		}
		v.Protocol, v.Name, v.File = nil, s.Name, s.File
		for i := range v.Workload {
			v.Workload[i].Line = s.Workload[i].Line
		}
		if !reflect.DeepEqual(v, s) {
			t.Errorf("%s differs from sync-1k.yaml beyond its protocol block:\n%+v", file, v)
		}
	}
}

// TestDefaultCommunity checks the community of a file without one, and
// that each call returns a fresh copy.
func TestDefaultCommunity(t *testing.T) {
	want := Community{Messages: []Message{{Name: "text", Authentication: AuthMember,
		Distribution: Distribution{Kind: KindFullSync, Priority: 128, Direction: DirAscending},
		Destination:  Destination{Kind: DestCommunity, NodeCount: 10}}}}
	c := DefaultCommunity()
	if !reflect.DeepEqual(c, want) {
		t.Errorf("DefaultCommunity() = %+v, want %+v", c, want)
	}
	c.Messages[0].Name = "changed"
	if DefaultCommunity().Messages[0].Name != "text" {
		t.Error("DefaultCommunity shares its messages between calls")
	}
}

// TestParse checks values and defaults of small valid scenarios.
func TestParse(t *testing.T) {
	public := []natmodels.Share{{Profile: "public", Fraction: 1}}
	def := func(f func(s *Scenario)) Scenario {
		s := Scenario{Name: "t", Seed: 1, Duration: time.Minute, Nodes: 10, Trackers: 1,
			Network: Network{Latency: Latency{Distribution: DistConstant, Value: 50 * time.Millisecond}},
			NAT:     NAT{Mix: public}, Crypto: CryptoEd25519, Community: DefaultCommunity(), File: "t.yaml",
			Metrics: Metrics{Interval: DefaultMetricsInterval}}
		if f != nil {
			f(&s)
		}
		return s
	}
	const head = "name: t\nduration: 1m\nnodes: 10\n"
	tests := []struct {
		name, yaml string
		want       Scenario
	}{
		{"defaults", head, def(nil)},
		{"empty blocks", head + "network:\nnat:\nprotocol:\nworkload:\n", def(nil)},
		{"empty workload", head + "workload: []\n", def(nil)},
		{"network without latency", head + "network: {loss: 0.5}\n", def(func(s *Scenario) { s.Network.Loss = 0.5 })},
		{"loss zero integer", head + "network: {loss: 0}\n", def(nil)},
		{"constant", head + "network: {latency: {distribution: constant, value: 1.5ms}}\n", def(func(s *Scenario) {
			s.Network.Latency = Latency{Distribution: DistConstant, Value: 1500 * time.Microsecond}
		})},
		{"uniform", head + "network:\n  latency:\n    max: 90ms\n    distribution: uniform\n    min: 10ms\n", def(func(s *Scenario) {
			s.Network.Latency = Latency{Distribution: DistUniform, Min: 10 * time.Millisecond, Max: 90 * time.Millisecond}
		})},
		{"uniform min equals max", head + "network: {latency: {distribution: uniform, min: 10ms, max: 10ms}}\n", def(func(s *Scenario) {
			s.Network.Latency = Latency{Distribution: DistUniform, Min: 10 * time.Millisecond, Max: 10 * time.Millisecond}
		})},
		{"lognormal sigma 0", head + "network: {latency: {distribution: lognormal, median: 1s, sigma: 0}}\n", def(func(s *Scenario) {
			s.Network.Latency = Latency{Distribution: DistLognormal, Median: time.Second}
		})},
		{"seed max uint64", head + "seed: 18446744073709551615\n", def(func(s *Scenario) { s.Seed = 1<<64 - 1 })},
		{"seed hex", head + "seed: 0xff\n", def(func(s *Scenario) { s.Seed = 255 })},
		{"seed zero", head + "seed: 0\n", def(func(s *Scenario) { s.Seed = 0 })},
		{"nodes with underscores", "name: t\nduration: 1m\nnodes: 10_000\n", def(func(s *Scenario) { s.Nodes = 10000 })},
		{"trackers", head + "trackers: 3\n", def(func(s *Scenario) { s.Trackers = 3 })},
		{"crypto fast", head + "crypto: fast\n", def(func(s *Scenario) { s.Crypto = CryptoFast })},
		{"quoted duration", "name: t\nduration: \"1m\"\nnodes: 10\n", def(nil)},
		{"nat timeout only", head + "nat: {mapping_timeout: 30s}\n", def(func(s *Scenario) { s.NAT.MappingTimeout = 30 * time.Second })},
		{"mix order kept", head + "nat:\n  mix:\n    symmetric: 0.75\n    cgnat: 0.25\n    public: 0\n", def(func(s *Scenario) {
			s.NAT.Mix = []natmodels.Share{{Profile: "symmetric", Fraction: 0.75}, {Profile: "cgnat", Fraction: 0.25}, {Profile: "public", Fraction: 0}}
		})},
		{"mix within tolerance", head + "nat: {mix: {public: 0.3333333, symmetric: 0.6666666}}\n", def(func(s *Scenario) {
			s.NAT.Mix = []natmodels.Share{{Profile: "public", Fraction: 0.3333333}, {Profile: "symmetric", Fraction: 0.6666666}}
		})},
		{"aliases", "name: t\nduration: 1m\nnodes: 10\nnetwork: {latency: {distribution: constant, value: &v 7ms}}\nnat: {mapping_timeout: *v}\n", def(func(s *Scenario) {
			s.Network.Latency.Value = 7 * time.Millisecond
			s.NAT.MappingTimeout = 7 * time.Millisecond
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse:\n%s\n%v", tt.yaml, err)
			}
			got := *s
			got.Protocol = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse:\n%s\ngot  %+v\nwant %+v", tt.yaml, got, tt.want)
			}
		})
	}
}

// TestParseCommunityWorkload checks values and defaults of the community
// and workload blocks.
func TestParseCommunityWorkload(t *testing.T) {
	const head = "name: t\nduration: 10m\nnodes: 100\n"
	text := DefaultCommunity().Messages[0]
	msg := func(name string, line int, f func(m *Message)) Message {
		m := text
		m.Name, m.Line = name, line
		if f != nil {
			f(&m)
		}
		return m
	}
	community := func(msgs ...Message) Community { return Community{Messages: msgs} }
	pub := func(f func(p *Publish)) *Publish {
		p := &Publish{Message: "text", Count: 1, From: FromRandom, Size: DefaultSize}
		if f != nil {
			f(p)
		}
		return p
	}
	tests := []struct {
		name, yaml string
		community  Community
		workload   []Event
	}{
		{"no blocks", head, DefaultCommunity(), nil},
		{"full-sync defaults", head + "community:\n  messages:\n    - name: text\n      distribution: {kind: full-sync}\n",
			community(msg("text", 6, nil)), nil},
		{"full-sync spelled out", head + "community:\n  messages:\n    - name: a\n      authentication: member\n" +
			"      distribution: {kind: full-sync, sequence_numbers: true, priority: 255, direction: random, pruning: {inactive: 100, pruned: 200}}\n" +
			"      destination: {kind: community, node_count: 0}\n",
			community(msg("a", 6, func(m *Message) {
				m.Distribution = Distribution{Kind: KindFullSync, SequenceNumbers: true, Priority: 255, Direction: DirRandom,
					Pruning: &Pruning{Inactive: 100, Pruned: 200}}
				m.Destination.NodeCount = 0
			})), nil},
		{"last-sync", head + "community:\n  messages:\n    - name: status\n      distribution: {kind: last-sync, history_size: 1, priority: 0, direction: descending}\n",
			community(msg("status", 6, func(m *Message) {
				m.Distribution = Distribution{Kind: KindLastSync, HistorySize: 1, Priority: 0, Direction: DirDescending}
			})), nil},
		{"direct", head + "community:\n  messages:\n    - name: ping\n      authentication: none\n      distribution: {kind: direct}\n" +
			"    - name: pong\n      distribution: {kind: direct}\n      destination: {kind: candidate}\n",
			community(
				msg("ping", 6, func(m *Message) {
					m.Authentication = AuthNone
					m.Distribution = Distribution{Kind: KindDirect}
					m.Destination = Destination{Kind: DestCandidate}
				}),
				msg("pong", 9, func(m *Message) {
					m.Distribution = Distribution{Kind: KindDirect}
					m.Destination = Destination{Kind: DestCandidate}
				})), nil},
		{"flow items and names", head + "community: {messages: [{name: \"0\", distribution: {kind: full-sync}}, {name: a-b_c, distribution: {kind: full-sync}}]}\n",
			community(msg("0", 4, nil), msg("a-b_c", 4, nil)), nil},
		{"longest name", head + "community:\n  messages:\n    - {name: " + strings.Repeat("x", 64) + ", distribution: {kind: full-sync}}\n",
			community(msg(strings.Repeat("x", 64), 6, nil)), nil},
		{"dispersy without dash", head + "community:\n  messages:\n    - {name: dispersy, distribution: {kind: full-sync}}\n",
			community(msg("dispersy", 6, nil)), nil},
		{"publish defaults", head + "workload:\n  - at: 0s\n    publish: {message: text, count: 1}\n",
			DefaultCommunity(), []Event{{At: 0, Line: 5, Publish: pub(nil)}}},
		{"publish spelled out", head + "workload:\n  - at: 9m59s\n    publish: {message: text, count: 100, from: 99, rate: 10/s, size: 1000}\n",
			DefaultCommunity(), []Event{{At: 9*time.Minute + 59*time.Second, Line: 5, Publish: pub(func(p *Publish) {
				p.Count, p.From, p.Rate, p.Size = 100, 99, 10, 1000
			})}}},
		{"rates", head + "workload:\n" +
			"  - {at: 1s, publish: {message: text, count: 1, rate: 0.5/s}}\n" +
			"  - {at: 2s, publish: {message: text, count: 1, rate: 600/m}}\n" +
			"  - {at: 3s, publish: {message: text, count: 1, rate: 2.5}}\n" +
			"  - {at: 4s, publish: {message: text, count: 1, rate: 7}}\n" +
			"  - {at: 5s, publish: {message: text, count: 1, rate: all}}\n" +
			"  - {at: 6s, publish: {message: text, count: 1, rate: 0, from: random, size: 0}}\n",
			DefaultCommunity(), []Event{
				{At: 1 * time.Second, Line: 5, Publish: pub(func(p *Publish) { p.Rate = 0.5 })},
				{At: 2 * time.Second, Line: 6, Publish: pub(func(p *Publish) { p.Rate = 10 })},
				{At: 3 * time.Second, Line: 7, Publish: pub(func(p *Publish) { p.Rate = 2.5 })},
				{At: 4 * time.Second, Line: 8, Publish: pub(func(p *Publish) { p.Rate = 7 })},
				{At: 5 * time.Second, Line: 9, Publish: pub(nil)},
				{At: 6 * time.Second, Line: 10, Publish: pub(func(p *Publish) { p.Size = 0 })},
			}},
		{"workload before community, file order kept", head + "workload:\n" +
			"  - {at: 2m, publish: {message: news, count: 2}}\n" +
			"  - {at: 1m, publish: {message: status, count: 3, from: 0}}\n" +
			"community:\n  messages:\n" +
			"    - {name: status, distribution: {kind: last-sync, history_size: 2}}\n" +
			"    - {name: news, distribution: {kind: full-sync}}\n",
			community(
				msg("status", 9, func(m *Message) {
					m.Distribution = Distribution{Kind: KindLastSync, HistorySize: 2, Priority: 128, Direction: DirAscending}
				}),
				msg("news", 10, nil)),
			[]Event{
				{At: 2 * time.Minute, Line: 5, Publish: pub(func(p *Publish) { p.Message, p.Count = "news", 2 })},
				{At: time.Minute, Line: 6, Publish: pub(func(p *Publish) { p.Message, p.Count, p.From = "status", 3, 0 })},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse:\n%s\n%v", tt.yaml, err)
			}
			if !reflect.DeepEqual(s.Community, tt.community) {
				t.Errorf("Parse:\n%s\ncommunity %+v\nwant      %+v", tt.yaml, s.Community, tt.community)
			}
			if !reflect.DeepEqual(s.Workload, tt.workload) {
				t.Errorf("Parse:\n%s\nworkload %+v\nwant     %+v", tt.yaml, s.Workload, tt.workload)
			}
		})
	}
}

// TestParseMaxMessages checks that exactly MaxMessages message types fit.
func TestParseMaxMessages(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: t\nduration: 1m\nnodes: 1\ncommunity:\n  messages:\n")
	for i := range MaxMessages {
		fmt.Fprintf(&b, "    - {name: m%d, distribution: {kind: full-sync}}\n", i)
	}
	s, err := Parse("t.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Community.Messages); n != MaxMessages || s.Community.Messages[MaxMessages-1].Name != "m199" {
		t.Errorf("parsed %d messages, last %+v", n, s.Community.Messages[n-1])
	}
}

// TestParseErrorValue checks the fields of an *Error.
func TestParseErrorValue(t *testing.T) {
	_, err := Parse("walker.yaml", []byte("name: w\nduration: 1m\nnodes: 3\nnetwork:\n  latency:\n    distribution: lognormal\n    median: 6o ms\n    sigma: 1\n"))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Parse error %v is no *Error", err)
	}
	want := Error{File: "walker.yaml", Line: 7, Column: 13, Key: "network.latency.median", Msg: e.Msg}
	if *e != want || !strings.Contains(e.Msg, `invalid duration "6o ms"`) {
		t.Errorf("error %+v, want %+v", *e, want)
	}
	if got, want := err.Error(), `walker.yaml:7: network.latency.median: invalid duration "6o ms"`; !strings.HasPrefix(got, want) {
		t.Errorf("error text %q, want prefix %q", got, want)
	}
}

// TestLoadMissingFile checks that a read error is wrapped.
func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.yaml"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

// TestRoundTrip checks that Marshal output parses back to the same scenario.
func TestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	inputs := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = string(data)
	}
	inputs["uniform"] = "name: \"123\"\nseed: 18446744073709551615\nduration: 1h2m3.5s\nnodes: 7\ncrypto: fast\n" +
		"network: {latency: {distribution: uniform, min: 1ns, max: 2s}, loss: 1e-7}\n" +
		"nat: {mix: {cgnat: 0.1, linux-masquerade: 0.9}}\n" +
		"protocol: {a: 'true', b: true, c: -3, d: 1.5e3, e: \"x y\", f: 10s}\n"
	inputs["constant"] = "name: c\nduration: 1m\nnodes: 1\nnetwork: {latency: {distribution: constant, value: 3ms}}\n"
	inputs["community"] = "name: c\nduration: 1h\nnodes: 50\ncommunity:\n  messages:\n" +
		"    - {name: \"yes\", distribution: {kind: full-sync, sequence_numbers: true, priority: 0, direction: random}}\n" +
		"    - {name: \"1\", distribution: {kind: last-sync, history_size: 3, direction: descending, pruning: {inactive: 1, pruned: 18446744073709551615}}}\n" +
		"    - {name: n-_9, distribution: {kind: full-sync, pruning: {inactive: 5, pruned: 6}}, destination: {kind: community, node_count: 0}}\n" +
		"    - {name: ping, authentication: none, distribution: {kind: direct}}\n" +
		"    - {name: pong, distribution: {kind: direct}, destination: {kind: candidate}}\n" +
		"workload:\n" +
		"  - {at: 0s, publish: {message: \"1\", count: 1}}\n" +
		"  - {at: 59m59.999999999s, publish: {message: ping, count: 9, from: 49, rate: 1/m, size: 0}}\n" +
		"  - {at: 10s, publish: {message: \"yes\", count: 100, from: 0, rate: 0.5, size: 1000}}\n" +
		"  - {at: 10s, publish: {message: pong, count: 2, rate: 1e-300}}\n" +
		"  - {at: 10s, publish: {message: pong, count: 2, rate: all}}\n"
	inputs["churn-timeline"] = "name: c\nduration: 1h\nnodes: 50\n" +
		"churn: {session: {distribution: weibull, shape: 0.4, scale: 7m}, downtime: {distribution: pareto, shape: 1.1, scale: 1s}, start: 1m, fraction: 0.5, keep_store: false}\n" +
		"metrics: {interval: 1m30s}\n" +
		"timeline:\n" +
		"  - {at: 1m, partition: {groups: [0.1, 0.9]}}\n" +
		"  - {at: 2m, heal: {}}\n" +
		"  - {at: 3m, crash: {count: 3, for: 10s}}\n" +
		"  - {at: 3m, crash: {fraction: 0.5}}\n" +
		"  - {at: 4m, join: {nodes: 9, over: 1s, mix: {cgnat: 0.5, public: 0.5}}}\n" +
		"  - {at: 5m, join: {nodes: 1}}\n" +
		"  - {at: 6m, set: {loss: 0.25, latency: {distribution: uniform, min: 1ms, max: 2ms}}}\n" +
		"  - {at: 7m, set: {latency: {distribution: lognormal, median: 1ms, sigma: 0.1}}}\n" +
		"  - {at: 8m, publish: {message: text, count: 2}}\n"
	inputs["churn-lognormal"] = "name: c\nduration: 1h\nnodes: 50\n" +
		"churn: {session: {distribution: lognormal, median: 7m, sigma: 1}, downtime: {distribution: constant, value: 1s}}\n"
	inputs["churn-exponential"] = "name: c\nduration: 1h\nnodes: 50\n" +
		"churn: {session: {distribution: exponential, mean: 7m}, downtime: {distribution: exponential, mean: 1s}}\n"
	inputs["permissions"] = permissionsScenario
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			a, err := Parse(name, []byte(in))
			if err != nil {
				t.Fatal(err)
			}
			out, err := a.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse(name, out)
			if err != nil {
				t.Fatalf("Marshal output does not parse: %v\n%s", err, out)
			}
			if len(a.Protocol) != len(b.Protocol) {
				t.Fatalf("overrides %+v became %+v", a.Protocol, b.Protocol)
			}
			for i := range a.Protocol {
				x, y := a.Protocol[i], b.Protocol[i]
				if x.Key != y.Key || x.Value.Value != y.Value.Value || x.Value.ShortTag() != y.Value.ShortTag() {
					t.Errorf("override %s: %s %q became %s: %s %q", x.Key, x.Value.ShortTag(), x.Value.Value, y.Key, y.Value.ShortTag(), y.Value.Value)
				}
			}
			a.Protocol, b.Protocol = nil, nil
			for _, s := range []*Scenario{a, b} {
				for i := range s.Community.Messages {
					s.Community.Messages[i].Line = 0
				}
				for i := range s.Workload {
					s.Workload[i].Line = 0
				}
				if s.Permissions != nil {
					for i := range s.Permissions.Grants {
						s.Permissions.Grants[i].Line = 0
					}
				}
				for i := range s.Timeline {
					s.Timeline[i].Line = 0
				}
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("round trip changed the scenario:\n%+v\n%+v\nvia\n%s", a, b, out)
			}
		})
	}
}

// TestSnakeCase checks the Go-name to key mapping.
func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"WalkInterval":        "walk_interval",
		"EagerPuncture":       "eager_puncture",
		"IntroRequestTimeout": "intro_request_timeout",
		"MaxUDPSize":          "max_udp_size",
		"TTL":                 "ttl",
		"Bloom2Size":          "bloom2_size",
		"X":                   "x",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}
