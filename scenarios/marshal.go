package scenarios

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dispersy-go/dispersy/natmodels"
)

// Marshal returns s as a scenario file with every default spelled out (the
// community block always, the workload block when there are events), e.g.
// to record the effective scenario next to a run's results. For a Scenario
// that Parse returned, Parse of the output gives back an equal Scenario
// (File, Message.Line, Event.Line and the positions of override values
// aside).
func (s *Scenario) Marshal() ([]byte, error) {
	nat := block(pair("mix", marshalMix(s.NAT.Mix)))
	if s.NAT.MappingTimeout != 0 {
		nat.Content = append(nat.Content, pair("mapping_timeout", dur(s.NAT.MappingTimeout))...)
	}
	root := block(
		pair("name", str(s.Name)),
		pair("seed", plain(strconv.FormatUint(s.Seed, 10))),
		pair("duration", dur(s.Duration)),
		pair("nodes", plain(strconv.Itoa(s.Nodes))),
		pair("trackers", plain(strconv.Itoa(s.Trackers))),
		pair("network", block(pair("latency", marshalLatency(s.Network.Latency)), pair("loss", num(s.Network.Loss)))),
		pair("nat", nat),
		pair("crypto", str(s.Crypto)),
	)
	if len(s.Protocol) > 0 {
		proto := flow()
		for _, o := range s.Protocol {
			v := plain("")
			if o.Value != nil {
				c := *o.Value
				c.Line, c.Column, c.HeadComment, c.LineComment, c.FootComment = 0, 0, "", "", ""
				v = &c
			}
			proto.Content = append(proto.Content, pair(o.Key, v)...)
		}
		root.Content = append(root.Content, pair("protocol", proto)...)
	}
	messages := &yaml.Node{Kind: yaml.SequenceNode}
	for _, m := range s.Community.Messages {
		messages.Content = append(messages.Content, marshalMessage(m))
	}
	root.Content = append(root.Content, pair("community", block(pair("messages", messages)))...)
	if perm := marshalPermissions(s); perm != nil {
		root.Content = append(root.Content, pair("permissions", perm)...)
	}
	for _, list := range []struct {
		key    string
		events []Event
	}{{"workload", s.Workload}, {"timeline", s.Timeline}} {
		if len(list.events) > 0 {
			seq := &yaml.Node{Kind: yaml.SequenceNode}
			for _, e := range list.events {
				seq.Content = append(seq.Content, marshalEvent(e))
			}
			root.Content = append(root.Content, pair(list.key, seq)...)
		}
	}
	if c := s.Churn; c != nil {
		root.Content = append(root.Content, pair("churn", marshalChurn(c))...)
	}
	root.Content = append(root.Content, pair("metrics", block(pair("interval", dur(s.Metrics.Interval))))...)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("marshal scenario %s: %w", s.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal scenario %s: %w", s.Name, err)
	}
	return buf.Bytes(), nil
}

// marshalMessage returns the list item of message type m.
func marshalMessage(m Message) *yaml.Node {
	d := m.Distribution
	dist := flow(pair("kind", str(d.Kind)))
	switch d.Kind {
	case KindFullSync:
		dist.Content = append(dist.Content, pair("sequence_numbers", plain(strconv.FormatBool(d.SequenceNumbers)))...)
	case KindLastSync:
		dist.Content = append(dist.Content, pair("history_size", plain(strconv.Itoa(d.HistorySize)))...)
	}
	if d.Kind == KindFullSync || d.Kind == KindLastSync {
		dist.Content = append(dist.Content, pair("priority", plain(strconv.Itoa(d.Priority)))...)
		dist.Content = append(dist.Content, pair("direction", str(d.Direction))...)
		if d.Pruning != nil {
			dist.Content = append(dist.Content, pair("pruning", flow(
				pair("inactive", plain(strconv.FormatUint(d.Pruning.Inactive, 10))),
				pair("pruned", plain(strconv.FormatUint(d.Pruning.Pruned, 10))),
			))...)
		}
	}
	dest := flow(pair("kind", str(m.Destination.Kind)))
	if m.Destination.Kind == DestCommunity {
		dest.Content = append(dest.Content, pair("node_count", plain(strconv.Itoa(m.Destination.NodeCount)))...)
	}
	item := block(
		pair("name", str(m.Name)),
		pair("authentication", str(m.Authentication)),
		pair("distribution", dist),
		pair("destination", dest),
	)
	marshalResolution(m, item)
	return item
}

// marshalLatency returns a latency block.
func marshalLatency(lat Latency) *yaml.Node {
	latency := flow(pair("distribution", str(lat.Distribution)))
	switch lat.Distribution {
	case DistConstant:
		latency.Content = append(latency.Content, pair("value", dur(lat.Value))...)
	case DistUniform:
		latency.Content = append(latency.Content, pair("min", dur(lat.Min))...)
		latency.Content = append(latency.Content, pair("max", dur(lat.Max))...)
	case DistLognormal:
		latency.Content = append(latency.Content, pair("median", dur(lat.Median))...)
		latency.Content = append(latency.Content, pair("sigma", num(lat.Sigma))...)
	}
	return latency
}

