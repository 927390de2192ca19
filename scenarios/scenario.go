// Package scenarios reads scenario files: YAML documents that describe one
// simulation run (how many peers, for how long, over what network, behind
// which NATs, with which protocol settings, exchanging which messages).
//
// This is version 3 of the language (permissions.go has its permission
// keys):
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
//	community:            # optional; default DefaultCommunity
//	  messages:           # required, 1 to 200 types: wire type bytes 1, 2, ... in order
//	    - name: text      # required, unique; a-z, 0-9, '_', '-'; not dispersy-*
//	      authentication: member           # member (default), or none (direct only)
//	      distribution: {kind: full-sync, sequence_numbers: false, priority: 128, direction: ascending}
//	           # or {kind: last-sync, history_size: N, priority: P, direction: D}
//	           # (both sync kinds also take pruning: {inactive: N, pruned: M})
//	           # or {kind: direct}
//	      destination: {kind: community, node_count: 10}   # sync kinds (default)
//	           # or {kind: candidate}                        # direct (default)
//	workload:             # optional; events in file order
//	  - at: 30s           # required, >= 0 and < duration
//	    publish: {message: text, count: 100, from: random, rate: 10/s, size: 100}
//	timeline:             # optional; like workload, with more actions
//	  - {at: 2m, partition: {groups: [0.5, 0.5]}}   # fractions of peers, 2 to 255 groups
//	  - {at: 5m, heal: {}}                          # needs a partition before it
//	  - {at: 6m, crash: {fraction: 0.2, for: 1m}}   # or {count: N}; without for: for good
//	  - {at: 7m, join: {nodes: 1000, over: 30s, mix: {public: 1}}}   # mix: default the nat mix
//	  - {at: 8m, set: {loss: 0.05, latency: {distribution: constant, value: 80ms}}}
//	  - {at: 9m, publish: {message: text, count: 1}}
//	churn:                # optional: peers go down and come back (trackers never)
//	  session: {distribution: weibull, shape: 0.5, scale: 30m}
//	           # or {distribution: exponential, mean: D}, {distribution: pareto, shape: A, scale: D},
//	           # {distribution: lognormal, median: D, sigma: S}, {distribution: constant, value: D}
//	  downtime: {distribution: exponential, mean: 5m}
//	  start: 0s           # optional, < duration: no peer leaves before
//	  fraction: 1         # optional, (0, 1]: the share of peers that churn
//	  keep_store: true    # optional: a peer that comes back keeps its messages
//	  # or instead of session and downtime: trace: FILE.csv (see ParseTrace),
//	  # relative to the scenario file's directory
//	metrics: {interval: 10s}   # optional: the period of the run's time series
//
// Version 0 was the same without the community and workload blocks,
// version 1 without the timeline, churn and metrics blocks, version 2
// without the permission keys, and later versions only add keys, so every
// earlier file stays valid. Keys are
// case-sensitive; unknown and duplicate keys are errors at every level.
//
// Every error names the file, the line and the key path, with list items
// numbered from 0, as in
//
//	walker.yaml:7: network.latency.median: invalid duration "6o ms" (...)
//	walker.yaml:19: workload[1].publish.from: node index 10000 is out of range (...)
//	trace.csv:7: down_at: session ends at 30s, not after it starts (up_at 1m)
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
	// Community is the message types the peers' community uses; it is
	// DefaultCommunity() when the file has no community block.
	Community Community
	// Workload is the events of the workload block in file order; nil
	// without one. They only publish.
	Workload []Event
	// Timeline is the events of the timeline block in file order; nil
	// without one. Events at the same time happen in file order, the
	// workload's before the timeline's.
	Timeline []Event
	// Churn, if not nil, makes peers go down and come back.
	Churn *Churn
	// Metrics says how the run samples its time series.
	Metrics Metrics
	// Permissions is the permissions block; nil without one (see
	// permissions.go).
	Permissions *Permissions
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

// Limits and defaults of the community block.
const (
	// MaxMessages is the most message types a community may have: they take
	// the wire type bytes 1 to MaxMessages, in list order.
	MaxMessages = 200
	// MaxMessageName is the longest message name, in bytes.
	MaxMessageName = 64
	// ReservedPrefix starts the names of Dispersy's own messages, which a
	// scenario may not use.
	ReservedPrefix = "dispersy-"
	// DefaultPriority is the priority of a sync message without one.
	DefaultPriority = 128
	// DefaultNodeCount is the number of peers a message to the community
	// is sent to when its destination leaves node_count out.
	DefaultNodeCount = 10
	// DefaultMessage is the name of the one message of DefaultCommunity.
	DefaultMessage = "text"
)

// Authentication policies accepted by authentication.
const (
	// AuthMember signs each message with its author's member key.
	AuthMember = "member"
	// AuthNone leaves messages unsigned; only KindDirect allows it.
	AuthNone = "none"
)

// Distribution kinds accepted by distribution.kind.
const (
	// KindFullSync keeps every message and synchronises all of them.
	KindFullSync = "full-sync"
	// KindLastSync keeps and synchronises only the last HistorySize
	// messages of each member.
	KindLastSync = "last-sync"
	// KindDirect sends a message once and keeps nothing.
	KindDirect = "direct"
)

// Synchronisation directions accepted by distribution.direction: the order
// in which a sync kind's messages are offered to peers.
const (
	// DirAscending offers the oldest global times first.
	DirAscending = "ascending"
	// DirDescending offers the newest global times first.
	DirDescending = "descending"
	// DirRandom offers messages in random order.
	DirRandom = "random"
)

