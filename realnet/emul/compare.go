package emul

import (
	"fmt"
	"math"
	"strings"

	"github.com/dispersy-go/dispersy/runner"
)

// Tolerances of the comparison of an emulation with a simulation of the
// same file and seed.
const (
	// CellTolerance is how far, in percentage points, a puncture-matrix
	// cell's success rate may be from the simulator's.
	CellTolerance = 10.0
	// ConvergenceTolerance is how far, relatively, t50, t90 and t100 may
	// be from the simulator's.
	ConvergenceTolerance = 0.25
)

// Comparison sets an emulation's summary beside the simulator's.
type Comparison struct {
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	// SeedRuns is how many simulator runs of other seeds the seed
	// statistics are over (0: none given).
	SeedRuns int            `json:"seed_runs"`
	Cells    []CellCompare  `json:"cells"`
	Times    []TimeCompare  `json:"convergence"`
	Others   []OtherCompare `json:"others"`
	// Pass says every cell and every time is within its tolerance of the
	// simulator's run of the same seed; PassMean the same against the
	// mean over the seed runs.
	Pass     bool `json:"pass"`
	PassMean bool `json:"pass_mean"`
}

// CellCompare is one NAT pair of the puncture matrix on both sides.
type CellCompare struct {
	Pair             string  `json:"pair"`
	SimIntroductions int64   `json:"sim_introductions"`
	EmuIntroductions int64   `json:"emu_introductions"`
	SimRate          float64 `json:"sim_rate"`
	EmuRate          float64 `json:"emu_rate"`
	// DiffPP is EmuRate - SimRate in percentage points; NoiseP the
	// two-sigma binomial noise of that difference.
	DiffPP  float64 `json:"diff_pp"`
	NoisePP float64 `json:"noise_2sigma_pp"`
	// SimReached and EmuReached are the one-way (walker reached) rates.
	SimReached float64 `json:"sim_walker_reached"`
	EmuReached float64 `json:"emu_walker_reached"`
	Pass       bool    `json:"pass"`
	// SeedMean and SeedSD are the success rate's mean and standard
	// deviation over the simulator's seed runs; PassMean compares the
	// emulation with SeedMean.
	SeedMean float64 `json:"seed_mean"`
	SeedSD   float64 `json:"seed_sd"`
	PassMean bool    `json:"pass_mean"`
}

// TimeCompare is one convergence time on both sides (seconds; nil never).
type TimeCompare struct {
	Name string   `json:"name"`
	Sim  *float64 `json:"sim"`
	Emu  *float64 `json:"emu"`
	// Rel is |Emu-Sim|/Sim.
	Rel  float64 `json:"rel"`
	Pass bool    `json:"pass"`
	// SeedMean and SeedSD are over the simulator's seed runs.
	SeedMean float64 `json:"seed_mean"`
	SeedSD   float64 `json:"seed_sd"`
	PassMean bool    `json:"pass_mean"`
}

// OtherCompare is a figure shown for context, without a tolerance.
type OtherCompare struct {
	Name string  `json:"name"`
	Sim  float64 `json:"sim"`
	Emu  float64 `json:"emu"`
}

func rate(p *runner.PairStats) (n int64, success, reached float64) {
	if p == nil || p.Introductions == 0 {
		return 0, 0, 0
	}
	return p.Introductions, float64(p.Successes) / float64(p.Introductions), float64(p.WalkerReached) / float64(p.Introductions)
}

// meanSD returns the mean and population standard deviation of xs.
func meanSD(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, math.Sqrt(v / float64(len(xs)))
}

