package simnet

import (
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// Latency is a one-way delay distribution between two public endpoints. The
// network draws no random numbers for it: each pair of public IPv4 addresses
// gets a fixed probability p from a hash of (seed, the two addresses,
// unordered), and its base delay is Quantile(p). So a pair's delay is stable
// for the whole run, symmetric, and costs no per-pair table.
type Latency interface {
	// Quantile returns the delay at cumulative probability p, 0 < p < 1.
	// It must be deterministic and non-negative.
	Quantile(p float64) time.Duration
}

// validator is implemented by the built-in Latency types.
type validator interface{ validate() error }

// ConstantLatency gives every pair the same delay D.
type ConstantLatency struct {
	D time.Duration // the one-way delay
}

// Quantile returns D.
func (c ConstantLatency) Quantile(float64) time.Duration { return c.D }

func (c ConstantLatency) validate() error {
	if c.D < 0 {
		return fmt.Errorf("constant latency %v is negative", c.D)
	}
	return nil
}

// UniformLatency draws pair delays uniformly from [Min, Max].
type UniformLatency struct {
	Min, Max time.Duration // bounds of the one-way delay
}

// Quantile returns Min + p·(Max−Min).
func (u UniformLatency) Quantile(p float64) time.Duration {
	return u.Min + time.Duration(p*float64(u.Max-u.Min))
}

func (u UniformLatency) validate() error {
	if u.Min < 0 || u.Max < u.Min {
		return fmt.Errorf("uniform latency [%v, %v] is not a valid range", u.Min, u.Max)
	}
	return nil
}

// LogNormalLatency draws pair delays from a log-normal distribution with the
// given median and shape Sigma (the standard deviation of ln(delay)); this is
// the usual fit of Internet RTT samples. Max, when > 0, caps the far tail.
type LogNormalLatency struct {
	Median time.Duration // median one-way delay
	Sigma  float64       // standard deviation of ln(delay)
	Max    time.Duration // cap on the delay; 0 means none
}

// Quantile returns the log-normal quantile at p, capped at Max when set.
func (l LogNormalLatency) Quantile(p float64) time.Duration {
	return logNormal{
		d:   distuv.LogNormal{Mu: math.Log(float64(l.Median)), Sigma: l.Sigma},
		max: l.Max,
	}.Quantile(p)
}

// logNormal is LogNormalLatency with ln(median) computed once; New uses it
// in place of a LogNormalLatency.
type logNormal struct {
	d   distuv.LogNormal
	max time.Duration
}

func (l logNormal) Quantile(p float64) time.Duration {
	q := l.d.Quantile(p)
	if l.max > 0 && q > float64(l.max) {
		return l.max
	}
	return time.Duration(q)
}

// prepare returns the form of lat the network evaluates per packet.
func prepare(lat Latency) Latency {
	if l, ok := lat.(LogNormalLatency); ok {
		return logNormal{d: distuv.LogNormal{Mu: math.Log(float64(l.Median)), Sigma: l.Sigma}, max: l.Max}
	}
	return lat
}

func (l LogNormalLatency) validate() error {
	if l.Median <= 0 {
		return errors.New("log-normal latency needs a positive median")
	}
	if l.Sigma < 0 || math.IsNaN(l.Sigma) || math.IsInf(l.Sigma, 0) {
		return fmt.Errorf("log-normal latency sigma %v is not a finite non-negative number", l.Sigma)
	}
	if l.Max < 0 {
		return fmt.Errorf("log-normal latency cap %v is negative", l.Max)
	}
	return nil
}

// pairProbability maps an unordered pair of IPv4 addresses to a probability
// in (0, 1), fixed for a given key.
func pairProbability(key uint64, a, b uint32) float64 {
	if a > b {
		a, b = b, a
	}
	h := mix64(key ^ mix64(uint64(a)<<32|uint64(b)))
	return (float64(h>>11) + 0.5) / (1 << 53)
}
