package protocol

import (
	"errors"
	"fmt"
	"time"
)

// Config holds every constant the protocol uses. DefaultConfig gives
// Dispersy's values; scenarios override fields by their snake_case names.
type Config struct {
	// WalkInterval is the time between two walk steps (TAKE_STEP_INTERVAL).
	WalkInterval time.Duration
	// WalkLifetime keeps a candidate in the walk category after its last reply.
	WalkLifetime time.Duration
	// StumbleLifetime keeps a candidate in the stumble category after its last request.
	StumbleLifetime time.Duration
	// IntroLifetime keeps a candidate in the intro category after it was introduced.
	IntroLifetime time.Duration
	// DiscoveredLifetime keeps a candidate in the discovered category (trackers).
	DiscoveredLifetime time.Duration
	// EligibleDelay is how long after walking to a candidate it may be walked to again.
	EligibleDelay time.Duration
	// WalkShare is the probability of walking to the oldest walk candidate.
	WalkShare float64
	// StumbleIntroShare is the probability of walking to a stumble or intro
	// candidate (split evenly between the two); the rest goes to discovered ones.
	StumbleIntroShare float64
	// IntroRequestTimeout is how long a walk waits for its response.
	IntroRequestTimeout time.Duration
	// TrackerInsertInterval re-inserts the bootstrap trackers as discovered
	// candidates (Dispersy's DiscoveryCommunity does it every 300 s).
	TrackerInsertInterval time.Duration
	// TrackerRetryInterval re-inserts the trackers after a step that found
	// no candidate at all (60 s in Dispersy).
	TrackerRetryInterval time.Duration
	// StartJitter spreads the first walk step uniformly over [0, StartJitter).
	StartJitter time.Duration
	// EagerPuncture is an improvement over Dispersy: the walker also punctures
	// toward the introduced node as soon as the introduction-response names
	// it, both sides answer a puncture from an address they have not sent to,
	// and a puncture that finds no answer is retried once.
	EagerPuncture bool
	// PunctureRetryDelay is how long an eager puncture waits for an answer
	// before its one retry.
	PunctureRetryDelay time.Duration
	// PunctureStateLifetime is how long eager-puncture state is kept.
	PunctureStateLifetime time.Duration
	// FastWalker enables Dispersy's fast candidate walker (off by default in
	// Dispersy): at start, every FastWalkerInterval for up to FastWalkerSteps
	// ticks, send a sync-less introduction-request to every candidate that
	// will be eligible within the next 20–27.5 s (scaled with EligibleDelay),
	// until more than FastWalkerTarget candidates are verified.
	FastWalker bool
	// FastWalkerInterval is the fast walker's tick (2 s in Dispersy).
	FastWalkerInterval time.Duration
	// FastWalkerSteps bounds the number of fast ticks (15 in Dispersy).
	FastWalkerSteps int
	// FastWalkerTarget ends the fast walk once more candidates are verified (15).
	FastWalkerTarget int
	// TrackerIntroducesPublic is an improvement over Dispersy: a tracker
	// answers a requester that does not report a public connection type
	// with a stumble candidate that does, when one is among the next
	// trackerPublicScan of its round-robin, and with Dispersy's
	// round-robin pick otherwise. Peers that walk to a tracker often are
	// the poorly connected ones, so Dispersy's pick, drawn from them, is
	// mostly a symmetric or port-restricted peer that a NATed newcomer
	// cannot reach; a public one it always reaches.
	TrackerIntroducesPublic bool
	// MaxCandidates caps a non-tracker node's candidate table; the oldest
	// obsolete-soon entries are evicted first. 0 means no cap.
	MaxCandidates int

	// SyncBloomBits is the size of a sync bloom filter, a multiple of 64.
	// Dispersy sizes it to fill one 1,500-byte datagram: (1500 - 60 IP -
	// 8 UDP - 65 header - 64 signature - 21 payload - 24 sync header) bytes,
	// rounded down to whole 64-bit words: 10,048 bits. It does not depend
	// on the crypto in use, so fast and ed25519 runs sync alike.
	SyncBloomBits int
	// SyncBloomErrorRate is the filters' design false-positive rate; with
	// SyncBloomBits it fixes the capacity (1,048 packets) and k (7).
	SyncBloomErrorRate float64
	// SyncBloomFit is an improvement over Dispersy: a filter is sized to the
	// packets it holds (at SyncBloomErrorRate, at least 64 bits) instead of
	// always SyncBloomBits, which saves most of the request bytes while
	// stores are small.
	SyncBloomFit bool
	// SyncResponseLimit is how many bytes of packets one sync request is
	// answered with; the packet that crosses it is still sent (5 KiB).
	SyncResponseLimit int
	// SyncCacheReuse is how often a filter that brought responses is sent
	// again before a new one is built (100).
	SyncCacheReuse int
	// SyncSkip enables Dispersy's skip curve: after filters that brought
	// nothing, requests go without a sync block with a probability rising
	// from 0 to 0.9.
	SyncSkip bool
	// SyncSkipMode says what wakes a node whose pulls skip: SkipWake (the
	// default) or SkipDispersy (nothing but a filter that brings packets).
	SyncSkipMode SkipMode
	// MissingSequenceLimit is how many bytes answer the missing-sequence
	// requests of one candidate (10 KiB).
	MissingSequenceLimit int
	// MissingSequenceDelay is the batch window in which missing-sequence
	// requests are collected and merged before they are answered (0.1 s).
	MissingSequenceDelay time.Duration
	// DelayedLifetime is how long a message waiting for a sequence gap to
	// fill is kept (10 s).
	DelayedLifetime time.Duration
	// AcceptableGlobalTimeRange is how far beyond max(own global time,
	// median of the verified candidates' global times) a message's global
	// time may be (10,000).
	AcceptableGlobalTimeRange uint64
	// AcceptableGlobalTimeCache is how long the acceptable global time is
	// reused before it is computed again (5 s).
	AcceptableGlobalTimeCache time.Duration
	// SignatureRequestTimeout is how long a request for the co-signature
	// of a double-signed message waits for its response (10 s).
	SignatureRequestTimeout time.Duration
}

