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
	// MaxCandidates caps a non-tracker node's candidate table; the oldest
	// obsolete-soon entries are evicted first. 0 means no cap.
	MaxCandidates int
}

// DefaultConfig returns Dispersy's constants.
func DefaultConfig() Config {
	return Config{
		WalkInterval:          5 * time.Second,
		WalkLifetime:          57500 * time.Millisecond,
		StumbleLifetime:       57500 * time.Millisecond,
		IntroLifetime:         27500 * time.Millisecond,
		DiscoveredLifetime:    57500 * time.Millisecond,
		EligibleDelay:         27500 * time.Millisecond,
		WalkShare:             0.475,
		StumbleIntroShare:     0.475,
		IntroRequestTimeout:   10500 * time.Millisecond,
		TrackerInsertInterval: 300 * time.Second,
		TrackerRetryInterval:  60 * time.Second,
		StartJitter:           5 * time.Second,
		EagerPuncture:         false,
		PunctureRetryDelay:    2 * time.Second,
		PunctureStateLifetime: 30 * time.Second,
		MaxCandidates:         0,
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
	if c.MaxCandidates < 0 {
		errs = append(errs, fmt.Errorf("max_candidates must be >= 0, got %d", c.MaxCandidates))
	}
	if len(errs) > 0 {
		return fmt.Errorf("protocol: invalid config: %w", errors.Join(errs...))
	}
	return nil
}
