package emul

import (
	"errors"
	"fmt"
	"reflect"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/dispersy-go/dispersy/natmodels"
	"github.com/dispersy-go/dispersy/protocol"
	"github.com/dispersy-go/dispersy/realnet"
	"github.com/dispersy-go/dispersy/scenarios"
)

// supportedKeys are the scenario keys the netns backend honours. Check
// reads the keys from the scenario's own Marshal output, so a key that a
// later version of the language adds (churn, say) is refused by name until
// this backend learns it, instead of being silently ignored.
var supportedKeys = []string{"name", "seed", "duration", "nodes", "trackers", "network", "nat", "crypto", "protocol", "community", "workload"}

// Check reports every key of s that the netns backend cannot honour, each
// error naming the file and the key, before anything is created. A nil
// error means Run can emulate s as the simulator would run it.
func Check(s *scenarios.Scenario) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s (the netns backend)", s.File, key, fmt.Sprintf(format, args...)))
	}
	if doc, err := s.Marshal(); err == nil {
		var m yaml.Node
		if yaml.Unmarshal(doc, &m) == nil && len(m.Content) == 1 && m.Content[0].Kind == yaml.MappingNode {
			root := m.Content[0]
			for i := 0; i+1 < len(root.Content); i += 2 {
				k := root.Content[i].Value
				if k == "metrics" && s.Metrics.Interval == scenarios.DefaultMetricsInterval {
					continue // every scenario has it; the time series are the simulator's
				}
				if !slices.Contains(supportedKeys, k) {
					bad(k, "not supported: the emulation runs the scenario's peers as they are, from start to end")
				}
			}
		}
	}
	if s.Crypto != scenarios.CryptoEd25519 {
		bad("crypto", "%q: the real peers sign with ed25519 only", s.Crypto)
	}
	if n := s.Nodes + s.Trackers; n > MaxAttachments {
		bad("nodes", "%d peers and %d trackers: one Internet bridge holds at most %d ports (one per host or NAT router)", s.Nodes, s.Trackers, MaxAttachments)
	}
	for _, sh := range s.NAT.Mix {
		p, ok := natmodels.LookupProfile(sh.Profile)
		if !ok {
			bad("nat.mix."+sh.Profile, "unknown profile")
			continue
		}
		if s.NAT.MappingTimeout > 0 {
			p = p.WithTimeout(s.NAT.MappingTimeout)
		}
		if _, err := kernelNATFor(p); err != nil {
			bad("nat.mix."+sh.Profile, "the kernel cannot express it: %v", err)
		}
	}
	cfg := protocol.DefaultConfig()
	if err := s.ApplyOverrides(&cfg); err != nil {
		errs = append(errs, err)
	} else if err := cfg.Validate(); err != nil {
		bad("protocol", "%v", err)
	}
	if !sameCommunity(s.Community, scenarios.DefaultCommunity()) {
		bad("community", "the peer daemon serves the default community only (one full-sync message %q)", scenarios.DefaultMessage)
	}
	for i, ev := range s.Workload {
		if ev.Publish == nil {
			continue
		}
		if ev.Publish.Size > realnet.MaxPayload {
			bad(fmt.Sprintf("workload[%d].publish.size", i), "%d bytes, a peer publishes at most %d", ev.Publish.Size, realnet.MaxPayload)
		}
	}
	return errors.Join(errs...)
}

// sameCommunity compares two communities' message types, ignoring lines.
func sameCommunity(a, b scenarios.Community) bool {
	if len(a.Messages) != len(b.Messages) {
		return false
	}
	for i := range a.Messages {
		x, y := a.Messages[i], b.Messages[i]
		x.Line, y.Line = 0, 0
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}