// Destination kinds accepted by destination.kind.
const (
	// DestCommunity sends to Destination.NodeCount peers of the community;
	// the sync kinds need it.
	DestCommunity = "community"
	// DestCandidate sends to one chosen peer; KindDirect needs it.
	DestCandidate = "candidate"
)

// Limits and defaults of the workload block.
const (
	// FromRandom is Publish.From when each message comes from a peer chosen
	// at random (from: random, the default).
	FromRandom = -1
	// DefaultSize is the payload size of a publish without size.
	DefaultSize = 100
	// MaxSize is the largest payload a publish may ask for, in bytes.
	MaxSize = 1000
)

// Community is the set of message types the peers exchange.
type Community struct {
	// Messages lists the message types in file order; message i has wire
	// type byte i+1. It holds 1 to MaxMessages messages with distinct names.
	Messages []Message
}

// Message is one message type of the community, with Dispersy's policies.
type Message struct {
	// Name identifies the message: lower-case letters, digits, '_' and '-',
	// starting with a letter or digit, at most MaxMessageName bytes, not
	// starting with ReservedPrefix.
	Name string
	// Authentication is AuthMember or AuthNone.
	Authentication string
	// Distribution says how the message spreads and is kept.
	Distribution Distribution
	// Destination says whom the message is sent to.
	Destination Destination
	// Resolution is ResLinear or ResDynamic; empty is public (the default).
	Resolution string
	// Policies are a ResDynamic type's policies (ResPublic or ResLinear).
	Policies []string
	// Undo lets messages of the type be undone.
	Undo bool
	// Line is the line of the message's list item in the file, for messages
	// at run time; 0 for DefaultCommunity.
	Line int
}

// Distribution is a message's distribution policy. Only the fields of its
// Kind are set, the others are zero: SequenceNumbers for KindFullSync,
// HistorySize for KindLastSync, and Priority, Direction and Pruning for
// both of them. KindDirect has none.
type Distribution struct {
	// Kind is KindFullSync, KindLastSync or KindDirect.
	Kind string
	// SequenceNumbers numbers each member's messages 1, 2, ... (KindFullSync).
	SequenceNumbers bool
	// Priority orders message types in synchronisation, 0 to 255; default
	// DefaultPriority.
	Priority int
	// Direction is DirAscending (the default), DirDescending or DirRandom.
	Direction string
	// HistorySize is how many messages per member KindLastSync keeps; >= 1.
	HistorySize int
	// Pruning, if not nil, drops messages by age.
	Pruning *Pruning
}

// Pruning drops a sync message by age, in global time: it goes inactive
// (no longer offered in synchronisation) when Inactive old and is deleted
// when Pruned old; 0 < Inactive < Pruned.
type Pruning struct {
	// Inactive is the age at which the message stops being synchronised.
	Inactive uint64
	// Pruned is the age at which the message is deleted.
	Pruned uint64
}

// Destination is a message's destination policy.
type Destination struct {
	// Kind is DestCommunity or DestCandidate.
	Kind string
	// NodeCount is how many peers a DestCommunity message is sent to when
	// created; >= 0, default DefaultNodeCount. Zero for DestCandidate.
	NodeCount int
}

// DefaultCommunity returns the community of a file without a community
// block: one full-sync message named DefaultMessage, signed by its member,
// without sequence numbers, at DefaultPriority, ascending, sent to
// DefaultNodeCount peers of the community.
func DefaultCommunity() Community {
	return Community{Messages: []Message{{
		Name:           DefaultMessage,
		Authentication: AuthMember,
		Distribution:   Distribution{Kind: KindFullSync, Priority: DefaultPriority, Direction: DirAscending},
		Destination:    Destination{Kind: DestCommunity, NodeCount: DefaultNodeCount},
	}}}
}

// Event is one event of the workload or the timeline: at virtual time At,
// the one action that is not nil happens. Workload events publish or act
// on permissions; timeline events publish or change the network.
type Event struct {
	// At is the virtual time of the event; 0 <= At < Scenario.Duration.
	At time.Duration
	// Publish, if not nil, has peers create messages.
	Publish *Publish
	// Partition, if not nil, cuts the network into groups.
	Partition *Partition
	// Heal, if not nil, ends the partition.
	Heal *Heal
	// Crash, if not nil, takes peers down.
	Crash *Crash
	// Join, if not nil, adds peers.
	Join *Join
	// Set, if not nil, changes loss or latency.
	Set *Set
	// Authorize, Revoke, Undo, SetPolicy and Destroy are the permission
	// actions (permissions.go).
	Authorize, Revoke *Grant
	Undo              *Undo
	SetPolicy         *SetPolicy
	Destroy           *Destroy
	// Line is the line of the event's list item in the file.
	Line int
}

// Publish has peers create Count messages of one type.
type Publish struct {
	// Message is the Name of a message of Scenario.Community.
	Message string
	// Count is how many messages are created; >= 1.
	Count int
	// From is the index, 0 to Scenario.Nodes-1, of the peer that creates
	// them, or FromRandom for a peer chosen at random for each message.
	From int
	// Rate is how many messages are created per second of virtual time,
	// > 0; 0 creates them all at once, at Event.At.
	Rate float64
	// Size is the payload size of each message in bytes, 0 to MaxSize;
	// default DefaultSize.
	Size int
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
		Seed:      DefaultSeed,
		Trackers:  DefaultTrackers,
		Network:   Network{Latency: Latency{Distribution: DistConstant, Value: DefaultLatency}},
		NAT:       NAT{Mix: []natmodels.Share{{Profile: DefaultProfile, Fraction: 1}}},
		Crypto:    DefaultCrypto,
		Community: DefaultCommunity(),
		Metrics:   Metrics{Interval: DefaultMetricsInterval},
		File:      file,
	}
}
