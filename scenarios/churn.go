package scenarios

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Distributions accepted by churn.session.distribution and
// churn.downtime.distribution (DistConstant and DistLognormal as for
// latency).
const (
	// DistExponential has the given Mean (memoryless sessions).
	DistExponential = "exponential"
	// DistWeibull has shape Shape (k) and scale Scale (λ); k < 1 gives the
	// many short and few very long sessions measured in P2P systems.
	DistWeibull = "weibull"
	// DistPareto has shape Shape (α) and scale Scale (the minimum, x_m).
	DistPareto = "pareto"
)

// Defaults of the churn and metrics blocks.
const (
	// DefaultKeepStore is churn.keep_store when the block leaves it out: a
	// peer that comes back still holds what it stored before.
	DefaultKeepStore = true
	// DefaultMetricsInterval is metrics.interval when the file leaves it
	// out: the period of the run's time series.
	DefaultMetricsInterval = 10 * time.Second
	// MaxTraceBytes is the largest churn trace file read.
	MaxTraceBytes = 256 << 20
)

// Churn says when peers go down and come back. Either Session and Downtime
// are set (each peer alternates online sessions and offline periods drawn
// from them), or Trace is (the sessions are replayed from a file). Trackers
// never churn. A peer that goes down loses its NAT mappings, its candidates
// and its pending timers; KeepStore says whether it keeps its messages.
type Churn struct {
	// Session is the distribution of online session lengths.
	Session *Dist
	// Downtime is the distribution of offline periods.
	Downtime *Dist
	// Start is when churn begins: every peer is online at its start and
	// its first session runs from Start (or from when it joins, if later).
	Start time.Duration
	// Fraction is the share of peers that churn, in (0, 1]; the others
	// stay online throughout (default 1).
	Fraction float64
	// KeepStore says whether a peer that comes back still holds the
	// messages it stored before it went down (default DefaultKeepStore).
	KeepStore bool
	// Trace, if not nil, replaces Session and Downtime.
	Trace *Trace
}

// Dist is a distribution of durations. Only the fields of its Distribution
// are set: Mean for DistExponential, Shape and Scale for DistWeibull and
// DistPareto, Median and Sigma for DistLognormal, Value for DistConstant.
type Dist struct {
	// Distribution is DistExponential, DistWeibull, DistPareto,
	// DistLognormal or DistConstant.
	Distribution string
	// Mean is the mean of DistExponential; > 0.
	Mean time.Duration
	// Shape is k of DistWeibull or α of DistPareto; > 0.
	Shape float64
	// Scale is λ of DistWeibull or x_m of DistPareto; > 0.
	Scale time.Duration
	// Median is the median of DistLognormal; > 0.
	Median time.Duration
	// Sigma is the standard deviation of ln(duration) of DistLognormal; >= 0.
	Sigma float64
	// Value is the duration of DistConstant; > 0.
	Value time.Duration
}

// Expected returns the distribution's mean, or ok=false when it is
// infinite (a Pareto with α <= 1).
func (d Dist) Expected() (mean time.Duration, ok bool) {
	var sec float64
	switch d.Distribution {
	case DistExponential:
		return d.Mean, true
	case DistConstant:
		return d.Value, true
	case DistWeibull:
		sec = d.Scale.Seconds() * math.Gamma(1+1/d.Shape)
	case DistPareto:
		if d.Shape <= 1 {
			return 0, false
		}
		sec = d.Scale.Seconds() * d.Shape / (d.Shape - 1)
	case DistLognormal:
		sec = d.Median.Seconds() * math.Exp(d.Sigma*d.Sigma/2)
	default:
		return 0, false
	}
	if sec > float64(math.MaxInt64)/1e9 {
		return 0, false
	}
	return time.Duration(sec * 1e9), true
}

// Trace is a churn trace: the online sessions of the peers it names.
type Trace struct {
	// Path is the file as the scenario names it, relative to the
	// scenario file's directory unless absolute.
	Path string
	// File is the path the trace was read from, as used in messages.
	File string
	// Sessions lists the sessions in file order.
	Sessions []Session
}

// Session is one online session of a peer in a churn trace. A peer the
// trace names is online only during its sessions; a peer it does not name
// stays online for the whole run.
type Session struct {
	// Node is the peer's index: 0 to Nodes-1 for the peers of the nodes
	// key, then on for the peers that join, in timeline order.
	Node int
	// Up is when the session starts; >= 0.
	Up time.Duration
	// Down is when it ends, > Up; Forever for a session that lasts to the
	// end of the run.
	Down time.Duration
	// Line is the line of the session in the trace file.
	Line int
}

// Forever is Session.Down of a session that never ends.
const Forever = time.Duration(math.MaxInt64)

// Metrics is the metrics block: how the run samples its time series.
type Metrics struct {
	// Interval is the period of the time series (timeseries.csv); > 0,
	// default DefaultMetricsInterval.
	Interval time.Duration
}

