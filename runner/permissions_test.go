package runner

import (
	"encoding/json"
	"testing"
)

// permScenario is a small community with permissions: members granted at
// the start publish a linear type, some are revoked, the founder undoes
// messages, a moderator's undo permission is revoked, a dynamic type
// switches to linear and back.
const permScenario = `name: perm
duration: 4m
nodes: 60
crypto: fast
` + walkerMix + `
community:
  messages:
    - {name: text, undo: true, distribution: {kind: full-sync}}
    - {name: protected, resolution: linear, undo: true, distribution: {kind: full-sync}}
    - {name: dyn, resolution: dynamic, policies: [public, linear], undo: true, distribution: {kind: full-sync}}
permissions:
  founder: 0
  grants:
    - {at: 1s, members: 1-20, message: protected}
    - {at: 1s, members: [30], message: text, permissions: [undo]}
workload:
  - {at: 40s, publish: {message: protected, count: 30, from: members, rate: 2/s}}
  - {at: 40s, publish: {message: text, count: 30, rate: 2/s}}
  - {at: 45s, publish: {message: dyn, count: 20, rate: 1/s}}
  - {at: 50s, set_policy: {message: dyn, policy: 1}}
  - {at: 60s, revoke: {members: 1-5, message: protected}}
  - {at: 62s, publish: {message: protected, count: 20, from: members, rate: 4/s}}
  - {at: 70s, undo: {message: protected, count: 3}}
  - {at: 75s, undo: {message: text, count: 4, by: 30}}
  - {at: 80s, revoke: {members: 30, message: text, permissions: [undo]}}
  - {at: 90s, set_policy: {message: dyn, policy: 0}}
  - {at: 100s, authorize: {members: 40-44, message: protected}}
  - {at: 150s, publish: {message: protected, count: 10, from: 41}}
`

// TestPermissionsScenario: every action reaches every peer, and every
// peer ends with the same verdicts.
func TestPermissionsScenario(t *testing.T) {
	sum := mustRun(t, parse(t, "perm", permScenario), Options{})
	ps := sum.Permissions
	if ps == nil {
		t.Fatal("no permissions block in the summary")
	}
	kinds := map[string]int{}
	for _, a := range ps.Actions {
		kinds[a.Kind]++
		if a.Messages == 0 {
			t.Errorf("%s at %vs (line %d) made no message (refused %d)", a.Kind, a.AtSeconds, a.Line, a.Refused)
			continue
		}
		// publishes of linear and dynamic types can be refused by later
		// revokes and policy switches: only the others must reach all
		if a.Kind == "publish" && a.Line != 24 {
			continue
		}
		if a.AppliedFraction != 1 || a.Applied.T100 == nil {
			t.Errorf("%s at %vs: applied by %.3f of the peers", a.Kind, a.AtSeconds, a.AppliedFraction)
		}
	}
	for k, n := range map[string]int{"grant": 2, "publish": 5, "set_policy": 2, "revoke": 2, "undo": 2, "authorize": 1} {
		if kinds[k] != n {
			t.Errorf("%d %s actions, want %d", kinds[k], k, n)
		}
	}
	if ps.Verdicts.DistinctHashes != 1 || ps.Verdicts.PerNode != "0x60" {
		t.Fatalf("verdict hashes: %d distinct, per node %s: %v", ps.Verdicts.DistinctHashes, ps.Verdicts.PerNode, ps.Verdicts.Hashes)
	}
	if ps.Verdicts.AtFounder["undone"] == 0 || ps.Verdicts.AtFounder["in-force"] == 0 {
		t.Fatalf("verdicts at the founder: %v", ps.Verdicts.AtFounder)
	}
	t.Logf("founder verdicts %v, drops %v", ps.Verdicts.AtFounder, sum.NodeDrops)
}

// TestDestroyScenario: a destroy reaches every peer.
func TestDestroyScenario(t *testing.T) {
	s := parse(t, "destroy", "name: destroy\nduration: 2m\nnodes: 50\ncrypto: fast\n"+walkerMix+
		"workload:\n  - {at: 20s, publish: {message: text, count: 10, rate: 5/s}}\n  - {at: 60s, destroy: {}}\n")
	sum := mustRun(t, s, Options{})
	ps := sum.Permissions
	if ps == nil || ps.Destroyed != 50 {
		t.Fatalf("destroyed peers: %+v", ps)
	}
	last := ps.Actions[len(ps.Actions)-1]
	if last.Kind != "destroy" || last.AppliedFraction != 1 {
		t.Fatalf("destroy action: %+v", last)
	}
	if ps.Verdicts.DistinctHashes != 1 {
		t.Fatalf("after the destroy, %d distinct verdict hashes", ps.Verdicts.DistinctHashes)
	}
}

// TestPermissionsDeterminism: a scenario with permissions gives one trace
// hash and one permissions summary for one seed.
func TestPermissionsDeterminism(t *testing.T) {
	s := parse(t, "perm", permScenario)
	a, b := mustRun(t, s, Options{}), mustRun(t, s, Options{})
	ja, _ := json.Marshal(a.Permissions)
	jb, _ := json.Marshal(b.Permissions)
	if a.TraceHash != b.TraceHash || string(ja) != string(jb) {
		t.Fatalf("two runs differ: trace %s / %s, permissions equal %v", a.TraceHash, b.TraceHash, string(ja) == string(jb))
	}
}
