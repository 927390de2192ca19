package scenarios

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The permission part of the language (version 2):
//
//	community:
//	  messages:
//	    - name: protected
//	      resolution: linear          # public (default), linear, or dynamic
//	      policies: [public, linear]  # dynamic only: its policies, the first in force at the start
//	      undo: true                  # messages of the type can be undone (dynamic needs it)
//	      distribution: {kind: full-sync}
//	permissions:                      # optional: peer founder holds the master key
//	  founder: 0                      # node index, default 0
//	  grants:                         # the founder's authorizes at set times
//	    - {at: 0s, members: 1-100, message: protected, permissions: [permit]}
//	workload:
//	  - {at: 60s, publish: {message: protected, count: 50, from: members}}   # members: any peer ever granted
//	  - {at: 90s, authorize: {members: [101, 102], message: protected, permissions: [permit, undo], by: 0}}
//	  - {at: 120s, revoke: {members: 1-20, message: protected, permissions: [permit]}}
//	  - {at: 150s, undo: {message: protected, count: 10, by: 0}}   # count random messages the peer holds in force
//	  - {at: 180s, set_policy: {message: dyn, policy: 1}}
//	  - {at: 240s, destroy: {}}
//
// members is a node index, a range "A-B" (inclusive), or a list of both;
// by is a node index, default the founder, who holds every permission.
// Every event of these kinds founds the community even without a
// permissions block (the founder is then node 0).

// Resolution policies accepted by resolution and policies.
const (
	ResPublic  = "public"
	ResLinear  = "linear"
	ResDynamic = "dynamic"
)

// Permission names accepted by permissions.
var permissionNames = []string{"permit", "authorize", "revoke", "undo"}

// ByFounder is the By of an action done by the founder (the default).
const ByFounder = -1

// FromMembers is Publish.From when each message comes from a peer chosen
// at random among those that any grant or authorize of the scenario names
// (from: members).
const FromMembers = -2

// Permissions is the permissions block.
type Permissions struct {
	// Founder is the node index of the peer that holds the master key and
	// founds the community (Dispersy's create_community): its member holds
	// every permission.
	Founder int
	// Grants are the founder's authorizes at set times, in file order.
	Grants []Grant
}

// Grant is an authorize or revoke: By grants (or revokes) Members the
// Permissions on Message. In the permissions block At says when; in a
// workload event the event's At does.
type Grant struct {
	At          time.Duration
	By          int // node index, or ByFounder
	Members     []int
	Message     string
	Permissions []string
	// Line is the line of the grant in the file (permissions block).
	Line int
}

// Undo has peer By undo Count messages of type Message, chosen at random
// among those it holds in force and did not create.
type Undo struct {
	Message string
	Count   int
	By      int
}

// SetPolicy has peer By switch dynamic type Message to its policy number
// Policy (dispersy-dynamic-settings).
type SetPolicy struct {
	Message string
	Policy  int
	By      int
}

// Destroy has peer By destroy the community (hard kill).
type Destroy struct {
	By int
}

// Permissioned reports whether the scenario founds its community: it has
// a permissions block or a permission event.
func (s *Scenario) Permissioned() bool {
	if s.Permissions != nil {
		return true
	}
	for _, e := range s.Workload {
		if e.Authorize != nil || e.Revoke != nil || e.Undo != nil || e.SetPolicy != nil || e.Destroy != nil {
			return true
		}
	}
	return false
}

// FounderIndex returns the founder's node index (0 without a permissions
// block).
func (s *Scenario) FounderIndex() int {
	if s.Permissions != nil {
		return s.Permissions.Founder
	}
	return 0
}

