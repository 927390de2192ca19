package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/runner"
	"github.com/dispersy-go/dispersy/scenarios"
)

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// param is one swept key with its values.
type param struct {
	key    string
	values []string
}

// cell is one point of the grid: a value for every parameter.
type cell struct {
	settings []scenarios.Setting
	s        *scenarios.Scenario
}

// name is the cell's label, e.g. nodes=1000 network.loss=0.05.
func (c cell) name() string {
	parts := make([]string, len(c.settings))
	for i, st := range c.settings {
		parts[i] = st.String()
	}
	return strings.Join(parts, " ")
}

// dirName is the cell's label as a file name.
func (c cell) dirName() string {
	r := strings.NewReplacer(" ", "_", "/", "-", "{", "", "}", "", ":", "-", ",", "-")
	if len(c.settings) == 0 {
		return "base"
	}
	return r.Replace(c.name())
}

// runResult is one finished run of a sweep.
type runResult struct {
	cell, seedIx int
	seed         uint64
	sum          *runner.Summary
	values       []*float64 // per metric
	err          error
}

// sweepCmd is `sim sweep`.
func (e *env) sweepCmd(args []string) error {
	fs := flag.NewFlagSet("sim sweep", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var sets multiFlag
	fs.Var(&sets, "set", "KEY=V1,V2,...: a parameter and its values (repeatable; the first varies slowest)")
	seedsFlag := fs.String("seeds", "", "seeds, e.g. 1-5 or 1,2,7 (default: the scenario's seed)")
	out := fs.String("out", "", "output directory (default results/sweeps/NAME)")
	jobs := fs.Int("jobs", runtime.NumCPU(), "runs at once")
	metricFlag := fs.String("metric", "", "comma-separated summary paths to tabulate, the first one plotted "+
		"(default sync.convergence.t99,sync.coverage,walker.connected_fraction,wall_seconds with a workload; "+
		"walker.connected_fraction,puncture.success_rate,wall_seconds without)")
	quiet := fs.Bool("quiet", false, "no line per finished run")
	file, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if file == "" {
		return fmt.Errorf("missing scenario FILE\n%s", usage)
	}
	if *jobs < 1 {
		return fmt.Errorf("--jobs %d: want at least 1", *jobs)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("load scenario: %w", err)
	}
	base, err := scenarios.Parse(file, data)
	if err != nil {
		return err
	}
	params, err := parseSets(sets)
	if err != nil {
		return err
	}
	seeds := []uint64{base.Seed}
	if *seedsFlag != "" {
		if seeds, err = parseSeeds(*seedsFlag); err != nil {
			return fmt.Errorf("--seeds %q: %w", *seedsFlag, err)
		}
	}
	metrics := defaultMetrics(base)
	if *metricFlag != "" {
		metrics = strings.Split(*metricFlag, ",")
	}
	if err := checkMetrics(metrics); err != nil {
		return err
	}
	cells, err := grid(file, data, params)
	if err != nil {
		return err
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("results", "sweeps", base.Name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	if !*quiet {
		fmt.Fprintf(e.stderr, "sweep %s: %d cells x %d seeds = %d runs, %d at once\n", base.Name, len(cells), len(seeds),
			len(cells)*len(seeds), min(*jobs, len(cells)*len(seeds)))
	}
	tuneGC()
	start := time.Now()
	results := e.runGrid(cells, seeds, metrics, dir, *jobs, *quiet)
	var failed []error
	done := 0
	for _, r := range results {
		switch {
		case r.err != nil:
			failed = append(failed, r.err)
		case r.sum != nil:
			done++
		}
	}
	if len(failed) > 0 {
		return errors.Join(failed...)
	}
	files, err := writeSweep(dir, params, cells, seeds, metrics, results)
	if err != nil {
		return err
	}
	printSweep(e.stdout, params, cells, metrics, results)
	fmt.Fprintf(e.stdout, "%d runs in %.1f s wall\n", done, time.Since(start).Seconds())
	for _, f := range files {
		fmt.Fprintf(e.stdout, "  %s\n", f)
	}
	if e.interrupted() && done < len(results) {
		return fmt.Errorf("sweep %s: %w after %d of %d runs (outputs written to %s)", base.Name, errInterrupted, done, len(results), dir)
	}
	return nil
}

// parseSets parses the --set flags: KEY=V1,V2,... with commas inside {},
// [] or quotes kept in their value.
func parseSets(sets []string) ([]param, error) {
	var params []param
	seen := map[string]bool{}
	for _, s := range sets {
		key, vals, ok := strings.Cut(s, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, fmt.Errorf("--set %q: want KEY=V1,V2,... such as nodes=1000,10000", s)
		}
		if key == "seed" {
			return nil, fmt.Errorf("--set %s: the seed is swept with --seeds", s)
		}
		if seen[key] {
			return nil, fmt.Errorf("--set %s: key %s is set twice", s, key)
		}
		seen[key] = true
		values := splitValues(vals)
		for _, v := range values {
			if strings.TrimSpace(v) == "" {
				return nil, fmt.Errorf("--set %s: %s: empty value in %q", s, key, vals)
			}
		}
		params = append(params, param{key: key, values: values})
	}
	return params, nil
}

// splitValues splits on commas outside brackets, braces and quotes.
func splitValues(s string) []string {
	var out []string
	depth, quote, startAt := 0, rune(0), 0
	for i, c := range s {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[startAt:i]))
			startAt = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[startAt:]))
}

