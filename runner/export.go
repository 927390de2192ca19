package runner

import (
	"math/rand/v2"
	"time"

	"github.com/dispersy-go/dispersy/natmodels"
	"github.com/dispersy-go/dispersy/protocol/wire"
	"github.com/dispersy-go/dispersy/scenarios"
	"github.com/dispersy-go/dispersy/simnet"
)

// The functions of this file let another backend (the emulation testbed,
// realnet/emul) build a summary with the simulator's own definitions.

// LatencyOf returns the one-way delay model of a scenario's
// network.latency, as the simulator uses it.
func LatencyOf(l scenarios.Latency) (simnet.Latency, error) { return latency(l) }

// ExpectedConnType is the connection type Dispersy's vote should conclude
// behind profile p, by which the summary's connection_type_accuracy is
// judged.
func ExpectedConnType(p natmodels.Profile) wire.ConnType { return expectedConnType(p) }

// ConnectTimesOf summarises bootstrap times (a negative time: never
// connected) into the summary's quantiles.
func ConnectTimesOf(times []time.Duration) ConnectTimes { return connectTimes(times) }

// FillPayload fills b from rng as the simulator's workload fills a
// publication's payload.
func FillPayload(b []byte, rng *rand.Rand) { fillPayload(b, rng) }