// dists lists the churn distributions.
var dists = []string{DistExponential, DistWeibull, DistPareto, DistLognormal, DistConstant}

// distParamsOf lists the parameter keys of each churn distribution.
func distParamsOf(dist string) []string {
	switch dist {
	case DistExponential:
		return []string{"mean"}
	case DistWeibull, DistPareto:
		return []string{"shape", "scale"}
	case DistLognormal:
		return []string{"median", "sigma"}
	case DistConstant:
		return []string{"value"}
	}
	return nil
}

// churn parses the churn block. peers bounds the nodes a trace may name
// (0: no bound); dir is where a relative trace path is found.
func (p *parser) churn(path string, v *yaml.Node, s *Scenario, peers int) *Churn {
	m := p.mapping(path, v)
	if m == nil {
		return nil
	}
	before := len(p.errs)
	c := &Churn{Fraction: 1, KeepStore: DefaultKeepStore}
	var traceNode *yaml.Node
	p.fields(m, path, p.entries(m, path), []field{
		{key: "session", parse: func(path string, v *yaml.Node) { c.Session = p.dist(path, v) }},
		{key: "downtime", parse: func(path string, v *yaml.Node) { c.Downtime = p.dist(path, v) }},
		{key: "start", parse: func(path string, v *yaml.Node) {
			d, ok := p.duration(path, v, false)
			if ok && s.Duration > 0 && d >= s.Duration {
				p.add(v.Line, v.Column, path, "must be before the end of the run (duration %s), got %s", s.Duration, deref(v).Value)
			}
			c.Start = d
		}},
		{key: "fraction", parse: func(path string, v *yaml.Node) {
			f, ok := p.float(path, v)
			if ok && !(f > 0 && f <= 1) {
				p.add(v.Line, v.Column, path, "fraction must be in (0, 1], got %s", deref(v).Value)
				return
			}
			if ok {
				c.Fraction = f
			}
		}},
		{key: "keep_store", parse: func(path string, v *yaml.Node) {
			if b, ok := p.boolean(path, v); ok {
				c.KeepStore = b
			}
		}},
		{key: "trace", parse: func(path string, v *yaml.Node) {
			if f, ok := p.str(path, v); ok {
				if f == "" {
					p.add(v.Line, v.Column, path, "must not be empty")
					return
				}
				c.Trace = &Trace{Path: f}
				traceNode = v
			}
		}},
	})
	switch {
	case traceNode != nil && (c.Session != nil || c.Downtime != nil):
		p.add(traceNode.Line, traceNode.Column, joinPath(path, "trace"), "a trace replaces session and downtime: give one or the other")
	case traceNode == nil && len(p.errs) == before && (c.Session == nil || c.Downtime == nil):
		missing := "session"
		if c.Session != nil {
			missing = "downtime"
		}
		p.add(m.Line, m.Column, joinPath(path, missing), "required key missing (or give a trace)")
	}
	if len(p.errs) != before {
		return nil
	}
	if c.Trace != nil {
		p.loadTrace(joinPath(path, "trace"), traceNode, c.Trace, peers)
	}
	return c
}

// dist parses a churn distribution, or returns nil after reporting a
// problem. The keys it allows depend on its distribution, read first.
func (p *parser) dist(path string, v *yaml.Node) *Dist {
	m := p.mapping(path, v)
	if m == nil {
		return nil
	}
	before := len(p.errs)
	es := p.entries(m, path)
	kind := kindOf(es, "distribution", dists)
	d := Dist{Distribution: kind}
	positiveDur := func(key string, dst *time.Duration) field {
		return field{key: key, required: kind != "", parse: func(path string, v *yaml.Node) {
			if x, ok := p.duration(path, v, true); ok {
				*dst = x
			}
		}}
	}
	number := func(key string, dst *float64, positive bool) field {
		return field{key: key, required: kind != "", parse: func(path string, v *yaml.Node) {
			f, ok := p.float(path, v)
			switch {
			case ok && positive && f <= 0:
				p.add(v.Line, v.Column, path, "%s must be positive, got %s", key, deref(v).Value)
			case ok && f < 0:
				p.add(v.Line, v.Column, path, "%s must not be negative, got %s", key, deref(v).Value)
			case ok:
				*dst = f
			}
		}}
	}
	params := map[string]field{
		"mean":   positiveDur("mean", &d.Mean),
		"shape":  number("shape", &d.Shape, true),
		"scale":  positiveDur("scale", &d.Scale),
		"median": positiveDur("median", &d.Median),
		"sigma":  number("sigma", &d.Sigma, false),
		"value":  positiveDur("value", &d.Value),
	}
	fields := []field{{key: "distribution", required: true, parse: func(path string, v *yaml.Node) {
		p.choice(path, v, "distribution", dists)
	}}}
	p.kindFields(m, path, es, fields, params, kind, dists, distParamsOf, "distribution")
	if kind == "" || len(p.errs) != before {
		return nil
	}
	return &d
}