// Compare sets emu beside sim, the simulator's run of the same file and
// seed, and beside the mean of seeds (simulator runs of other seeds; may
// be empty). Cells with fewer than minIntro introductions on both sides
// are not judged; a cell seen on one side only fails.
func Compare(sim, emu *runner.Summary, seeds []*runner.Summary, minIntro int64) Comparison {
	c := Comparison{Scenario: sim.Scenario, Seed: sim.Seed, SeedRuns: len(seeds), Pass: true, PassMean: true}
	keys := map[string]*runner.PairStats{}
	for k, v := range sim.Puncture.Pairs {
		keys[k] = v
	}
	for k, v := range emu.Puncture.Pairs {
		keys[k] = v
	}
	for _, k := range runner.PairOrder(keys) {
		ns, rs, rrs := rate(sim.Puncture.Pairs[k])
		ne, re, rre := rate(emu.Puncture.Pairs[k])
		cc := CellCompare{Pair: k, SimIntroductions: ns, EmuIntroductions: ne, SimRate: rs, EmuRate: re,
			DiffPP: 100 * (re - rs), SimReached: rrs, EmuReached: rre}
		if ns > 0 && ne > 0 {
			cc.NoisePP = 200 * math.Sqrt(rs*(1-rs)/float64(ns)+re*(1-re)/float64(ne))
		}
		var rates []float64
		for _, s := range seeds {
			if n, r, _ := rate(s.Puncture.Pairs[k]); n > 0 {
				rates = append(rates, r)
			}
		}
		cc.SeedMean, cc.SeedSD = meanSD(rates)
		switch {
		case ns < minIntro && ne < minIntro:
			cc.Pass, cc.PassMean = true, true // too few to judge
		case ns == 0 || ne == 0:
		default:
			cc.Pass = math.Abs(cc.DiffPP) <= CellTolerance
			cc.PassMean = len(rates) > 0 && math.Abs(100*(re-cc.SeedMean)) <= CellTolerance
		}
		c.Pass = c.Pass && cc.Pass
		c.PassMean = c.PassMean && cc.PassMean
		c.Cells = append(c.Cells, cc)
	}
	conv := func(s *runner.Summary) [3]*float64 {
		v := s.Sync.Convergence
		return [3]*float64{v.T50, v.T90, v.T100}
	}
	cs, ce := conv(sim), conv(emu)
	for i, name := range []string{"t50", "t90", "t100"} {
		tc := TimeCompare{Name: name, Sim: cs[i], Emu: ce[i]}
		if cs[i] != nil && ce[i] != nil && *cs[i] > 0 {
			tc.Rel = math.Abs(*ce[i]-*cs[i]) / *cs[i]
			tc.Pass = tc.Rel <= ConvergenceTolerance
		}
		var ts []float64
		for _, s := range seeds {
			if v := conv(s)[i]; v != nil {
				ts = append(ts, *v)
			}
		}
		tc.SeedMean, tc.SeedSD = meanSD(ts)
		tc.PassMean = ce[i] != nil && tc.SeedMean > 0 && len(ts) == len(seeds) &&
			math.Abs(*ce[i]-tc.SeedMean)/tc.SeedMean <= ConvergenceTolerance
		c.Pass = c.Pass && tc.Pass
		c.PassMean = c.PassMean && tc.PassMean
		c.Times = append(c.Times, tc)
	}
	per := func(v int64, n int) float64 { return float64(v) / float64(max(n, 1)) }
	bootstrap := func(s *runner.Summary) float64 {
		if p := s.Walker.ConnectSeconds["all"].P50; p != nil {
			return *p
		}
		return math.NaN()
	}
	c.Others = []OtherCompare{
		{"puncture success, all pairs", sim.Puncture.SuccessRate, emu.Puncture.SuccessRate},
		{"walker reached, all pairs", sim.Puncture.WalkerReachedRate, emu.Puncture.WalkerReachedRate},
		{"introductions", float64(sim.Puncture.Overall.Introductions), float64(emu.Puncture.Overall.Introductions)},
		{"connected fraction", sim.Walker.ConnectedFraction, emu.Walker.ConnectedFraction},
		{"mean verified candidates", sim.Walker.MeanVerifiedCandidates, emu.Walker.MeanVerifiedCandidates},
		{"connection type accuracy", sim.Walker.ConnectionTypeAccuracy, emu.Walker.ConnectionTypeAccuracy},
		{"bootstrap p50 (s)", bootstrap(sim), bootstrap(emu)},
		{"sync coverage at end", sim.Sync.Coverage, emu.Sync.Coverage},
		{"sync bytes per peer", sim.Sync.BytesSentPerNode, emu.Sync.BytesSentPerNode},
		{"packets sent per node", per(sim.PacketsSent, sim.Nodes+sim.Trackers), per(emu.PacketsSent, emu.Nodes+emu.Trackers)},
		{"NAT-filtered packets", float64(sim.PacketsDropped["nat_filtered"]), float64(emu.PacketsDropped["nat_filtered"])},
		{"lost packets", float64(sim.PacketsDropped["loss"]), float64(emu.PacketsDropped["loss"])},
	}
	return c
}

