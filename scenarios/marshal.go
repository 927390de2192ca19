package scenarios

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// Marshal returns s as a scenario file with every default spelled out (the
// community block always, the workload block when there are events), e.g.
// to record the effective scenario next to a run's results. For a Scenario
// that Parse returned, Parse of the output gives back an equal Scenario
// (File, Message.Line, Event.Line and the positions of override values
// aside).
func (s *Scenario) Marshal() ([]byte, error) {
	lat := s.Network.Latency
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
	mix := flow()
	for _, sh := range s.NAT.Mix {
		mix.Content = append(mix.Content, pair(sh.Profile, num(sh.Fraction))...)
	}
	nat := block(pair("mix", mix))
	if s.NAT.MappingTimeout != 0 {
		nat.Content = append(nat.Content, pair("mapping_timeout", dur(s.NAT.MappingTimeout))...)
	}
	root := block(
		pair("name", str(s.Name)),
		pair("seed", plain(strconv.FormatUint(s.Seed, 10))),
		pair("duration", dur(s.Duration)),
		pair("nodes", plain(strconv.Itoa(s.Nodes))),
		pair("trackers", plain(strconv.Itoa(s.Trackers))),
		pair("network", block(pair("latency", latency), pair("loss", num(s.Network.Loss)))),
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
	if len(s.Workload) > 0 {
		workload := &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range s.Workload {
			workload.Content = append(workload.Content, marshalEvent(e))
		}
		root.Content = append(root.Content, pair("workload", workload)...)
	}
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

// marshalEvent returns the list item of workload event e.
func marshalEvent(e Event) *yaml.Node {
	item := block(pair("at", dur(e.At)))
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