// metrics parses the metrics block into mt.
func (p *parser) metrics(path string, v *yaml.Node, s *Scenario) {
	p.block(path, v, []field{
		{key: "interval", parse: func(path string, v *yaml.Node) {
			if d, ok := p.duration(path, v, true); ok {
				s.Metrics.Interval = d
			}
		}},
	})
}

// loadTrace reads and parses the trace file t names (relative to the
// scenario file's directory), reporting a problem reading it at the trace
// key and problems inside it at their own file and line.
func (p *parser) loadTrace(path string, v *yaml.Node, t *Trace, peers int) {
	file := t.Path
	if !filepath.IsAbs(file) {
		file = filepath.Join(filepath.Dir(p.file), file)
	}
	t.File = file
	data, err := readLimited(file, MaxTraceBytes)
	if err != nil {
		p.add(v.Line, v.Column, path, "churn trace: %v", err)
		return
	}
	sessions, err := ParseTrace(file, data, peers)
	if err != nil {
		var tp []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			tp = j.Unwrap()
		}
		for _, e := range tp {
			var se *Error
			if errors.As(e, &se) {
				p.errs = append(p.errs, se)
			}
		}
		return
	}
	t.Sessions = sessions
}

// readLimited reads the regular file at path, at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes; at most %d are read", path, st.Size(), limit)
	}
	return os.ReadFile(path)
}

// TraceHeader is the header line a churn trace starts with.
const TraceHeader = "node,up_at,down_at"

// ParseTrace parses a churn trace: CSV with the header TraceHeader, then
// one session per line: the peer's index, when it comes up and when it
// goes down, as Go durations (90s, 1m30s) or seconds (90, 1.5); an empty
// down_at means never. Lines starting with # and blank lines are skipped.
// A peer's sessions must not overlap. peers, when > 0, bounds the indices.
// file names the trace in errors; they are *Error values, all of them
// joined in line order, each naming the file, the line and the column.
func ParseTrace(file string, data []byte, peers int) ([]Session, error) {
	pr := &problems{file: file}
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	var out []Session
	header := false
	last := map[int]int{} // node -> index in out of its latest session
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				pr.add(pe.Line, pe.Column, "", "invalid CSV: %v", pe.Err)
			} else {
				pr.add(1, 0, "", "invalid CSV: %v", err)
			}
			break
		}
		line, _ := r.FieldPos(0)
		if !header {
			header = true
			if got := strings.Join(rec, ","); got != TraceHeader {
				pr.add(line, 1, "", "header %q, want %q", got, TraceHeader)
				break
			}
			continue
		}
		if len(rec) != 3 {
			pr.add(line, 1, "", "%d fields, want 3 (%s)", len(rec), TraceHeader)
			continue
		}
		col := func(i int) int { _, c := r.FieldPos(i); return c }
		node, err := strconv.Atoi(strings.TrimSpace(rec[0]))
		if err != nil || node < 0 {
			pr.add(line, col(0), "node", "expected a node index (0, 1, ...), got %q", rec[0])
			continue
		}
		if peers > 0 && node >= peers {
			pr.add(line, col(0), "node", "node index %d is out of range: the %d peers are 0 to %d", node, peers, peers-1)
			continue
		}
		up, ok := traceTime(pr, line, col(1), "up_at", rec[1], false)
		if !ok {
			continue
		}
		down, ok := traceTime(pr, line, col(2), "down_at", rec[2], true)
		if !ok {
			continue
		}
		if down <= up {
			pr.add(line, col(2), "down_at", "session ends at %s, not after it starts (up_at %s)", rec[2], rec[1])
			continue
		}
		if i, seen := last[node]; seen {
			prev := out[i]
			if up < prev.Down {
				pr.add(line, col(1), "up_at", "node %d is already online from %s (line %d) until %s", node, prev.Up, prev.Line, fmtDown(prev.Down))
				continue
			}
		}
		last[node] = len(out)
		out = append(out, Session{Node: node, Up: up, Down: down, Line: line})
	}
	if !header && len(pr.errs) == 0 {
		pr.add(1, 1, "", "empty churn trace; want the header %q", TraceHeader)
	}
	if err := pr.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// fmtDown renders a session's end.
func fmtDown(d time.Duration) string {
	if d == Forever {
		return "the end"
	}
	return d.String()
}

// traceTime parses a time of a trace line: a Go duration or seconds; an
// empty value is Forever when empty is allowed.
func traceTime(pr *problems, line, col int, key, v string, empty bool) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" && empty {
		return Forever, true
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			pr.add(line, col, key, "must not be negative, got %q", v)
			return 0, false
		}
		return d, true
	}
	if isDecimal(v) {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f*1e9 < float64(math.MaxInt64) {
			return time.Duration(f * 1e9), true
		}
	}
	want := "a time such as 90s, 1m30s or 90 (seconds)"
	if empty {
		want += ", or nothing for never"
	}
	pr.add(line, col, key, "expected %s, got %q", want, v)
	return 0, false
}
