package scenarios

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
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
	var after, last []func()
	p.fields(root, "", p.entries(root, ""), p.scenarioFields(s, &after, &last))
	for _, f := range after {
		f()
	}
	for _, f := range last {
		f()
	}
	return s
}

// scenarioFields lists the top-level keys, in the order messages list them.
// A later version of the language adds its blocks here. Blocks that refer
// to other keys (the workload names messages, nodes and times) append
// their parsing to after, which runs once every other key is parsed; the
// churn block, which refers to the peers the timeline adds, goes in last,
// which runs after that.
func (p *parser) scenarioFields(s *Scenario, after, last *[]func()) []field {
	communityOK := true
	known := func() []string {
		// With a broken community block, any message name may be meant;
		// its own errors say enough.
		var known []string
		if communityOK {
			for _, m := range s.Community.Messages {
				known = append(known, m.Name)
			}
		}
		return known
	}
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
		{key: "community", parse: func(path string, v *yaml.Node) {
			c, ok := p.community(path, v)
			if communityOK = ok; ok {
				s.Community = c
			}
		}},
		{key: "permissions", parse: func(path string, v *yaml.Node) {
			*after = append(*after, func() {
				s.Permissions = p.permissions(path, v, s, knownMessages(s, communityOK))
				// runs after the churn block's parse, which is in last too
				*last = append(*last, func() { p.permissionsAlone(path, v, s) })
			})
		}},
		{key: "workload", parse: func(path string, v *yaml.Node) {
			*after = append(*after, func() {
				s.Workload = p.workload(path, v, s, known(), workloadActions)
			})
		}},
		{key: "timeline", parse: func(path string, v *yaml.Node) {
			*after = append(*after, func() {
				s.Timeline = p.workload(path, v, s, known(), timelineActions)
				p.checkTimeline(path, s.Timeline)
			})
		}},
		{key: "churn", parse: func(path string, v *yaml.Node) {
			*last = append(*last, func() {
				peers := 0
				if s.Nodes > 0 {
					peers = s.Nodes + s.Joined()
				}
				s.Churn = p.churn(path, v, s, peers)
			})
		}},
		{key: "metrics", parse: func(path string, v *yaml.Node) {
			*after = append(*after, func() { p.metrics(path, v, s) })
		}},
	}
}

// knownMessages returns the message names of the community block, or nil
// (any) when it is broken.
func knownMessages(s *Scenario, communityOK bool) []string {
	if !communityOK {
		return nil
	}
	var known []string
	for _, m := range s.Community.Messages {
		known = append(known, m.Name)
	}
	return known
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
			if f, ok := p.loss(path, v); ok {
				n.Loss = f
			}
		}},
	})
}