// parseSeeds parses 1-5, 1,2,7 or a mix of both.
func parseSeeds(s string) ([]uint64, error) {
	var out []uint64
	seen := map[uint64]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a seed or a range such as 1-5", part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a range such as 1-5", part)
			}
			if b-a >= 10000 {
				return nil, fmt.Errorf("%q is more than 10,000 seeds", part)
			}
		}
		for x := a; ; x++ {
			if seen[x] {
				return nil, fmt.Errorf("seed %d is given twice", x)
			}
			seen[x] = true
			out = append(out, x)
			if x == b {
				break
			}
		}
	}
	return out, nil
}

// defaultMetrics are the metrics tabulated without --metric.
func defaultMetrics(s *scenarios.Scenario) []string {
	for _, e := range append(s.Workload, s.Timeline...) {
		if e.Publish != nil {
			return []string{"sync.convergence.t99", "sync.coverage", "walker.connected_fraction", "wall_seconds"}
		}
	}
	return []string{"walker.connected_fraction", "puncture.success_rate", "wall_seconds"}
}

// checkMetrics checks that every metric names a number of the summary.
func checkMetrics(metrics []string) error {
	probe := map[string]any{}
	b, err := json.Marshal(&runner.Summary{})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return err
	}
	for _, m := range metrics {
		v, ok := lookup(probe, m)
		if _, isMap := v.(map[string]any); !ok || isMap {
			return fmt.Errorf("--metric %s: no number at that path of summary.json (e.g. sync.convergence.t99, walker.connected_fraction)", m)
		}
	}
	return nil
}

// lookup follows a dotted path through decoded JSON; a null counts as
// present.
func lookup(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// grid builds and checks every cell of the cartesian product of params;
// a bad value is an error naming its key before anything runs.
func grid(file string, data []byte, params []param) ([]cell, error) {
	cells := []cell{{}}
	for _, p := range params {
		var next []cell
		for _, c := range cells {
			for _, v := range p.values {
				next = append(next, cell{settings: append(append([]scenarios.Setting(nil), c.settings...), scenarios.Setting{Key: p.key, Value: v})})
			}
		}
		cells = next
	}
	var errs []error
	for i := range cells {
		s, err := scenarios.Variant(file, data, cells[i].settings)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cfg := protocol.DefaultConfig()
		if err := s.ApplyOverrides(&cfg); err != nil {
			errs = append(errs, scenarios.Attribute(cells[i].settings, err))
			continue
		}
		if err := cfg.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("cell %s: protocol: %w", cells[i].name(), err))
			continue
		}
		cells[i].s = s
	}
	if len(errs) > 0 {
		return nil, errors.Join(dedupe(errs)...)
	}
	return cells, nil
}

// dedupe drops repeated error texts (a bad value fails in every cell it
// is in).
func dedupe(errs []error) []error {
	seen := map[string]bool{}
	var out []error
	for _, e := range errs {
		for _, line := range strings.Split(e.Error(), "\n") {
			if !seen[line] {
				seen[line] = true
				out = append(out, errors.New(line))
			}
		}
	}
	return out
}