// resolutionFields are the keys of a message type's resolution policy.
func (p *parser) resolutionFields(msg *Message, nodes map[string]*yaml.Node) []field {
	return []field{
		{key: "resolution", parse: func(path string, v *yaml.Node) {
			if r, ok := p.choice(path, v, "resolution", []string{ResPublic, ResLinear, ResDynamic}); ok {
				nodes["resolution"] = v
				if r != ResPublic {
					msg.Resolution = r
				}
			}
		}},
		{key: "policies", parse: func(path string, v *yaml.Node) {
			nodes["policies"] = v
			seq := p.sequence(path, v)
			if seq == nil {
				return
			}
			for i, item := range seq.Content {
				if r, ok := p.choice(indexPath(path, i), item, "policy", []string{ResPublic, ResLinear}); ok {
					msg.Policies = append(msg.Policies, r)
				}
			}
		}},
		{key: "undo", parse: func(path string, v *yaml.Node) {
			if b, ok := p.boolean(path, v); ok {
				msg.Undo, nodes["undo"] = b, v
			}
		}},
	}
}

// checkResolution checks a message type's resolution against its other
// policies (Dispersy's allowed combinations).
func (p *parser) checkResolution(path string, msg *Message, nodes map[string]*yaml.Node) {
	at := func(key string) (int, int, string) {
		if v := nodes[key]; v != nil {
			return v.Line, v.Column, joinPath(path, key)
		}
		return 0, 0, path
	}
	if v := nodes["resolution"]; v != nil && msg.Resolution != "" && msg.Authentication == AuthNone {
		p.add(v.Line, v.Column, joinPath(path, "resolution"), "resolution %s needs authentication %s", msg.Resolution, AuthMember)
	}
	switch {
	case msg.Resolution == ResDynamic && nodes["policies"] == nil:
		l, c, pa := at("resolution")
		p.add(l, c, pa, "resolution dynamic needs policies: a list of public and linear")
	case msg.Resolution == ResDynamic && (len(msg.Policies) == 0 || len(msg.Policies) > 254):
		l, c, pa := at("policies")
		p.add(l, c, pa, "a dynamic resolution needs 1 to 254 policies, got %d", len(msg.Policies))
	case msg.Resolution != ResDynamic && nodes["policies"] != nil:
		l, c, pa := at("policies")
		p.add(l, c, pa, "policies are for resolution dynamic, not %s", msg.Resolution)
	case msg.Resolution == ResDynamic && !msg.Undo:
		l, c, pa := at("resolution")
		p.add(l, c, pa, "resolution dynamic needs undo: true (a policy switch undoes and redoes messages)")
	}
	if v := nodes["undo"]; v != nil && msg.Undo && msg.Distribution.Kind == KindDirect {
		p.add(v.Line, v.Column, joinPath(path, "undo"), "undo needs a stored distribution (full-sync or last-sync), got %s", KindDirect)
	}
}