// loss parses a loss probability, in [0, 1).
func (p *parser) loss(path string, v *yaml.Node) (float64, bool) {
	f, ok := p.float(path, v)
	if ok && (f < 0 || f >= 1) {
		p.add(v.Line, v.Column, path, "loss must be in [0, 1), got %s", deref(v).Value)
		return 0, false
	}
	return f, ok
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

// choice returns the string v, which must be one of known; what names it
// in the message.
func (p *parser) choice(path string, v *yaml.Node, what string, known []string) (string, bool) {
	c, ok := p.str(path, v)
	if !ok {
		return "", false
	}
	if !slices.Contains(known, c) {
		p.add(v.Line, v.Column, path, "unknown %s %q%s; known: %s", what, c, suggest(c, known), strings.Join(known, ", "))
		return "", false
	}
	return c, true
}

// kindOf returns the value of key in es when it is one of kinds, else "".
func kindOf(es []entry, key string, kinds []string) string {
	for _, e := range es {
		if d := deref(e.val); e.key.Value == key && d != nil && d.Kind == yaml.ScalarNode && slices.Contains(kinds, d.Value) {
			return d.Value
		}
	}
	return ""
}

// otherParams reports, and leaves out of es, the keys that are parameters
// of some kind (a key of params) but not of kind, whose parameters are
// allowed. what names the block in the message, e.g. "distribution".
func (p *parser) otherParams(path string, es []entry, params map[string]field, allowed []string, what, kind string) []entry {
	kept := es[:0:0]
	for _, e := range es {
		k := e.key.Value
		if _, isParam := params[k]; isParam && !slices.Contains(allowed, k) {
			takes := "it takes no parameters"
			if len(allowed) > 0 {
				takes = "its parameters: " + strings.Join(allowed, ", ")
			}
			p.add(e.key.Line, e.key.Column, joinPath(path, k), "%s %s takes no %s (%s)", what, kind, k, takes)
			continue
		}
		kept = append(kept, e)
	}
	return kept
}

// kindFields dispatches the entries es of mapping m (at path), a block
// whose keys depend on its kind (one of kinds, or "" when it has no usable
// one), to fields and to the parameters of kind: paramsOf(kind) names them
// among params. Without a usable kind any kind's parameters are allowed:
// the kind's own error says enough. A parameter of another kind gets its
// own message (see otherParams); what names the block in it.
func (p *parser) kindFields(m *yaml.Node, path string, es []entry, fields []field, params map[string]field,
	kind string, kinds []string, paramsOf func(string) []string, what string) {
	allowed := paramsOf(kind)
	if kind == "" {
		for _, k := range kinds {
			for _, param := range paramsOf(k) {
				if !slices.Contains(allowed, param) {
					allowed = append(allowed, param)
				}
			}
		}
	}
	for _, k := range allowed {
		fields = append(fields, params[k])
	}
	p.fields(m, path, p.otherParams(path, es, params, allowed, what, kind), fields)
}

// community parses the community block; ok reports that it had no problem.
func (p *parser) community(path string, v *yaml.Node) (c Community, ok bool) {
	before := len(p.errs)
	p.block(path, v, []field{
		{key: "messages", required: true, parse: func(path string, v *yaml.Node) {
			c.Messages = p.messages(path, v)
		}},
	})
	return c, len(p.errs) == before
}

// messages parses the list of message types.
func (p *parser) messages(path string, v *yaml.Node) []Message {
	seq := p.sequence(path, v)
	if seq == nil {
		return nil
	}
	if len(seq.Content) == 0 {
		p.add(v.Line, v.Column, path, "lists no message; a community needs at least one")
		return nil
	}
	if len(seq.Content) > MaxMessages {
		p.add(v.Line, v.Column, path, "lists %d messages; at most %d fit the wire type byte", len(seq.Content), MaxMessages)
	}
	first := make(map[string]int)
	var out []Message
	for i, item := range seq.Content {
		if m, ok := p.message(indexPath(path, i), item, first); ok {
			out = append(out, m)
		}
	}
	return out
}

// message parses one message type; first maps the names of the messages
// before it to their lines. ok reports that it had no problem.
func (p *parser) message(path string, v *yaml.Node, first map[string]int) (msg Message, ok bool) {
	m := p.mapping(path, v)
	if m == nil {
		return Message{}, false
	}
	before := len(p.errs)
	msg = Message{Authentication: AuthMember, Line: v.Line}
	var authNode, destKindNode *yaml.Node
	resNodes := map[string]*yaml.Node{}
	p.fields(m, path, p.entries(m, path), append([]field{
		{key: "name", required: true, parse: func(path string, v *yaml.Node) {
			name, ok := p.str(path, v)
			if !ok || !p.checkMessageName(path, v, name) {
				return
			}
			if line, dup := first[name]; dup {
				p.add(v.Line, v.Column, path, "duplicate message name %q (first at line %d)", name, line)
				return
			}
			first[name] = v.Line
			msg.Name = name
		}},
		{key: "authentication", parse: func(path string, v *yaml.Node) {
			if a, ok := p.choice(path, v, "authentication", []string{AuthMember, AuthNone}); ok {
				msg.Authentication, authNode = a, v
			}
		}},
		{key: "distribution", required: true, parse: func(path string, v *yaml.Node) {
			p.distribution(path, v, &msg.Distribution)
		}},
		{key: "destination", parse: func(path string, v *yaml.Node) {
			destKindNode = p.destination(path, v, &msg.Destination)
		}},
	}, p.resolutionFields(&msg, resNodes)...))
	p.checkResolution(path, &msg, resNodes)
	// Dispersy's policy combinations, checked only when both sides parsed.
	kind := msg.Distribution.Kind
	want := DestCommunity
	if kind == KindDirect {
		want = DestCandidate
	}
	switch {
	case kind == "":
		// The distribution's own error says enough.
	case destKindNode == nil:
		// No destination, or a broken one that has its own error.
		msg.Destination = Destination{Kind: want}
		if want == DestCommunity {
			msg.Destination.NodeCount = DefaultNodeCount
		}
	case msg.Destination.Kind != want:
		p.add(destKindNode.Line, destKindNode.Column, joinPath(joinPath(path, "destination"), "kind"),
			"distribution %s needs destination %s, got %s", kind, want, msg.Destination.Kind)
	}
	if kind != "" && kind != KindDirect && authNode != nil && msg.Authentication == AuthNone {
		p.add(authNode.Line, authNode.Column, joinPath(path, "authentication"),
			"authentication %s needs distribution %s, got %s", AuthNone, KindDirect, kind)
	}
	return msg, len(p.errs) == before
}

// checkMessageName reports whether name is usable as a message name (see
// Message.Name).
func (p *parser) checkMessageName(path string, v *yaml.Node, name string) bool {
	switch {
	case name == "":
		p.add(v.Line, v.Column, path, "must not be empty")
		return false
	case len(name) > MaxMessageName:
		p.add(v.Line, v.Column, path, "message name is %d bytes long; at most %d", len(name), MaxMessageName)
		return false
	case strings.HasPrefix(name, ReservedPrefix):
		p.add(v.Line, v.Column, path, "message name %q is reserved: names starting with %q are Dispersy's own messages", name, ReservedPrefix)
		return false
	}
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-')) {
			p.add(v.Line, v.Column, path, "invalid message name %q: use lower-case letters, digits, '_' and '-', starting with a letter or digit", name)
			return false
		}
	}
	return true
}

