package simnet

// PairProbability is the probability in (0, 1) that the network gives the
// unordered pair of IPv4 addresses a and b under key: the quantile of the
// latency distribution the pair's one-way delay is drawn at. The emulation
// testbed's wire stage draws its pair delays with it, as the simulator
// does.
func PairProbability(key uint64, a, b uint32) float64 { return pairProbability(key, a, b) }