// memberRange parses one members item: a node index or "A-B".
func (p *parser) memberRange(path string, v *yaml.Node, nodes int) ([]int, bool) {
	d := p.scalar(path, v, "a node index or a range A-B")
	if d == nil {
		return nil, false
	}
	inRange := func(n int) bool {
		if nodes > 0 && n >= nodes {
			p.add(v.Line, v.Column, path, "node index %d is out of range: the %d nodes are 0 to %d", n, nodes, nodes-1)
			return false
		}
		return true
	}
	if tag := d.ShortTag(); tag == tagInt {
		n, ok := p.natural(path, v)
		if !ok || !inRange(n) {
			return nil, false
		}
		return []int{n}, true
	}
	a, b, ok := strings.Cut(d.Value, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || lo < 0 || hi < lo {
		p.add(v.Line, v.Column, path, "expected a node index or a range A-B with 0 <= A <= B, got %s", describe(v))
		return nil, false
	}
	if !inRange(hi) {
		return nil, false
	}
	out := make([]int, 0, hi-lo+1)
	for n := lo; n <= hi; n++ {
		out = append(out, n)
	}
	return out, true
}

// members parses members: an item or a list of items, kept in order
// without repeats.
func (p *parser) members(path string, v *yaml.Node, nodes int) []int {
	var out []int
	add := func(ns []int) {
		for _, n := range ns {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	if d := deref(v); d != nil && d.Kind == yaml.SequenceNode {
		if len(d.Content) == 0 {
			p.add(v.Line, v.Column, path, "lists no member")
		}
		for i, item := range d.Content {
			if ns, ok := p.memberRange(indexPath(path, i), item, nodes); ok {
				add(ns)
			}
		}
		return out
	}
	if ns, ok := p.memberRange(path, v, nodes); ok {
		add(ns)
	}
	return out
}

// byNode parses by: a node index.
func (p *parser) byNode(path string, v *yaml.Node, nodes int) int {
	n, ok := p.natural(path, v)
	if ok && nodes > 0 && n >= nodes {
		p.add(v.Line, v.Column, path, "node index %d is out of range: the %d nodes are 0 to %d", n, nodes, nodes-1)
		return ByFounder
	}
	if !ok {
		return ByFounder
	}
	return n
}

// messageNamed returns the community's message type called name, or nil.
func messageNamed(s *Scenario, name string) *Message {
	for i := range s.Community.Messages {
		if s.Community.Messages[i].Name == name {
			return &s.Community.Messages[i]
		}
	}
	return nil
}

// messageKey is a message key naming one of known (nil: any), parsed into
// dst; check, if set, tells what is wrong with the named type for the
// action.
func (p *parser) messageKey(s *Scenario, known []string, check func(m *Message) string, dst *string) field {
	return field{key: "message", required: true, parse: func(path string, v *yaml.Node) {
		name, ok := p.str(path, v)
		if !ok {
			return
		}
		if known != nil && !slices.Contains(known, name) {
			p.add(v.Line, v.Column, path, "unknown message %q%s; known: %s", name, suggest(name, known), strings.Join(known, ", "))
			return
		}
		if m := messageNamed(s, name); m != nil && check != nil {
			if why := check(m); why != "" {
				p.add(v.Line, v.Column, path, "message %q %s", name, why)
				return
			}
		}
		*dst = name
	}}
}

// grantFields are the keys of an authorize or revoke (at: only in the
// permissions block).
func (p *parser) grantFields(g *Grant, s *Scenario, known []string, withAt bool) []field {
	g.By = ByFounder
	fs := []field{
		{key: "members", required: true, parse: func(path string, v *yaml.Node) { g.Members = p.members(path, v, s.Nodes) }},
		p.messageKey(s, known, nil, &g.Message),
		{key: "permissions", parse: func(path string, v *yaml.Node) {
			seq := p.sequence(path, v)
			if seq == nil {
				return
			}
			if len(seq.Content) == 0 {
				p.add(v.Line, v.Column, path, "names no permission; want some of %s", strings.Join(permissionNames, ", "))
			}
			for i, item := range seq.Content {
				if name, ok := p.choice(indexPath(path, i), item, "permission", permissionNames); ok && !slices.Contains(g.Permissions, name) {
					g.Permissions = append(g.Permissions, name)
				}
			}
		}},
		{key: "by", parse: func(path string, v *yaml.Node) { g.By = p.byNode(path, v, s.Nodes) }},
	}
	if withAt {
		fs = append(fs, field{key: "at", required: true, parse: func(path string, v *yaml.Node) {
			at, ok := p.duration(path, v, false)
			if ok && s.Duration > 0 && at >= s.Duration {
				p.add(v.Line, v.Column, path, "must be before the end of the run (duration %s), got %s", s.Duration, deref(v).Value)
			}
			g.At = at
		}})
	}
	return fs
}

// checkGrant checks a parsed grant's permissions against its type.
func (p *parser) checkGrant(path string, v *yaml.Node, g *Grant, s *Scenario) {
	if len(g.Permissions) == 0 {
		g.Permissions = []string{"permit"}
	}
	m := messageNamed(s, g.Message)
	if m == nil {
		return
	}
	if slices.Contains(g.Permissions, "undo") && !m.Undo {
		p.add(v.Line, v.Column, joinPath(path, "permissions"), "undo on message %q, which has no undo: true", g.Message)
	}
	if m.Authentication == AuthNone {
		p.add(v.Line, v.Column, joinPath(path, "message"), "message %q is unsigned: permissions cannot name it", g.Message)
	}
}

// permissions parses the permissions block.
func (p *parser) permissions(path string, v *yaml.Node, s *Scenario, known []string) *Permissions {
	perm := &Permissions{}
	p.block(path, v, []field{
		{key: "founder", parse: func(path string, v *yaml.Node) {
			if n := p.byNode(path, v, s.Nodes); n != ByFounder {
				perm.Founder = n
			}
		}},
		{key: "grants", parse: func(path string, v *yaml.Node) {
			seq := p.sequence(path, v)
			if seq == nil {
				return
			}
			for i, item := range seq.Content {
				ip := indexPath(path, i)
				m := p.mapping(ip, item)
				if m == nil {
					continue
				}
				g := Grant{Line: item.Line}
				before := len(p.errs)
				p.fields(m, ip, p.entries(m, ip), p.grantFields(&g, s, known, true))
				if len(p.errs) == before {
					p.checkGrant(ip, item, &g, s)
					perm.Grants = append(perm.Grants, g)
				}
			}
		}},
	})
	return perm
}

// permissionActions are the permission keys of a workload event.
func (p *parser) permissionActions(ev *Event, s *Scenario, known []string, actions *[]string) []field {
	grant := func(key string, dst **Grant) field {
		return field{key: key, parse: func(path string, v *yaml.Node) {
			*actions = append(*actions, key)
			m := p.mapping(path, v)
			if m == nil {
				return
			}
			g := &Grant{}
			before := len(p.errs)
			p.fields(m, path, p.entries(m, path), p.grantFields(g, s, known, false))
			if len(p.errs) == before {
				p.checkGrant(path, v, g, s)
			}
			*dst = g
		}}
	}
	return []field{
		grant("authorize", &ev.Authorize),
		grant("revoke", &ev.Revoke),
		{key: "undo", parse: func(path string, v *yaml.Node) {
			*actions = append(*actions, "undo")
			u := &Undo{By: ByFounder}
			p.block(path, v, []field{
				p.messageKey(s, known, func(m *Message) string {
					if !m.Undo {
						return "has no undo: true"
					}
					return ""
				}, &u.Message),
				{key: "count", required: true, parse: func(path string, v *yaml.Node) { u.Count, _ = p.positive(path, v) }},
				{key: "by", parse: func(path string, v *yaml.Node) { u.By = p.byNode(path, v, s.Nodes) }},
			})
			ev.Undo = u
		}},
		{key: "set_policy", parse: func(path string, v *yaml.Node) {
			*actions = append(*actions, "set_policy")
			sp := &SetPolicy{By: ByFounder}
			var policyNode *yaml.Node
			p.block(path, v, []field{
				p.messageKey(s, known, func(m *Message) string {
					if m.Resolution != ResDynamic {
						return "does not have resolution dynamic"
					}
					return ""
				}, &sp.Message),
				{key: "policy", required: true, parse: func(path string, v *yaml.Node) {
					sp.Policy, _ = p.natural(path, v)
					policyNode = v
				}},
				{key: "by", parse: func(path string, v *yaml.Node) { sp.By = p.byNode(path, v, s.Nodes) }},
			})
			if m := messageNamed(s, sp.Message); m != nil && policyNode != nil && sp.Policy >= len(m.Policies) {
				p.add(policyNode.Line, policyNode.Column, joinPath(path, "policy"), "message %q has policies 0 to %d, got %d",
					sp.Message, len(m.Policies)-1, sp.Policy)
			}
			ev.SetPolicy = sp
		}},
		{key: "destroy", parse: func(path string, v *yaml.Node) {
			*actions = append(*actions, "destroy")
			d := &Destroy{By: ByFounder}
			p.block(path, v, []field{
				{key: "by", parse: func(path string, v *yaml.Node) { d.By = p.byNode(path, v, s.Nodes) }},
			})
			ev.Destroy = d
		}},
	}
}

// marshalResolution adds a message type's resolution keys to its item.
func marshalResolution(m Message, item *yaml.Node) {
	if m.Resolution != "" {
		item.Content = append(item.Content, pair("resolution", str(m.Resolution))...)
	}
	if m.Resolution == ResDynamic {
		pol := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, x := range m.Policies {
			pol.Content = append(pol.Content, str(x))
		}
		item.Content = append(item.Content, pair("policies", pol)...)
	}
	if m.Undo {
		item.Content = append(item.Content, pair("undo", plain("true"))...)
	}
}

// marshalMembers writes members as runs: "A-B" for two or more
// consecutive indexes.
func marshalMembers(ms []int) *yaml.Node {
	seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for i := 0; i < len(ms); {
		j := i
		for j+1 < len(ms) && ms[j+1] == ms[j]+1 {
			j++
		}
		if j > i {
			seq.Content = append(seq.Content, str(strconv.Itoa(ms[i])+"-"+strconv.Itoa(ms[j])))
		} else {
			seq.Content = append(seq.Content, plain(strconv.Itoa(ms[i])))
		}
		i = j + 1
	}
	return seq
}

func marshalGrant(g Grant, withAt bool) *yaml.Node {
	perms := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, x := range g.Permissions {
		perms.Content = append(perms.Content, str(x))
	}
	n := flow()
	if withAt {
		n.Content = append(n.Content, pair("at", dur(g.At))...)
	}
	n.Content = append(n.Content, pair("members", marshalMembers(g.Members))...)
	n.Content = append(n.Content, pair("message", str(g.Message))...)
	n.Content = append(n.Content, pair("permissions", perms)...)
	if g.By != ByFounder {
		n.Content = append(n.Content, pair("by", plain(strconv.Itoa(g.By)))...)
	}
	return n
}

// marshalPermissions returns the permissions block, or nil.
func marshalPermissions(s *Scenario) *yaml.Node {
	if s.Permissions == nil {
		return nil
	}
	grants := &yaml.Node{Kind: yaml.SequenceNode}
	for _, g := range s.Permissions.Grants {
		grants.Content = append(grants.Content, marshalGrant(g, true))
	}
	return block(pair("founder", plain(strconv.Itoa(s.Permissions.Founder))), pair("grants", grants))
}

// marshalPermissionEvent adds a permission event's action to its item.
func marshalPermissionEvent(e Event, item *yaml.Node) {
	by := func(n int) [][]*yaml.Node {
		if n == ByFounder {
			return nil
		}
		return [][]*yaml.Node{pair("by", plain(strconv.Itoa(n)))}
	}
	switch {
	case e.Authorize != nil:
		item.Content = append(item.Content, pair("authorize", marshalGrant(*e.Authorize, false))...)
	case e.Revoke != nil:
		item.Content = append(item.Content, pair("revoke", marshalGrant(*e.Revoke, false))...)
	case e.Undo != nil:
		item.Content = append(item.Content, pair("undo", flow(append([][]*yaml.Node{pair("message", str(e.Undo.Message)),
			pair("count", plain(strconv.Itoa(e.Undo.Count)))}, by(e.Undo.By)...)...))...)
	case e.SetPolicy != nil:
		item.Content = append(item.Content, pair("set_policy", flow(append([][]*yaml.Node{pair("message", str(e.SetPolicy.Message)),
			pair("policy", plain(strconv.Itoa(e.SetPolicy.Policy)))}, by(e.SetPolicy.By)...)...))...)
	case e.Destroy != nil:
		item.Content = append(item.Content, pair("destroy", flow(by(e.Destroy.By)...))...)
	}
}