// distParams lists the parameter keys of each distribution kind.
func distParams(kind string) []string {
	switch kind {
	case KindFullSync:
		return []string{"sequence_numbers", "priority", "direction", "pruning"}
	case KindLastSync:
		return []string{"history_size", "priority", "direction", "pruning"}
	}
	return nil
}

// distribution parses a message's distribution into d. The keys it allows
// depend on its kind, so that is read first.
func (p *parser) distribution(path string, v *yaml.Node, d *Distribution) {
	m := p.mapping(path, v)
	if m == nil {
		return
	}
	kinds := []string{KindFullSync, KindLastSync, KindDirect}
	es := p.entries(m, path)
	kind := kindOf(es, "kind", kinds)
	dist := Distribution{Kind: kind}
	if kind == KindFullSync || kind == KindLastSync {
		dist.Priority, dist.Direction = DefaultPriority, DirAscending
	}
	fields := []field{{key: "kind", required: true, parse: func(path string, v *yaml.Node) {
		p.choice(path, v, "distribution kind", kinds)
	}}}
	params := map[string]field{
		"sequence_numbers": {key: "sequence_numbers", parse: func(path string, v *yaml.Node) {
			dist.SequenceNumbers, _ = p.boolean(path, v)
		}},
		"priority": {key: "priority", parse: func(path string, v *yaml.Node) {
			if n, ok := p.between(path, v, 0, 255); ok {
				dist.Priority = n
			}
		}},
		"direction": {key: "direction", parse: func(path string, v *yaml.Node) {
			if dir, ok := p.choice(path, v, "direction", []string{DirAscending, DirDescending, DirRandom}); ok {
				dist.Direction = dir
			}
		}},
		"history_size": {key: "history_size", required: kind == KindLastSync, parse: func(path string, v *yaml.Node) {
			dist.HistorySize, _ = p.positive(path, v)
		}},
		"pruning": {key: "pruning", parse: func(path string, v *yaml.Node) {
			dist.Pruning = p.pruning(path, v)
		}},
	}
	p.kindFields(m, path, es, fields, params, kind, kinds, distParams, "distribution")
	if kind != "" {
		*d = dist
	}
}

// pruning parses a pruning block, or returns nil after reporting a problem.
func (p *parser) pruning(path string, v *yaml.Node) *Pruning {
	m := p.mapping(path, v)
	if m == nil {
		return nil
	}
	before := len(p.errs)
	var pr Pruning
	var prunedNode *yaml.Node
	p.fields(m, path, p.entries(m, path), []field{
		{key: "inactive", required: true, parse: func(path string, v *yaml.Node) {
			n, ok := p.uint(path, v)
			if ok && n == 0 {
				p.add(v.Line, v.Column, path, "must be at least 1, got %s", deref(v).Value)
			}
			pr.Inactive = n
		}},
		{key: "pruned", required: true, parse: func(path string, v *yaml.Node) {
			pr.Pruned, _ = p.uint(path, v)
			prunedNode = v
		}},
	})
	if len(p.errs) != before {
		return nil
	}
	if pr.Pruned <= pr.Inactive {
		p.add(prunedNode.Line, prunedNode.Column, joinPath(path, "pruned"), "pruned %d must be greater than inactive %d", pr.Pruned, pr.Inactive)
		return nil
	}
	return &pr
}