// SkipMode names how the skip curve is woken (Config.SyncSkipMode).
type SkipMode string

const (
	// SkipWake keeps the skip curve's saving while a community is idle and
	// wakes the pull as soon as there is something to fetch, within
	// Dispersy's message set:
	//
	//   - a responder answers an introduction-request whose header global
	//     time is below its own with its synced packets newer than that
	//     time (which the requester cannot hold) that the request's sync
	//     block does not cover: all of them when it carries none;
	//   - a node resets its skip curve when it stores a synced message it
	//     received, and when a verified candidate's introduction-request or
	//     -response carries a global time above its own.
	//
	// In an idle community every node has the same global time and nothing
	// is stored, so nothing of it happens and the curve saves as Dispersy's.
	SkipWake SkipMode = "wake"
	// SkipDispersy is Dispersy's skip curve as it is: only a filter that
	// brought packets resets it, and a request without a sync block is not
	// answered with packets.
	SkipDispersy SkipMode = "dispersy"
)

// wake reports whether the skip curve is woken (SkipWake).
func (c *Config) wake() bool { return c.SyncSkipMode == SkipWake }

// DefaultConfig returns Dispersy's constants, with SyncSkipMode SkipWake.
func DefaultConfig() Config {
	return Config{
		WalkInterval:            5 * time.Second,
		WalkLifetime:            57500 * time.Millisecond,
		StumbleLifetime:         57500 * time.Millisecond,
		IntroLifetime:           27500 * time.Millisecond,
		DiscoveredLifetime:      57500 * time.Millisecond,
		EligibleDelay:           27500 * time.Millisecond,
		WalkShare:               0.475,
		StumbleIntroShare:       0.475,
		IntroRequestTimeout:     10500 * time.Millisecond,
		TrackerInsertInterval:   300 * time.Second,
		TrackerRetryInterval:    60 * time.Second,
		StartJitter:             5 * time.Second,
		EagerPuncture:           false,
		PunctureRetryDelay:      2 * time.Second,
		PunctureStateLifetime:   30 * time.Second,
		FastWalker:              false,
		FastWalkerInterval:      2 * time.Second,
		FastWalkerSteps:         15,
		FastWalkerTarget:        15,
		TrackerIntroducesPublic: true,
		MaxCandidates:           0,

		SyncBloomBits:             10048,
		SyncBloomErrorRate:        0.01,
		SyncBloomFit:              false,
		SyncResponseLimit:         5 * 1024,
		SyncCacheReuse:            100,
		SyncSkip:                  true,
		SyncSkipMode:              SkipWake,
		MissingSequenceLimit:      10 * 1024,
		MissingSequenceDelay:      100 * time.Millisecond,
		DelayedLifetime:           10 * time.Second,
		AcceptableGlobalTimeRange: 10000,
		AcceptableGlobalTimeCache: 5 * time.Second,
		SignatureRequestTimeout:   10 * time.Second,
	}
}