// runGrid runs every (cell, seed) on up to jobs goroutines. Each run is
// deterministic on its own, so the results do not depend on jobs.
func (e *env) runGrid(cells []cell, seeds []uint64, metrics []string, dir string, jobs int, quiet bool) []runResult {
	results := make([]runResult, len(cells)*len(seeds))
	work := make(chan int)
	var mu sync.Mutex
	finished := 0
	var wg sync.WaitGroup
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				res := &results[i]
				res.cell, res.seedIx = i/len(seeds), i%len(seeds)
				res.seed = seeds[res.seedIx]
				c := cells[res.cell]
				seed := res.seed
				sum, err := runner.Run(c.s, runner.Options{Seed: &seed, Clock: time.Now, Interrupted: e.interrupted})
				if err != nil {
					res.err = fmt.Errorf("cell %s seed %d: %w", c.name(), seed, err)
					continue
				}
				if sum.Interrupted {
					continue // not counted: it covers only part of the run
				}
				res.sum = sum
				res.values = metricValues(sum, metrics)
				runDir := filepath.Join(dir, "runs", fmt.Sprintf("%s-seed%d", c.dirName(), seed))
				if _, err := writeOutputs(runDir, sum, false); err != nil {
					res.err = err
					continue
				}
				mu.Lock()
				finished++
				if !quiet {
					fmt.Fprintf(e.stderr, "  [%d/%d] %s seed %d: %s = %s (%.1f s wall)\n", finished, len(results), c.name(), seed,
						metrics[0], fmtValue(res.values[0]), sum.WallSeconds)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range results {
		if e.interrupted() {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	return results
}

// metricValues reads the metrics from a summary (nil: null, as a tXX
// never reached).
func metricValues(sum *runner.Summary, metrics []string) []*float64 {
	var m map[string]any
	b, _ := json.Marshal(sum)
	_ = json.Unmarshal(b, &m)
	out := make([]*float64, len(metrics))
	for i, k := range metrics {
		if v, ok := lookup(m, k); ok {
			switch x := v.(type) {
			case float64:
				out[i] = &x
			case bool:
				f := 0.0
				if x {
					f = 1
				}
				out[i] = &f
			}
		}
	}
	return out
}

func fmtValue(v *float64) string {
	if v == nil {
		return "null"
	}
	return strconv.FormatFloat(*v, 'g', 6, 64)
}

// cellStat is the mean and 95 % confidence interval of one metric over a
// cell's runs that have a value.
type cellStat struct {
	n, runs    int
	mean, half float64 // half: half-width of the interval; NaN below 2 values
}

// stats computes, per cell and metric, the mean and the Student-t 95 %
// confidence interval of the mean.
func stats(cells []cell, metrics []string, results []runResult) [][]cellStat {
	out := make([][]cellStat, len(cells))
	for ci := range cells {
		out[ci] = make([]cellStat, len(metrics))
		for mi := range metrics {
			var xs []float64
			runs := 0
			for _, r := range results {
				if r.cell != ci || r.sum == nil {
					continue
				}
				runs++
				if v := r.values[mi]; v != nil {
					xs = append(xs, *v)
				}
			}
			st := cellStat{n: len(xs), runs: runs, mean: math.NaN(), half: math.NaN()}
			if len(xs) > 0 {
				mean, sd := stat.MeanStdDev(xs, nil)
				st.mean = mean
				if len(xs) > 1 {
					t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(xs) - 1)}.Quantile(0.975)
					st.half = t * sd / math.Sqrt(float64(len(xs)))
				}
			}
			out[ci][mi] = st
		}
	}
	return out
}

// fmtStat renders mean ± half (n/runs when some runs had no value).
func fmtStat(st cellStat) string {
	if st.n == 0 {
		return fmt.Sprintf("never (0/%d)", st.runs)
	}
	s := strconv.FormatFloat(st.mean, 'g', 5, 64)
	if !math.IsNaN(st.half) {
		s += " ± " + strconv.FormatFloat(st.half, 'g', 3, 64)
	}
	if st.n < st.runs {
		s += fmt.Sprintf(" (%d/%d)", st.n, st.runs)
	}
	return s
}

// sweepHeader is the header of the per-cell table.
func sweepHeader(params []param, metrics []string) []string {
	h := []string{}
	for _, p := range params {
		h = append(h, p.key)
	}
	h = append(h, "runs")
	for _, m := range metrics {
		h = append(h, m+" (mean ± 95% CI)")
	}
	return h
}

// sweepRows renders the per-cell table.
func sweepRows(cells []cell, metrics []string, results []runResult) [][]string {
	st := stats(cells, metrics, results)
	var rows [][]string
	for ci, c := range cells {
		row := []string{}
		for _, s := range c.settings {
			row = append(row, s.Value)
		}
		row = append(row, strconv.Itoa(st[ci][0].runs))
		for mi := range metrics {
			row = append(row, fmtStat(st[ci][mi]))
		}
		rows = append(rows, row)
	}
	return rows
}

func printSweep(w io.Writer, params []param, cells []cell, metrics []string, results []runResult) {
	table(w, sweepHeader(params, metrics), sweepRows(cells, metrics, results))
}

// writeSweep writes runs.csv (one line per run), sweep.csv (one line per
// cell: n, mean and the interval's bounds per metric), sweep.md (the
// table) and sweep.png (the first metric against the first parameter).
func writeSweep(dir string, params []param, cells []cell, seeds []uint64, metrics []string, results []runResult) ([]string, error) {
	var files []string
	write := func(name, data string) error {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		files = append(files, path)
		return nil
	}
	var b strings.Builder
	for _, p := range params {
		b.WriteString(csvField(p.key) + ",")
	}
	b.WriteString("seed")
	for _, m := range metrics {
		b.WriteString("," + csvField(m))
	}
	b.WriteString(",trace_hash\n")
	for _, r := range results {
		if r.sum == nil {
			continue
		}
		for _, s := range cells[r.cell].settings {
			b.WriteString(csvField(s.Value) + ",")
		}
		b.WriteString(strconv.FormatUint(r.seed, 10))
		for _, v := range r.values {
			b.WriteString(",")
			if v != nil {
				b.WriteString(strconv.FormatFloat(*v, 'g', -1, 64))
			}
		}
		b.WriteString("," + r.sum.TraceHash + "\n")
	}
	if err := write("runs.csv", b.String()); err != nil {
		return nil, err
	}
	b.Reset()
	for _, p := range params {
		b.WriteString(csvField(p.key) + ",")
	}
	b.WriteString("runs")
	for _, m := range metrics {
		fmt.Fprintf(&b, ",%s_n,%s_mean,%s_ci95_low,%s_ci95_high", csvField(m), csvField(m), csvField(m), csvField(m))
	}
	b.WriteString("\n")
	st := stats(cells, metrics, results)
	num := func(x float64) string {
		if math.IsNaN(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	for ci, c := range cells {
		for _, s := range c.settings {
			b.WriteString(csvField(s.Value) + ",")
		}
		b.WriteString(strconv.Itoa(st[ci][0].runs))
		for mi := range metrics {
			x := st[ci][mi]
			fmt.Fprintf(&b, ",%d,%s,%s,%s", x.n, num(x.mean), num(x.mean-x.half), num(x.mean+x.half))
		}
		b.WriteString("\n")
	}
	if err := write("sweep.csv", b.String()); err != nil {
		return nil, err
	}
	b.Reset()
	header := sweepHeader(params, metrics)
	fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
	for _, row := range sweepRows(cells, metrics, results) {
		fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
	}
	fmt.Fprintf(&b, "\nSeeds %s; 95 %% confidence intervals of the mean (Student t). A run where a metric is null "+
		"(e.g. a tXX never reached) counts in runs but not in n.\n", seedList(seeds))
	if err := write("sweep.md", b.String()); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "sweep.png")
	if err := sweepPlot(path, params, cells, metrics[0], st); err != nil {
		return nil, err
	}
	return append(files, path), nil
}

func seedList(seeds []uint64) string {
	parts := make([]string, len(seeds))
	for i, s := range seeds {
		parts[i] = strconv.FormatUint(s, 10)
	}
	return strings.Join(parts, ", ")
}

// csvField quotes a CSV field when it needs it.
func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// sweepPlot plots the metric's mean and interval against the first
// parameter (numeric when every value is a number, else by position), one
// line per combination of the other parameters.
func sweepPlot(path string, params []param, cells []cell, metric string, st [][]cellStat) error {
	p := plot.New()
	p.Title.Text = metric + " (mean, 95% CI)"
	p.Y.Label.Text = metric
	p.Add(plotter.NewGrid())
	xs := map[string]float64{}
	if len(params) > 0 {
		p.X.Label.Text = params[0].key
		numeric := true
		for _, v := range params[0].values {
			f, err := strconv.ParseFloat(v, 64)
			numeric = numeric && err == nil
			xs[v] = f
		}
		if !numeric {
			names := make([]string, len(params[0].values))
			for i, v := range params[0].values {
				xs[v] = float64(i)
				names[i] = v
			}
			p.NominalX(names...)
		}
	}
	// group cells by the values of the other parameters
	type line struct {
		name string
		xy   plotter.XYs
		errs plotter.YErrors
	}
	var lines []*line
	index := map[string]*line{}
	for ci, c := range cells {
		x := 0.0
		var rest []string
		for i, s := range c.settings {
			if i == 0 {
				x = xs[s.Value]
			} else {
				rest = append(rest, s.String())
			}
		}
		key := strings.Join(rest, " ")
		l := index[key]
		if l == nil {
			l = &line{name: key}
			index[key] = l
			lines = append(lines, l)
		}
		s := st[ci][0]
		if s.n == 0 {
			continue
		}
		half := s.half
		if math.IsNaN(half) {
			half = 0
		}
		l.xy = append(l.xy, plotter.XY{X: x, Y: s.mean})
		l.errs = append(l.errs, struct{ Low, High float64 }{half, half})
	}
	for i, l := range lines {
		if len(l.xy) == 0 {
			continue
		}
		lp, err := addLine(p, l.name, l.xy, i)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{l.xy, l.errs})
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		eb.Color = lp.Color
		pts, err := plotter.NewScatter(l.xy)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		pts.Color = lp.Color
		p.Add(eb, pts)
	}
	p.Legend.Top = true
	if err := p.Save(plotWidth, plotHeight, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}
