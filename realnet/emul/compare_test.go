package emul

import (
	"strings"
	"testing"

	"github.com/dispersy-go/dispersy/runner"
)

func summaryWith(pairs map[string]*runner.PairStats, t50, t90, t100 float64) *runner.Summary {
	return &runner.Summary{Scenario: "x", Seed: 1, Puncture: runner.PunctureSummary{Pairs: pairs},
		Sync: runner.SyncSummary{Convergence: runner.Convergence{T50: &t50, T90: &t90, T100: &t100}}}
}

func TestCompare(t *testing.T) {
	sim := summaryWith(map[string]*runner.PairStats{
		"public/full-cone":               {Introductions: 100, Successes: 70, WalkerReached: 99},
		"port-restricted-cone/symmetric": {Introductions: 100},
		"symmetric/symmetric":            {Introductions: 3},
	}, 10, 20, 40)
	emu := summaryWith(map[string]*runner.PairStats{
		"public/full-cone":               {Introductions: 100, Successes: 79, WalkerReached: 98}, // +9 pp
		"port-restricted-cone/symmetric": {Introductions: 90, Successes: 12},                     // +13 pp
	}, 12, 24, 52) // +20 %, +20 %, +30 %
	seeds := []*runner.Summary{sim, summaryWith(map[string]*runner.PairStats{
		"public/full-cone": {Introductions: 100, Successes: 76}, "port-restricted-cone/symmetric": {Introductions: 100, Successes: 10},
	}, 11, 22, 50)}
	c := Compare(sim, emu, seeds, 20)
	want := map[string]bool{"public/full-cone": true, "port-restricted-cone/symmetric": false, "symmetric/symmetric": true}
	if len(c.Cells) != 3 {
		t.Fatalf("cells %+v", c.Cells)
	}
	for _, x := range c.Cells {
		if x.Pass != want[x.Pair] {
			t.Errorf("%s: pass %v (diff %.1f pp)", x.Pair, x.Pass, x.DiffPP)
		}
	}
	if c.Cells[0].Pair != "public/full-cone" || c.Cells[0].SeedMean != 0.73 {
		t.Errorf("first cell %+v", c.Cells[0])
	}
	for i, ok := range []bool{true, true, false} {
		if c.Times[i].Pass != ok {
			t.Errorf("%s: pass %v (%.0f %%)", c.Times[i].Name, c.Times[i].Pass, 100*c.Times[i].Rel)
		}
	}
	if c.Pass {
		t.Error("a comparison with cells out of tolerance passed")
	}
	md := c.Markdown()
	for _, s := range []string{"| public/full-cone | 100 / 100 | 0.700 | 0.790 | +9.0 |", "**out**", "NOT all within tolerance", "t100 | 40.0 s | 52.0 s | 30 %"} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
}
