// Package scenarios reads scenario files: YAML documents that describe one
// simulation run (how many peers, for how long, over what network, behind
// which NATs, with which protocol settings).
//
// This is version 0 of the language:
//
//	name: walker-10k      # required; letters, digits, '.', '_', '-'
//	seed: 1               # optional uint64, default 1
//	duration: 10m         # required, virtual time, Go duration syntax, > 0
//	nodes: 10000          # required, >= 1
//	trackers: 1           # optional, >= 1, default 1
//	network:              # optional; default constant 50ms latency, no loss
//	  latency: {distribution: lognormal, median: 60ms, sigma: 0.5}
//	           # or {distribution: constant, value: D}
//	           # or {distribution: uniform, min: D, max: D}
//	  loss: 0.01          # in [0, 1), default 0
//	nat:                  # optional; default every peer public
//	  mix: {public: 0.2, symmetric: 0.8}   # natmodels.ProfileNames, summing to 1
//	  mapping_timeout: 60s                 # optional, > 0; else each preset's own
//	crypto: ed25519       # ed25519 (default) or fast
//	protocol: {walk_interval: 5s}          # see Scenario.ApplyOverrides
//
// Later versions only add keys (blocks such as community: or workload:), so
// every version-0 file stays valid. Keys are case-sensitive; unknown and
// duplicate keys are errors at every level.
//
// Every error names the file, the line and the dotted key path, as in
//
//	walker.yaml:7: network.latency.median: invalid duration "6o ms" (...)
//
// and Parse reports all the errors it finds, in file order, joined with
// errors.Join; each one is an *Error.
package scenarios

import (
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dispersy-go/dispersy/natmodels"
)

// Values taken when a scenario file leaves the key out.
const (
	// DefaultSeed is the seed when the file has no seed key.
	DefaultSeed uint64 = 1
	// DefaultTrackers is the number of trackers when the file has no trackers key.
	DefaultTrackers = 1
	// DefaultLatency is the constant one-way latency when the file has no
	// network block or a network block without latency.
	DefaultLatency = 50 * time.Millisecond
	// DefaultCrypto is the crypto when the file has no crypto key.
	DefaultCrypto = CryptoEd25519
	// DefaultProfile is the NAT profile every peer gets when the file has no
	// nat block or a nat block without mix.
	DefaultProfile = "public"
)

// Crypto names accepted by the crypto key.
const (
	// CryptoEd25519 signs with Ed25519 keys, as the real protocol does.
	CryptoEd25519 = "ed25519"
	// CryptoFast replaces signatures with a keyed 64-bit hash, for scale
	// runs. It is used only when a file asks for it by name.
	CryptoFast = "fast"
)

// Latency distributions accepted by network.latency.distribution.
const (
	// DistConstant is a fixed latency: Latency.Value.
	DistConstant = "constant"
	// DistUniform is uniform on [Latency.Min, Latency.Max].
	DistUniform = "uniform"
	// DistLognormal is exp(N(ln Latency.Median, Latency.Sigma²)).
	DistLognormal = "lognormal"
)

// Scenario is one parsed scenario file, with defaults filled in.
type Scenario struct {
	// Name identifies the scenario; it is never empty.
	Name string
	// Seed seeds every random stream of the run; a --seed flag overrides it.
	Seed uint64
	// Duration is the virtual time the run lasts; it is > 0.
	Duration time.Duration
	// Nodes is the number of peers; it is > 0.
	Nodes int
	// Trackers is the number of bootstrap trackers on public addresses; it is >= 1.
	Trackers int
	// Network is the latency and loss of every packet.
	Network Network
	// NAT says which NAT profiles the peers are behind.
	NAT NAT
	// Crypto is CryptoEd25519 or CryptoFast.
	Crypto string
	// Protocol holds the overrides of the protocol block in file order; see
	// ApplyOverrides.
	Protocol []Override
	// File is the path the scenario was loaded from, as used in messages.
	File string
}

// Network is how the simulated network treats each packet.
type Network struct {
	// Latency is the one-way delay of a packet.
	Latency Latency
	// Loss is the probability, in [0, 1), that a packet is dropped.
	Loss float64
}

// Latency is a distribution of one-way delays. Only the fields of its
// Distribution are set: Value for DistConstant, Min and Max for DistUniform,
// Median and Sigma for DistLognormal. All durations set are > 0.
type Latency struct {
	// Distribution is DistConstant, DistUniform or DistLognormal.
	Distribution string
	// Value is the delay of DistConstant.
	Value time.Duration
	// Min and Max bound DistUniform; Min <= Max.
	Min, Max time.Duration
	// Median is the median of DistLognormal.
	Median time.Duration
	// Sigma is the standard deviation of the log of DistLognormal's delay; it is >= 0.
	Sigma float64
}

// NAT says which NAT profiles the peers are behind.
type NAT struct {
	// Mix gives the fraction of peers behind each profile (a name from
	// natmodels.ProfileNames), in file order. The fractions are >= 0 and
	// sum to 1 within 1e-6. Without a mix in the file it is all DefaultProfile.
	Mix []natmodels.Share
	// MappingTimeout overrides the idle timeout of NAT mappings; zero means
	// each profile's own default.
	MappingTimeout time.Duration
}

// Override is one key of the protocol block: a setting of protocol.Config
// named by its snake_case field name. ApplyOverrides sets it.
type Override struct {
	// Key is the snake_case field name, e.g. walk_interval.
	Key string
	// Value is the scalar YAML node of the value (aliases resolved).
	Value *yaml.Node
	// Line is the line of Key in the file.
	Line int
}

// Load reads and parses the scenario file at path. Its errors name path.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	return Parse(path, data)
}

// Parse parses the scenario in data; file names it in errors and becomes
// Scenario.File. On any problem it returns a nil Scenario and all the
// problems found, in file order, joined by errors.Join; each is an *Error.
func Parse(file string, data []byte) (*Scenario, error) {
	p := &parser{problems{file: file}}
	s := p.parse(data)
	if err := p.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// defaults returns a Scenario with every optional field at its default.
func defaults(file string) *Scenario {
	return &Scenario{
		Seed:     DefaultSeed,
		Trackers: DefaultTrackers,
		Network:  Network{Latency: Latency{Distribution: DistConstant, Value: DefaultLatency}},
		NAT:      NAT{Mix: []natmodels.Share{{Profile: DefaultProfile, Fraction: 1}}},
		Crypto:   DefaultCrypto,
		File:     file,
	}
}