func secsOrNever(v *float64) string {
	if v == nil {
		return "never"
	}
	return fmt.Sprintf("%.1f s", *v)
}

func mark(ok bool) string {
	if ok {
		return "ok"
	}
	return "**out**"
}

// Markdown renders the comparison as tables.
func (c Comparison) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Scenario `%s`, seed %d: the simulator and the netns emulation (real peers, kernel NATs).", c.Scenario, c.Seed)
	if c.SeedRuns > 0 {
		fmt.Fprintf(&b, " \"sim seeds\" is the simulator over %d seeds (mean ± standard deviation): how much one run of this file varies by chance.", c.SeedRuns)
	}
	fmt.Fprintf(&b, "\n\nPuncture matrix (success: both sides heard from each other within 30 s of the introduction; tolerance %.0f pp; noise: two binomial sigmas of the difference of the two single runs):\n\n", CellTolerance)
	b.WriteString("| NAT pair | introductions sim / emu | success sim | success emu | diff (pp) | noise (pp) | sim seeds | walker reached sim / emu | same seed | seeds' mean |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range c.Cells {
		fmt.Fprintf(&b, "| %s | %d / %d | %.3f | %.3f | %+.1f | %.1f | %.3f ± %.3f | %.3f / %.3f | %s | %s |\n", x.Pair, x.SimIntroductions, x.EmuIntroductions,
			x.SimRate, x.EmuRate, x.DiffPP, x.NoisePP, x.SeedMean, x.SeedSD, x.SimReached, x.EmuReached, mark(x.Pass), mark(x.PassMean))
	}
	fmt.Fprintf(&b, "\nConvergence (seconds from the first publish until 50/90/100 %% of the (peer, message) pairs are stored; tolerance %.0f %%):\n\n", 100*ConvergenceTolerance)
	b.WriteString("| | sim | emu | difference | sim seeds | same seed | seeds' mean |\n|---|---|---|---|---|---|---|\n")
	for _, t := range c.Times {
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f %% | %.1f ± %.1f s | %s | %s |\n", t.Name, secsOrNever(t.Sim), secsOrNever(t.Emu), 100*t.Rel,
			t.SeedMean, t.SeedSD, mark(t.Pass), mark(t.PassMean))
	}
	b.WriteString("\nFor context (single runs):\n\n| | sim | emu |\n|---|---|---|\n")
	for _, o := range c.Others {
		fmt.Fprintf(&b, "| %s | %.4g | %.4g |\n", o.Name, o.Sim, o.Emu)
	}
	verdict := func(ok bool) string {
		if ok {
			return "every cell and every convergence time within tolerance"
		}
		return "NOT all within tolerance (marked **out**)"
	}
	fmt.Fprintf(&b, "\nAgainst the same seed: %s.\n", verdict(c.Pass))
	if c.SeedRuns > 0 {
		fmt.Fprintf(&b, "Against the mean of %d seeds: %s.\n", c.SeedRuns, verdict(c.PassMean))
	}
	return b.String()
}