// marshalMix returns a NAT mix.
func marshalMix(shares []natmodels.Share) *yaml.Node {
	mix := flow()
	for _, sh := range shares {
		mix.Content = append(mix.Content, pair(sh.Profile, num(sh.Fraction))...)
	}
	return mix
}

// marshalChurn returns the churn block.
func marshalChurn(c *Churn) *yaml.Node {
	m := block()
	if c.Trace != nil {
		m.Content = append(m.Content, pair("trace", str(c.Trace.Path))...)
	} else {
		m.Content = append(m.Content, pair("session", marshalDist(*c.Session))...)
		m.Content = append(m.Content, pair("downtime", marshalDist(*c.Downtime))...)
	}
	m.Content = append(m.Content, pair("start", dur(c.Start))...)
	m.Content = append(m.Content, pair("fraction", num(c.Fraction))...)
	m.Content = append(m.Content, pair("keep_store", plain(strconv.FormatBool(c.KeepStore)))...)
	return m
}

// marshalDist returns a churn distribution.
func marshalDist(d Dist) *yaml.Node {
	m := flow(pair("distribution", str(d.Distribution)))
	switch d.Distribution {
	case DistExponential:
		m.Content = append(m.Content, pair("mean", dur(d.Mean))...)
	case DistWeibull, DistPareto:
		m.Content = append(m.Content, pair("shape", num(d.Shape))...)
		m.Content = append(m.Content, pair("scale", dur(d.Scale))...)
	case DistLognormal:
		m.Content = append(m.Content, pair("median", dur(d.Median))...)
		m.Content = append(m.Content, pair("sigma", num(d.Sigma))...)
	case DistConstant:
		m.Content = append(m.Content, pair("value", dur(d.Value))...)
	}
	return m
}

// marshalEvent returns the list item of workload or timeline event e.
func marshalEvent(e Event) *yaml.Node {
	item := block(pair("at", dur(e.At)))
	switch {
	case e.Partition != nil:
		groups := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, g := range e.Partition.Groups {
			groups.Content = append(groups.Content, num(g))
		}
		item.Content = append(item.Content, pair("partition", flow(pair("groups", groups)))...)
	case e.Heal != nil:
		item.Content = append(item.Content, pair("heal", flow())...)
	case e.Crash != nil:
		c := e.Crash
		crash := flow()
		if c.Count > 0 {
			crash.Content = append(crash.Content, pair("count", plain(strconv.Itoa(c.Count)))...)
		} else {
			crash.Content = append(crash.Content, pair("fraction", num(c.Fraction))...)
		}
		if c.For > 0 {
			crash.Content = append(crash.Content, pair("for", dur(c.For))...)
		}
		item.Content = append(item.Content, pair("crash", crash)...)
	case e.Join != nil:
		j := e.Join
		join := flow(pair("nodes", plain(strconv.Itoa(j.Nodes))), pair("over", dur(j.Over)))
		if j.Mix != nil {
			join.Content = append(join.Content, pair("mix", marshalMix(j.Mix))...)
		}
		item.Content = append(item.Content, pair("join", join)...)
	case e.Set != nil:
		set := flow()
		if e.Set.Loss != nil {
			set.Content = append(set.Content, pair("loss", num(*e.Set.Loss))...)
		}
		if e.Set.Latency != nil {
			set.Content = append(set.Content, pair("latency", marshalLatency(*e.Set.Latency))...)
		}
		item.Content = append(item.Content, pair("set", set)...)
	}
	if pub := e.Publish; pub != nil {
		from := str("random")
		switch pub.From {
		case FromRandom:
		case FromMembers:
			from = str("members")
		default:
			from = plain(strconv.Itoa(pub.From))
		}
		item.Content = append(item.Content, pair("publish", flow(
			pair("message", str(pub.Message)),
			pair("count", plain(strconv.Itoa(pub.Count))),
			pair("from", from),
			pair("rate", num(pub.Rate)),
			pair("size", plain(strconv.Itoa(pub.Size))),
		))...)
	}
	marshalPermissionEvent(e, item)
	return item
}

// pair returns a key node and its value, to append to a mapping's Content.
func pair(key string, v *yaml.Node) []*yaml.Node {
	return []*yaml.Node{str(key), v}
}

// block returns a block-style mapping of the given pairs.
func block(pairs ...[]*yaml.Node) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, p := range pairs {
		m.Content = append(m.Content, p...)
	}
	return m
}

// flow returns a flow-style ({a: 1, b: 2}) mapping of the given pairs.
func flow(pairs ...[]*yaml.Node) *yaml.Node {
	m := block(pairs...)
	m.Style = yaml.FlowStyle
	return m
}

// str returns a string scalar, quoted on output if it would read as
// something else.
func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tagStr, Value: s}
}

// plain returns a scalar whose type YAML resolves from its text.
func plain(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: s}
}

// dur returns a duration scalar in Go syntax.
func dur(d time.Duration) *yaml.Node {
	return str(d.String())
}

// num returns a number scalar that parses back to exactly f.
func num(f float64) *yaml.Node {
	return plain(strconv.FormatFloat(f, 'g', -1, 64))
}
