package natmodels

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Share is one entry of a population mix: the fraction of hosts behind the
// preset called Profile.
type Share struct {
	Profile  string
	Fraction float64
}

// ErrInvalidMix is wrapped by Assign's errors about the mix or n.
var ErrInvalidMix = errors.New("natmodels: invalid mix")

// mixTolerance is how far the fractions of a mix may sum from 1.
const mixTolerance = 1e-6

// Assign returns the profile names of n hosts drawn from mix: each profile
// gets its share of n by the largest-remainder method (the fractions are
// first scaled to sum exactly to 1; ties in remainder go to the profile
// earlier in canonical order, see Rank), and the list is then shuffled with
// r. The result depends only on the set of shares, n and r's state, not on
// the order of mix. It fails on an unknown or repeated profile, a negative
// or non-finite fraction, fractions not summing to 1 within 1e-6, n < 0, or
// a nil r.
func Assign(mix []Share, n int, r *rand.Rand) ([]string, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: n is %d, must be >= 0", ErrInvalidMix, n)
	}
	if r == nil {
		return nil, fmt.Errorf("%w: rand is nil", ErrInvalidMix)
	}
	shares := slices.Clone(mix)
	sum := 0.0
	for i, s := range shares {
		if Rank(s.Profile) < 0 {
			return nil, fmt.Errorf("%w %q in mix entry %d", ErrUnknownProfile, s.Profile, i)
		}
		if math.IsNaN(s.Fraction) || math.IsInf(s.Fraction, 0) || s.Fraction < 0 {
			return nil, fmt.Errorf("%w: fraction of %q is %v, must be finite and >= 0", ErrInvalidMix, s.Profile, s.Fraction)
		}
		sum += s.Fraction
	}
	if math.Abs(sum-1) > mixTolerance {
		return nil, fmt.Errorf("%w: fractions sum to %v, want 1 (within %v)", ErrInvalidMix, sum, mixTolerance)
	}
	slices.SortFunc(shares, func(a, b Share) int { return Rank(a.Profile) - Rank(b.Profile) })
	for i := 1; i < len(shares); i++ {
		if shares[i].Profile == shares[i-1].Profile {
			return nil, fmt.Errorf("%w: profile %q appears more than once", ErrInvalidMix, shares[i].Profile)
		}
	}

	counts := make([]int, len(shares))
	rems := make([]float64, len(shares))
	left := n
	for i, s := range shares {
		q := s.Fraction / sum * float64(n)
		counts[i] = int(math.Floor(q))
		rems[i] = q - float64(counts[i])
		left -= counts[i]
	}
	// By remainder, largest first; SortStableFunc keeps canonical order on ties.
	order := make([]int, len(shares))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rems[a] > rems[b]:
			return -1
		case rems[a] < rems[b]:
			return 1
		}
		return 0
	})
	for k := 0; left > 0 && len(order) > 0; k = (k + 1) % len(order) {
		counts[order[k]]++
		left--
	}
	// Rounding can only overshoot by a unit or so; take it from the smallest
	// remainders.
	for k := len(order) - 1; left < 0 && k >= 0; k-- {
		if counts[order[k]] > 0 {
			counts[order[k]]--
			left++
		}
	}

	names := make([]string, 0, n)
	for i, s := range shares {
		for range counts[i] {
			names = append(names, s.Profile)
		}
	}
	r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	return names, nil
}
