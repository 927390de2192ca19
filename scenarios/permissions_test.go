package scenarios

import (
	"reflect"
	"testing"
	"time"
)

const permissionsScenario = `name: perm
duration: 10m
nodes: 300
community:
  messages:
    - {name: text, undo: true, distribution: {kind: full-sync}}
    - {name: protected, resolution: linear, undo: true, distribution: {kind: full-sync}}
    - {name: dyn, resolution: dynamic, policies: [public, linear], undo: true, distribution: {kind: full-sync}}
    - {name: open, resolution: public, distribution: {kind: last-sync, history_size: 2}}
permissions:
  founder: 3
  grants:
    - {at: 0s, members: 1-100, message: protected}
    - {at: 5s, members: [200, "210-212", 205, 211], message: text, permissions: [undo, authorize, undo], by: 1}
workload:
  - {at: 30s, publish: {message: protected, count: 20, from: members}}
  - {at: 60s, authorize: {members: 101-150, message: protected, permissions: [permit, undo]}}
  - {at: 90s, revoke: {members: 7, message: protected, permissions: [permit], by: 2}}
  - {at: 100s, undo: {message: text, count: 5}}
  - {at: 110s, undo: {message: protected, count: 1, by: 200}}
  - {at: 120s, set_policy: {message: dyn, policy: 1}}
  - {at: 9m, destroy: {}}
`

// TestParsePermissions checks the values of the permission keys.
func TestParsePermissions(t *testing.T) {
	s, err := Parse("perm.yaml", []byte(permissionsScenario))
	if err != nil {
		t.Fatal(err)
	}
	ms := s.Community.Messages
	if ms[0].Resolution != "" || !ms[0].Undo || ms[1].Resolution != ResLinear ||
		ms[2].Resolution != ResDynamic || !reflect.DeepEqual(ms[2].Policies, []string{ResPublic, ResLinear}) ||
		ms[3].Resolution != "" || ms[3].Undo {
		t.Fatalf("messages %+v", ms)
	}
	if !s.Permissioned() || s.FounderIndex() != 3 {
		t.Fatalf("permissioned %v, founder %d", s.Permissioned(), s.FounderIndex())
	}
	g := s.Permissions.Grants
	if len(g) != 2 || len(g[0].Members) != 100 || g[0].Members[0] != 1 || g[0].By != ByFounder ||
		!reflect.DeepEqual(g[0].Permissions, []string{"permit"}) {
		t.Fatalf("grant 0: %+v", g[0])
	}
	if !reflect.DeepEqual(g[1].Members, []int{200, 210, 211, 212, 205}) || g[1].At != 5*time.Second || g[1].By != 1 ||
		!reflect.DeepEqual(g[1].Permissions, []string{"undo", "authorize"}) {
		t.Fatalf("grant 1: %+v", g[1])
	}
	w := s.Workload
	switch {
	case w[0].Publish.From != FromMembers:
		t.Fatalf("publish from %d, want members", w[0].Publish.From)
	case w[1].Authorize == nil || len(w[1].Authorize.Members) != 50:
		t.Fatalf("authorize %+v", w[1].Authorize)
	case w[2].Revoke == nil || w[2].Revoke.By != 2 || !reflect.DeepEqual(w[2].Revoke.Members, []int{7}):
		t.Fatalf("revoke %+v", w[2].Revoke)
	case w[3].Undo == nil || *w[3].Undo != (Undo{Message: "text", Count: 5, By: ByFounder}):
		t.Fatalf("undo %+v", w[3].Undo)
	case w[4].Undo.By != 200:
		t.Fatalf("undo by %d", w[4].Undo.By)
	case w[5].SetPolicy == nil || *w[5].SetPolicy != (SetPolicy{Message: "dyn", Policy: 1, By: ByFounder}):
		t.Fatalf("set_policy %+v", w[5].SetPolicy)
	case w[6].Destroy == nil || w[6].Destroy.By != ByFounder:
		t.Fatalf("destroy %+v", w[6].Destroy)
	}
	// a workload permission event alone founds the community, at node 0
	s2, err := Parse("p2.yaml", []byte("name: p2\nduration: 1m\nnodes: 5\nworkload:\n  - {at: 1s, destroy: {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !s2.Permissioned() || s2.FounderIndex() != 0 || s2.Permissions != nil {
		t.Fatal("a destroy event does not found the community at node 0")
	}
	plain, _ := Parse("p3.yaml", []byte("name: p3\nduration: 1m\nnodes: 5\n"))
	if plain.Permissioned() {
		t.Fatal("a scenario without permissions is permissioned")
	}
}
