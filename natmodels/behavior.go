package natmodels

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrInvalidBehavior is wrapped by every error that Behavior.Validate (and so
// NewBox) returns; the message names the offending field.
var ErrInvalidBehavior = errors.New("natmodels: invalid behavior")

// String returns the RFC 4787 short name of the class ("EI", "AD", "APD").
func (d Dependency) String() string {
	switch d {
	case EndpointIndependent:
		return "EI"
	case AddressDependent:
		return "AD"
	case AddressPortDependent:
		return "APD"
	}
	return "Dependency(" + strconv.Itoa(int(d)) + ")"
}

// String returns the strategy's name ("preserve", "sequential", "random").
func (p PortAlloc) String() string {
	switch p {
	case PortPreserve:
		return "preserve"
	case PortSequential:
		return "sequential"
	case PortRandom:
		return "random"
	}
	return "PortAlloc(" + strconv.Itoa(int(p)) + ")"
}

// String returns the verdict's name ("pass", "no-mapping", "filtered"), for
// drop counters and traces.
func (v Verdict) String() string {
	switch v {
	case Pass:
		return "pass"
	case NoMapping:
		return "no-mapping"
	case Filtered:
		return "filtered"
	}
	return "Verdict(" + strconv.Itoa(int(v)) + ")"
}

// Validate reports whether b can be given to NewBox. The error wraps
// ErrInvalidBehavior and names the bad field. Rules:
//
//   - Mapping, Filtering and PortAlloc are one of their declared constants;
//   - Timeout > 0 and AssuredTimeout >= 0;
//   - AssuredTimeout and InboundCreatesFlow need PerFlow (they describe
//     conntrack flow state, which only PerFlow models);
//   - PerFlow needs Filtering == AddressPortDependent, because a conntrack
//     flow lets in exactly its own remote endpoint. Mapping is not checked
//     when PerFlow is set: the mapping behaviour then emerges from PortAlloc
//     and the presets set it to what such a box is measured to do.
func (b Behavior) Validate() error {
	switch {
	case b.Mapping < EndpointIndependent || b.Mapping > AddressPortDependent:
		return fmt.Errorf("%w: Mapping is %v, want EndpointIndependent, AddressDependent or AddressPortDependent", ErrInvalidBehavior, b.Mapping)
	case b.Filtering < EndpointIndependent || b.Filtering > AddressPortDependent:
		return fmt.Errorf("%w: Filtering is %v, want EndpointIndependent, AddressDependent or AddressPortDependent", ErrInvalidBehavior, b.Filtering)
	case b.PortAlloc < PortPreserve || b.PortAlloc > PortRandom:
		return fmt.Errorf("%w: PortAlloc is %v, want PortPreserve, PortSequential or PortRandom", ErrInvalidBehavior, b.PortAlloc)
	case b.Timeout <= 0:
		return fmt.Errorf("%w: Timeout is %v, must be > 0", ErrInvalidBehavior, b.Timeout)
	case b.AssuredTimeout < 0:
		return fmt.Errorf("%w: AssuredTimeout is %v, must be >= 0", ErrInvalidBehavior, b.AssuredTimeout)
	case b.AssuredTimeout > 0 && !b.PerFlow:
		return fmt.Errorf("%w: AssuredTimeout is %v but PerFlow is false (only flow state has an assured timeout)", ErrInvalidBehavior, b.AssuredTimeout)
	case b.InboundCreatesFlow && !b.PerFlow:
		return fmt.Errorf("%w: InboundCreatesFlow is set but PerFlow is false", ErrInvalidBehavior)
	case b.PerFlow && b.Filtering != AddressPortDependent:
		return fmt.Errorf("%w: Filtering is %v but PerFlow filters per remote endpoint (want AddressPortDependent)", ErrInvalidBehavior, b.Filtering)
	}
	return nil
}
