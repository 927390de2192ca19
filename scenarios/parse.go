package scenarios

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dispersy-go/dispersy/natmodels"
)

// mixTolerance is how far from 1 the NAT mix fractions may sum.
const mixTolerance = 1e-6

// parse parses a whole scenario file. It returns nil when data holds no
// scenario at all; other problems are only recorded.
func (p *parser) parse(data []byte) *Scenario {
	root := p.document(data)
	if root == nil {
		return nil
	}
	s := defaults(p.file)
	p.fields(root, "", p.entries(root, ""), p.scenarioFields(s))
	return s
}

// scenarioFields lists the top-level keys, in the order messages list them.
// A later version of the language adds its blocks here.
func (p *parser) scenarioFields(s *Scenario) []field {
	return []field{
		{key: "name", required: true, parse: func(path string, v *yaml.Node) {
			if name, ok := p.str(path, v); ok && p.checkName(path, v, name) {
				s.Name = name
			}
		}},
		{key: "seed", parse: func(path string, v *yaml.Node) {
			if seed, ok := p.uint(path, v); ok {
				s.Seed = seed
			}
		}},
		{key: "duration", required: true, parse: func(path string, v *yaml.Node) {
			if d, ok := p.duration(path, v, true); ok {
				s.Duration = d
			}
		}},
		{key: "nodes", required: true, parse: func(path string, v *yaml.Node) {
			if n, ok := p.positive(path, v); ok {
				s.Nodes = n
			}
		}},
		{key: "trackers", parse: func(path string, v *yaml.Node) {
			if n, ok := p.positive(path, v); ok {
				s.Trackers = n
			}
		}},
		{key: "network", parse: func(path string, v *yaml.Node) {
			p.network(path, v, &s.Network)
		}},
		{key: "nat", parse: func(path string, v *yaml.Node) {
			p.nat(path, v, &s.NAT)
		}},
		{key: "crypto", parse: func(path string, v *yaml.Node) {
			if c, ok := p.str(path, v); ok {
				if c != CryptoEd25519 && c != CryptoFast {
					p.add(v.Line, v.Column, path, "unknown crypto %q; known: %s, %s", c, CryptoEd25519, CryptoFast)
					return
				}
				s.Crypto = c
			}
		}},
		{key: "protocol", parse: func(path string, v *yaml.Node) {
			s.Protocol = p.protocol(path, v)
		}},
	}
}

// checkName reports whether name is usable as a scenario name: non-empty,
// of letters, digits, '.', '_' and '-' only, so that it fits in file names.
func (p *parser) checkName(path string, v *yaml.Node, name string) bool {
	if name == "" {
		p.add(v.Line, v.Column, path, "must not be empty")
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			p.add(v.Line, v.Column, path, "invalid name %q: use only letters, digits, '.', '_' and '-'", name)
			return false
		}
	}
	return true
}

// network parses the network block into n.
func (p *parser) network(path string, v *yaml.Node, n *Network) {
	p.block(path, v, []field{
		{key: "latency", parse: func(path string, v *yaml.Node) {
			p.latency(path, v, &n.Latency)
		}},
		{key: "loss", parse: func(path string, v *yaml.Node) {
			f, ok := p.float(path, v)
			if !ok {
				return
			}
			if f < 0 || f >= 1 {
				p.add(v.Line, v.Column, path, "loss must be in [0, 1), got %s", deref(v).Value)
				return
			}
			n.Loss = f
		}},
	})
}

// latencyParams lists the parameter keys of each distribution.
func latencyParams(dist string) []string {
	switch dist {
	case DistConstant:
		return []string{"value"}
	case DistUniform:
		return []string{"min", "max"}
	case DistLognormal:
		return []string{"median", "sigma"}
	}
	return nil
}