// destination parses a message's destination into d and returns the node
// of its kind, or nil when the kind is missing or unknown.
func (p *parser) destination(path string, v *yaml.Node, d *Destination) *yaml.Node {
	m := p.mapping(path, v)
	if m == nil {
		return nil
	}
	kinds := []string{DestCommunity, DestCandidate}
	es := p.entries(m, path)
	kind := kindOf(es, "kind", kinds)
	dest := Destination{Kind: kind}
	if kind == DestCommunity {
		dest.NodeCount = DefaultNodeCount
	}
	var kindNode *yaml.Node
	fields := []field{{key: "kind", required: true, parse: func(path string, v *yaml.Node) {
		if _, ok := p.choice(path, v, "destination kind", kinds); ok {
			kindNode = v
		}
	}}}
	params := map[string]field{
		"node_count": {key: "node_count", parse: func(path string, v *yaml.Node) {
			dest.NodeCount, _ = p.natural(path, v)
		}},
	}
	var allowed []string
	if kind != DestCandidate {
		allowed = []string{"node_count"}
		fields = append(fields, params["node_count"])
	}
	p.fields(m, path, p.otherParams(path, es, params, allowed, "destination", kind), fields)
	if kind != "" {
		*d = dest
	}
	return kindNode
}

// workload parses a list of events: the workload block or the timeline
// block, whose events may have the actions listed in allowed. known lists
// the message names an event may publish; nil allows any. s.Nodes and
// s.Duration, when > 0, bound from and at.
func (p *parser) workload(path string, v *yaml.Node, s *Scenario, known, allowed []string) []Event {
	seq := p.sequence(path, v)
	if seq == nil {
		return nil
	}
	var out []Event
	for i, item := range seq.Content {
		if e, ok := p.event(indexPath(path, i), item, s, known, allowed); ok {
			out = append(out, e)
		}
	}
	return out
}

// event parses one event, with one of the actions allowed; ok reports
// that it had no problem.
func (p *parser) event(path string, v *yaml.Node, s *Scenario, known, allowed []string) (ev Event, ok bool) {
	m := p.mapping(path, v)
	if m == nil {
		return Event{}, false
	}
	before := len(p.errs)
	ev = Event{Line: v.Line}
	var actions []string
	fields := []field{
		{key: "at", required: true, parse: func(path string, v *yaml.Node) {
			at, ok := p.duration(path, v, false)
			if ok && s.Duration > 0 && at >= s.Duration {
				p.add(v.Line, v.Column, path, "must be before the end of the run (duration %s), got %s", s.Duration, deref(v).Value)
			}
			ev.At = at
		}},
		{key: "publish", parse: func(path string, v *yaml.Node) {
			actions = append(actions, "publish")
			ev.Publish = p.publish(path, v, s.Nodes, known)
		}},
	}
	for _, f := range append(p.timelineFields(&ev, s, &actions), p.permissionActions(&ev, s, known, &actions)...) {
		if slices.Contains(allowed, f.key) {
			fields = append(fields, f)
		}
	}
	// The at key comes first in a file, as a rule, but may come anywhere:
	// a join's over is checked against at, so at is parsed first.
	es := p.entries(m, path)
	slices.SortStableFunc(es, func(a, b entry) int {
		return cmp.Compare(btoi(a.key.Value != "at"), btoi(b.key.Value != "at"))
	})
	p.fields(m, path, es, fields)
	switch {
	case len(actions) == 0:
		p.add(v.Line, v.Column, path, "event has no action; want one of: %s", strings.Join(allowed, ", "))
	case len(actions) > 1:
		p.add(v.Line, v.Column, path, "event has %d actions (%s); want exactly one", len(actions), strings.Join(actions, ", "))
	}
	return ev, len(p.errs) == before
}