// Validate reports the first field that makes no sense.
func (c *Config) Validate() error {
	var errs []error
	pos := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be > 0, got %v", name, d))
		}
	}
	pos("walk_interval", c.WalkInterval)
	pos("walk_lifetime", c.WalkLifetime)
	pos("stumble_lifetime", c.StumbleLifetime)
	pos("intro_lifetime", c.IntroLifetime)
	pos("discovered_lifetime", c.DiscoveredLifetime)
	pos("intro_request_timeout", c.IntroRequestTimeout)
	pos("tracker_insert_interval", c.TrackerInsertInterval)
	pos("tracker_retry_interval", c.TrackerRetryInterval)
	pos("puncture_retry_delay", c.PunctureRetryDelay)
	pos("puncture_state_lifetime", c.PunctureStateLifetime)
	pos("fast_walker_interval", c.FastWalkerInterval)
	if c.FastWalkerSteps < 0 || c.FastWalkerTarget < 0 {
		errs = append(errs, fmt.Errorf("fast_walker_steps (%d) and fast_walker_target (%d) must be >= 0",
			c.FastWalkerSteps, c.FastWalkerTarget))
	}
	if c.EligibleDelay < 0 {
		errs = append(errs, fmt.Errorf("eligible_delay must be >= 0, got %v", c.EligibleDelay))
	}
	if c.StartJitter < 0 {
		errs = append(errs, fmt.Errorf("start_jitter must be >= 0, got %v", c.StartJitter))
	}
	if c.WalkShare < 0 || c.StumbleIntroShare < 0 || c.WalkShare+c.StumbleIntroShare > 1 {
		errs = append(errs, fmt.Errorf("walk_share (%v) and stumble_intro_share (%v) must be >= 0 and sum to at most 1",
			c.WalkShare, c.StumbleIntroShare))
	}
	pos("missing_sequence_delay", c.MissingSequenceDelay)
	pos("delayed_lifetime", c.DelayedLifetime)
	pos("acceptable_global_time_cache", c.AcceptableGlobalTimeCache)
	pos("signature_request_timeout", c.SignatureRequestTimeout)
	if c.SyncBloomBits < 64 || c.SyncBloomBits%64 != 0 || c.SyncBloomBits > 65472 {
		errs = append(errs, fmt.Errorf("sync_bloom_bits must be a multiple of 64 in [64, 65472], got %d", c.SyncBloomBits))
	}
	if !(c.SyncBloomErrorRate > 0 && c.SyncBloomErrorRate < 1) {
		errs = append(errs, fmt.Errorf("sync_bloom_error_rate must be in (0, 1), got %v", c.SyncBloomErrorRate))
	}
	if c.SyncResponseLimit < 1 || c.MissingSequenceLimit < 1 || c.SyncCacheReuse < 0 {
		errs = append(errs, fmt.Errorf("sync_response_limit (%d) and missing_sequence_limit (%d) must be >= 1, sync_cache_reuse (%d) >= 0",
			c.SyncResponseLimit, c.MissingSequenceLimit, c.SyncCacheReuse))
	}
	if c.SyncSkipMode != SkipWake && c.SyncSkipMode != SkipDispersy {
		errs = append(errs, fmt.Errorf("sync_skip_mode must be %q or %q, got %q", SkipWake, SkipDispersy, c.SyncSkipMode))
	}
	if c.AcceptableGlobalTimeRange < 1 {
		errs = append(errs, fmt.Errorf("acceptable_global_time_range must be >= 1"))
	}
	if c.MaxCandidates < 0 {
		errs = append(errs, fmt.Errorf("max_candidates must be >= 0, got %d", c.MaxCandidates))
	}
	if len(errs) > 0 {
		return fmt.Errorf("protocol: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// Scaled returns a copy of c with every duration multiplied by f, so a
// test or a demo can walk faster while keeping Dispersy's ratios.
func (c Config) Scaled(f float64) Config {
	s := func(d *time.Duration) { *d = time.Duration(float64(*d) * f) }
	for _, d := range []*time.Duration{&c.WalkInterval, &c.WalkLifetime, &c.StumbleLifetime, &c.IntroLifetime,
		&c.DiscoveredLifetime, &c.EligibleDelay, &c.IntroRequestTimeout, &c.TrackerInsertInterval,
		&c.TrackerRetryInterval, &c.StartJitter, &c.PunctureRetryDelay, &c.PunctureStateLifetime,
		&c.FastWalkerInterval, &c.MissingSequenceDelay, &c.DelayedLifetime, &c.AcceptableGlobalTimeCache,
		&c.SignatureRequestTimeout} {
		s(d)
	}
	return c
}