// latency parses a latency block into l. The keys it allows depend on its
// distribution, so that is read first.
func (p *parser) latency(path string, v *yaml.Node, l *Latency) {
	m := p.mapping(path, v)
	if m == nil {
		return
	}
	dists := []string{DistConstant, DistUniform, DistLognormal}
	es := p.entries(m, path)
	dist := ""
	for _, e := range es {
		if d := deref(e.val); e.key.Value == "distribution" && d != nil && d.Kind == yaml.ScalarNode && slices.Contains(dists, d.Value) {
			dist = d.Value
		}
	}
	lat := Latency{Distribution: dist}
	var minNode *yaml.Node
	fields := []field{{key: "distribution", required: true, parse: func(path string, v *yaml.Node) {
		if d, ok := p.str(path, v); ok && !slices.Contains(dists, d) {
			p.add(v.Line, v.Column, path, "unknown latency distribution %q%s; known: %s",
				d, suggest(d, dists), strings.Join(dists, ", "))
		}
	}}}
	durationParam := func(key string, dst *time.Duration) field {
		return field{key: key, required: dist != "", parse: func(path string, v *yaml.Node) {
			if d, ok := p.duration(path, v, true); ok {
				*dst = d
			}
		}}
	}
	params := map[string]field{
		"value":  durationParam("value", &lat.Value),
		"min":    durationParam("min", &lat.Min),
		"max":    durationParam("max", &lat.Max),
		"median": durationParam("median", &lat.Median),
		"sigma": {key: "sigma", required: dist != "", parse: func(path string, v *yaml.Node) {
			f, ok := p.float(path, v)
			if ok && f < 0 {
				p.add(v.Line, v.Column, path, "sigma must not be negative, got %s", deref(v).Value)
				return
			}
			lat.Sigma = f
		}},
	}
	allowed := latencyParams(dist)
	if dist == "" {
		// Without a usable distribution any parameter is allowed and none
		// is required: the distribution's own error says enough.
		for _, d := range dists {
			allowed = append(allowed, latencyParams(d)...)
		}
	}
	for _, k := range allowed {
		fields = append(fields, params[k])
	}
	// A parameter of another distribution gets its own message rather than
	// "unknown key".
	kept := es[:0:0]
	for _, e := range es {
		k := e.key.Value
		if _, isParam := params[k]; isParam && !slices.Contains(allowed, k) {
			p.add(e.key.Line, e.key.Column, joinPath(path, k), "distribution %s takes no %s (its parameters: %s)",
				dist, k, strings.Join(allowed, ", "))
			continue
		}
		if k == "min" {
			minNode = e.key
		}
		kept = append(kept, e)
	}
	before := len(p.errs)
	p.fields(m, path, kept, fields)
	if dist == DistUniform && len(p.errs) == before && lat.Min > lat.Max {
		p.add(minNode.Line, minNode.Column, joinPath(path, "min"), "min %s is greater than max %s", lat.Min, lat.Max)
		return
	}
	if dist != "" {
		*l = lat
	}
}

// nat parses the nat block into n.
func (p *parser) nat(path string, v *yaml.Node, n *NAT) {
	p.block(path, v, []field{
		{key: "mix", parse: func(path string, v *yaml.Node) {
			if mix := p.mix(path, v); mix != nil {
				n.Mix = mix
			}
		}},
		{key: "mapping_timeout", parse: func(path string, v *yaml.Node) {
			if d, ok := p.duration(path, v, true); ok {
				n.MappingTimeout = d
			}
		}},
	})
}

// mix parses a NAT mix: profile name to fraction of peers. It returns nil
// after reporting a problem.
func (p *parser) mix(path string, v *yaml.Node) []natmodels.Share {
	m := p.mapping(path, v)
	if m == nil {
		return nil
	}
	names := natmodels.ProfileNames()
	var shares []natmodels.Share
	ok := true
	for _, e := range p.entries(m, path) {
		name, key := e.key.Value, joinPath(path, e.key.Value)
		if !slices.Contains(names, name) {
			p.add(e.key.Line, e.key.Column, key, "unknown NAT profile %q%s; known: %s",
				name, suggest(name, names), strings.Join(names, ", "))
			ok = false
			continue
		}
		f, fok := p.float(key, e.val)
		if fok && f < 0 {
			p.add(e.val.Line, e.val.Column, key, "fraction must not be negative, got %s", deref(e.val).Value)
			fok = false
		}
		if !fok {
			ok = false
			continue
		}
		shares = append(shares, natmodels.Share{Profile: name, Fraction: f})
	}
	if !ok {
		return nil
	}
	if len(shares) == 0 {
		p.add(v.Line, v.Column, path, "names no NAT profile; known: %s", strings.Join(names, ", "))
		return nil
	}
	sum := 0.0
	for _, s := range shares {
		sum += s.Fraction
	}
	if math.Abs(sum-1) > mixTolerance {
		p.add(v.Line, v.Column, path, "fractions sum to %.9g, want 1 (within %g)", sum, mixTolerance)
		return nil
	}
	return shares
}

// protocol parses the protocol block: snake_case setting names to scalar
// values, checked against a struct only by ApplyOverrides.
func (p *parser) protocol(path string, v *yaml.Node) []Override {
	m := p.mapping(path, v)
	if m == nil {
		return nil
	}
	var out []Override
	for _, e := range p.entries(m, path) {
		key := joinPath(path, e.key.Value)
		if !isSnake(e.key.Value) {
			hint := ""
			if s := snakeCase(e.key.Value); isSnake(s) {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			p.add(e.key.Line, e.key.Column, key, "setting names are snake_case field names such as walk_interval%s", hint)
			continue
		}
		d := p.scalar(key, e.val, "a single value")
		if d == nil {
			continue
		}
		out = append(out, Override{Key: e.key.Value, Value: d, Line: e.key.Line})
	}
	return out
}

// isSnake reports whether s is a snake_case name: lower-case words of
// letters and digits joined by single underscores, starting with a letter.
func isSnake(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