// publish parses a publish action. known lists the message names it may
// name (nil allows any); nodes, when > 0, bounds from.
func (p *parser) publish(path string, v *yaml.Node, nodes int, known []string) *Publish {
	pub := Publish{From: FromRandom, Size: DefaultSize}
	p.block(path, v, []field{
		{key: "message", required: true, parse: func(path string, v *yaml.Node) {
			name, ok := p.str(path, v)
			if ok && known != nil && !slices.Contains(known, name) {
				p.add(v.Line, v.Column, path, "unknown message %q%s; known: %s", name, suggest(name, known), strings.Join(known, ", "))
				return
			}
			pub.Message = name
		}},
		{key: "count", required: true, parse: func(path string, v *yaml.Node) {
			pub.Count, _ = p.positive(path, v)
		}},
		{key: "from", parse: func(path string, v *yaml.Node) {
			if from, ok := p.from(path, v, nodes); ok {
				pub.From = from
			}
		}},
		{key: "rate", parse: func(path string, v *yaml.Node) {
			pub.Rate, _ = p.rate(path, v)
		}},
		{key: "size", parse: func(path string, v *yaml.Node) {
			if n, ok := p.between(path, v, 0, MaxSize); ok {
				pub.Size = n
			}
		}},
	})
	return &pub
}

// from parses the peer a publish comes from: random (FromRandom), members
// (FromMembers) or a node index, which must be below nodes when nodes > 0.
func (p *parser) from(path string, v *yaml.Node, nodes int) (int, bool) {
	d := p.scalar(path, v, "random, members or a node index")
	if d == nil {
		return 0, false
	}
	switch tag := d.ShortTag(); {
	case tag == tagStr && d.Value == "random":
		return FromRandom, true
	case tag == tagStr && d.Value == "members":
		return FromMembers, true
	case tag == tagInt || tag == tagFloat && looksInteger(d.Value):
		n, ok := p.natural(path, v)
		if ok && nodes > 0 && n >= nodes {
			p.add(v.Line, v.Column, path, "node index %d is out of range: the %d nodes are 0 to %d", n, nodes, nodes-1)
			return 0, false
		}
		return n, ok
	}
	p.add(v.Line, v.Column, path, "expected random, members or a node index, got %s", describe(v))
	return 0, false
}

// rateUnits maps the units of a rate such as 10/s to their seconds.
var rateUnits = map[string]float64{"s": 1, "m": 60}

// rate parses a publish rate in messages per second: a number >= 0, N/s,
// N/m (per minute, N > 0), or all (0: all at once).
func (p *parser) rate(path string, v *yaml.Node) (float64, bool) {
	d := p.scalar(path, v, "a rate such as 10/s")
	if d == nil {
		return 0, false
	}
	switch d.ShortTag() {
	case tagInt, tagFloat:
		f, ok := p.float(path, v)
		if ok && f < 0 {
			p.add(v.Line, v.Column, path, "rate must not be negative, got %s", d.Value)
			return 0, false
		}
		return f, ok
	case tagStr:
		if d.Value == "all" {
			return 0, true
		}
		num, unit, _ := strings.Cut(d.Value, "/")
		f, err := strconv.ParseFloat(num, 64)
		if per := rateUnits[unit]; isDecimal(num) && per > 0 && err == nil {
			if r := f / per; r > 0 {
				return r, true
			}
			p.add(v.Line, v.Column, path, "rate %s is not positive; use all (or 0) to publish all at once", d.Value)
			return 0, false
		}
	}
	p.add(v.Line, v.Column, path, "invalid rate: want N/s, N/m (per minute), a number of messages per second, or all; got %s", describe(v))
	return 0, false
}

// isDecimal reports whether s is digits, optionally with a fraction:
// 10, 0.5.
func isDecimal(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	digits := func(s string) bool {
		return s != "" && strings.Trim(s, "0123456789") == ""
	}
	return digits(whole) && (!dot || digits(frac))
}

// btoi is 1 for true and 0 for false.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// permissionsAlone refuses what a scenario with permissions cannot have
// yet: peers that go down or join (churn, and the timeline's crash and
// join). Its action times count every peer, online or not.
func (p *parser) permissionsAlone(path string, v *yaml.Node, s *Scenario) {
	if s.Churn != nil {
		p.add(v.Line, v.Column, path, "a scenario with permissions cannot have churn yet (its action times count every peer)")
	}
	for i, ev := range s.Timeline {
		if ev.Crash != nil || ev.Join != nil {
			p.add(ev.Line, 1, indexPath("timeline", i), "a scenario with permissions cannot crash or join peers yet (its action times count every peer)")
		}
	}
}
